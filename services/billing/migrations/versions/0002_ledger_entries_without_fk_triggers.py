"""Metering's write path: ledger_entries without foreign-key triggers or a transaction index;
generation_outcomes' time index is BRIN

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:20:00

A foreign key costs a trigger call per inserted row: with two per entry and two entries per
settled generation they were a third of metering's settle statement (10.5 µs a call under
EXPLAIN ANALYZE). Entries are only ever written by the ledger, in the statement that also writes
their transaction and locks their accounts; reconciliation now reports an entry whose account or
transaction is missing as drift. Nothing looks entries up by transaction (the statement reads
by account, reconciliation scans), so that index goes too; and generation_outcomes, appended in
time order and read by time range, gets a BRIN index, which costs next to nothing per insert.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_REFERENCES = [
    ("ledger_entries_account_id_fkey", "accounts", "account_id"),
    ("ledger_entries_transaction_id_fkey", "ledger_transactions", "transaction_id"),
]


def upgrade() -> None:
    op.drop_index("ix_generation_outcomes_recorded_at", table_name="generation_outcomes")
    op.create_index(
        "ix_generation_outcomes_recorded_at", "generation_outcomes", ["recorded_at"], postgresql_using="brin"
    )
    for name, _, _ in _REFERENCES:
        op.drop_constraint(name, "ledger_entries", type_="foreignkey")
    op.drop_index("ix_ledger_entries_transaction_id", table_name="ledger_entries")


def downgrade() -> None:
    op.drop_index("ix_generation_outcomes_recorded_at", table_name="generation_outcomes")
    op.create_index("ix_generation_outcomes_recorded_at", "generation_outcomes", ["recorded_at"])
    op.create_index("ix_ledger_entries_transaction_id", "ledger_entries", ["transaction_id"])
    for name, table, column in _REFERENCES:
        op.create_foreign_key(name, "ledger_entries", table, [column], ["id"])
