"""generations.trace_context: the W3C trace context of the CreateGeneration
call, so the worker continues its trace (one trace per generation)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("generations", "trace_context")
