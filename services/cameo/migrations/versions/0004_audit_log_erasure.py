"""the audit log stays append-only, except that an account deletion may replace a person's ids
(and blank the details) in the rows that name them, inside a transaction that says so
(SET LOCAL kinora.erasure = 'on'): what happened, when and at which revision is kept

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 22:10:00
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND current_setting('kinora.erasure', true) = 'on'
                   AND NEW.id = OLD.id AND NEW.cameo_id = OLD.cameo_id AND NEW.action = OLD.action
                   AND NEW.revision = OLD.revision AND NEW.created_at = OLD.created_at THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'the cameo audit log is append-only';
            END $$""")


def downgrade() -> None:
    op.execute("""
            CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the cameo audit log is append-only';
            END $$""")
