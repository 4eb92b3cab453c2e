"""generations.stitch_of, crossfade_seconds: a stitch's sources (JSON list of
generation ids, in order) and its crossfade at each join

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("stitch_of", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("generations", sa.Column("crossfade_seconds", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("generations", "crossfade_seconds")
    op.drop_column("generations", "stitch_of")
