"""account deletion: credentials ended with a deleted account (for the deny list) and retired handles

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ended_credentials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_ended_credentials_ended_at"), "ended_credentials", ["ended_at"], unique=False)
    op.create_table(
        "retired_handles",
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handle_hash"),
    )
    op.create_index(op.f("ix_api_keys_revoked_at"), "api_keys", ["revoked_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_keys_revoked_at"), table_name="api_keys")
    op.drop_table("retired_handles")
    op.drop_index(op.f("ix_ended_credentials_ended_at"), table_name="ended_credentials")
    op.drop_table("ended_credentials")
