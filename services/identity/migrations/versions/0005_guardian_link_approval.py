"""guardian links: approver (a teen's new link awaits the current or previous guardian) and the
reason support gave for unlinking

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("guardian_links", sa.Column("unlink_reason", sa.String(length=500), nullable=True))
    op.add_column("guardian_links", sa.Column("approver_user_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    op.drop_column("guardian_links", "approver_user_id")
    op.drop_column("guardian_links", "unlink_reason")
