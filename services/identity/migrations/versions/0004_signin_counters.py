"""sign-in failures become one atomic counter per subject (address, or handle and address)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The rows are a short window of failed attempts: nothing worth converting.
    op.drop_index("ix_signin_failures_subject_time", table_name="signin_failures")
    op.drop_index("ix_signin_failures_failed_at", table_name="signin_failures")
    op.drop_table("signin_failures")
    op.create_table(
        "signin_failures",
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject"),
    )
    op.create_index("ix_signin_failures_last_attempt", "signin_failures", ["last_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_signin_failures_last_attempt", table_name="signin_failures")
    op.drop_table("signin_failures")
    op.create_table(
        "signin_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_failures_failed_at", "signin_failures", ["failed_at"], unique=False)
    op.create_index("ix_signin_failures_subject_time", "signin_failures", ["subject", "failed_at"], unique=False)
