"""Takedown requests from anyone (issue 19 part 2): clip fingerprints, the request queue,
its audit trail and the blocklist of taken-down frames

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fingerprints",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("generation_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_fingerprints_generation", "fingerprints", ["generation_id", "kind"])
    op.create_table(
        "blocked_hashes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.Column("generation_id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "takedown_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contact", sa.String(320), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("generation_id", sa.String(40), nullable=False, server_default=""),
        sa.Column("link", sa.Text(), nullable=False, server_default=""),
        sa.Column("file_sha256", sa.String(64), nullable=False, server_default=""),
        sa.Column("file_kind", sa.String(8), nullable=False, server_default=""),
        sa.Column("probe_hashes", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("watermark_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=False, server_default=""),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("targets", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("removal_seconds", sa.Float(), nullable=True),
    )
    op.create_index("ix_takedown_requests_status_created", "takedown_requests", ["status", "created_at"])
    op.create_table(
        "takedown_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("request_id", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_takedown_audit_request", "takedown_audit", ["request_id", "at"])


def downgrade() -> None:
    for name in ("takedown_audit", "takedown_requests", "blocked_hashes", "fingerprints"):
        op.drop_table(name)
