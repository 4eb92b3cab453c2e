"""generations.hold_expires_at: when billing's hold on a job lapses unless renewed

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True))
    # The expiry of holds made before is unknown here: due now, so the next sweep renews
    # them (or finds them gone and fails the job uncharged).
    op.execute(
        "UPDATE generations SET hold_expires_at = created_at "
        "WHERE status IN ('queued', 'in_progress') AND billing_state = 'held'"
    )


def downgrade() -> None:
    op.drop_column("generations", "hold_expires_at")
