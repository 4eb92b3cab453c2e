"""served(user_id, viewed_at) indexes viewed rows only

The index serves one question, a viewer's recent views (viewed_at IS NOT NULL), so rows served
and not viewed (most of them, and every row as GetFeed inserts it) stay out of it. Left whole, it
was also a way for the served check of GetFeed's candidate statement to read a viewer's whole
history per candidate, which a generic plan made while `served` was empty took.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 02:15:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_served_user_viewed", table_name="served")
    op.create_index(
        "ix_served_user_viewed",
        "served",
        ["user_id", "viewed_at"],
        unique=False,
        postgresql_where="viewed_at IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_served_user_viewed", table_name="served")
    op.create_index("ix_served_user_viewed", "served", ["user_id", "viewed_at"], unique=False)
