"""generations.shots, edit_of, model_seconds: a storyboard's shots (JSON list of
{prompt, seconds, camera, start, image_key}), an edit's source generation, and the
length the model makes and the price counts when it differs from the clip's
(an extension: its new part; 0 means `seconds`)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("shots", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("generations", sa.Column("edit_of", sa.String(40), nullable=False, server_default=""))
    op.add_column("generations", sa.Column("model_seconds", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("generations", "model_seconds")
    op.drop_column("generations", "edit_of")
    op.drop_column("generations", "shots")
