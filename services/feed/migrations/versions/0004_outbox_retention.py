"""outbox keeps published rows for a retention window; outbox_acks (what the broker acknowledged)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 19:40:00
"""

from alembic import op

from kinora.runtime.events import migrate_outbox_retention, unmigrate_outbox_retention

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrate_outbox_retention(op)


def downgrade() -> None:
    unmigrate_outbox_retention(op)
