"""index sessions.revoked_at: verifiers read the recently ended sessions every 30 s

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 11:00:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_sessions_revoked_at"), "sessions", ["revoked_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_revoked_at"), table_name="sessions")
