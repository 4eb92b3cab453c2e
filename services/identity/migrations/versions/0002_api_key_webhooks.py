"""api_keys carry their webhook endpoint (url, signing secret, when it was set)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 18:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("webhook_url", sa.String(length=2048), nullable=True))
    op.add_column("api_keys", sa.Column("webhook_secret", sa.String(length=64), nullable=True))
    op.add_column("api_keys", sa.Column("webhook_updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("api_keys", "webhook_updated_at")
    op.drop_column("api_keys", "webhook_secret")
    op.drop_column("api_keys", "webhook_url")
