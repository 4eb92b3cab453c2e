"""The embedded billing (LocalAllowanceBilling) goes: the generator always
reserves, captures and releases through the billing service, so its allowance
tables are dropped. Downgrade recreates them empty.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_local_billing_user_day", table_name="local_billing_reservations")
    op.drop_table("local_billing_reservations")
    op.drop_table("local_billing_plans")


def downgrade() -> None:
    op.create_table(
        "local_billing_plans",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "local_billing_reservations",
        sa.Column("generation_id", sa.String(length=40), nullable=False),
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("capture_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("generation_id"),
        sa.UniqueConstraint("reservation_id"),
    )
    op.create_index("ix_local_billing_user_day", "local_billing_reservations", ["user_id", "day"], unique=False)
