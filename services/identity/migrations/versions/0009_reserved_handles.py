"""reserved handles: the handles cameo's characters hold (one namespace with people's)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:54:25.802647
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reserved_handles",
        sa.Column("handle", sa.String(length=30), nullable=False),
        sa.Column("cameo_id", sa.String(length=36), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handle"),
        sa.UniqueConstraint("cameo_id"),
    )


def downgrade() -> None:
    op.drop_table("reserved_handles")
