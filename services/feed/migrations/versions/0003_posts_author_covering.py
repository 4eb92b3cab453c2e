"""posts(author_user_id, created_at) covers id, state and visibility

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:45:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_posts_author_created", table_name="posts")
    op.create_index(
        "ix_posts_author_created",
        "posts",
        ["author_user_id", "created_at"],
        unique=False,
        postgresql_include=["id", "state", "visibility"],
    )


def downgrade() -> None:
    op.drop_index("ix_posts_author_created", table_name="posts")
    op.create_index("ix_posts_author_created", "posts", ["author_user_id", "created_at"], unique=False)
