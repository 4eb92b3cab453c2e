"""generations.watermark_id: the invisible watermark's payload, unique (its index serves lookups)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: clips made before the mark carry none. PostgreSQL's unique index
    # allows many NULLs and is the lookup index for FindByWatermark.
    op.add_column("generations", sa.Column("watermark_id", sa.BigInteger(), nullable=True))
    op.create_unique_constraint("uq_generations_watermark_id", "generations", ["watermark_id"])


def downgrade() -> None:
    op.drop_constraint("uq_generations_watermark_id", "generations", type_="unique")
    op.drop_column("generations", "watermark_id")
