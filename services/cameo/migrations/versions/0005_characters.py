"""characters: a cameo has a kind (person | character); a character has its own
handle, a description and reference images, and a user may own several

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cameos", sa.Column("kind", sa.Integer(), server_default="1", nullable=False))
    op.add_column("cameos", sa.Column("handle", sa.String(length=64), nullable=True))
    op.add_column("cameos", sa.Column("description", sa.String(length=500), server_default="", nullable=False))
    # One person cameo per user still; characters are not limited by the constraint.
    op.drop_constraint("cameos_owner_user_id_key", "cameos", type_="unique")
    op.create_index(
        "uq_cameos_person_owner", "cameos", ["owner_user_id"], unique=True, postgresql_where=sa.text("kind = 1")
    )
    op.create_index("uq_cameos_handle", "cameos", ["handle"], unique=True)
    op.create_index("ix_cameos_owner_kind", "cameos", ["owner_user_id", "kind"], unique=False)
    op.create_table(
        "character_images",
        sa.Column("cameo_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["cameo_id"],
            ["cameos.id"],
        ),
        sa.PrimaryKeyConstraint("cameo_id", "position"),
    )


def downgrade() -> None:
    op.drop_table("character_images")
    # Fails while a user owns characters (the constraint below): delete them first.
    op.drop_index("ix_cameos_owner_kind", table_name="cameos")
    op.drop_index("uq_cameos_handle", table_name="cameos")
    op.drop_index("uq_cameos_person_owner", table_name="cameos")
    op.create_unique_constraint("cameos_owner_user_id_key", "cameos", ["owner_user_id"])
    op.drop_column("cameos", "description")
    op.drop_column("cameos", "handle")
    op.drop_column("cameos", "kind")
