"""Small SQL helpers (PostgreSQL in production, SQLite embedded).

Metering writes thousands of rows per batch; a driver-level executemany
sends them one statement at a time, so these build one multi-row statement
per chunk instead (chunks keep within PostgreSQL's 65535 parameters)."""

from sqlalchemy import BigInteger, Table, column, update, values
from sqlalchemy.orm import Session

CHUNK_ROWS = 2000


def insert_ignore(session: Session, table: Table):
    """INSERT ... ON CONFLICT DO NOTHING for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def insert_rows(session: Session, statement, rows: list[dict]) -> None:
    """Insert many rows with multi-row VALUES statements."""
    for start in range(0, len(rows), CHUNK_ROWS):
        session.execute(statement.values(rows[start:start + CHUNK_ROWS]))


def set_balances(session: Session, table: Table, new_balances: dict[int, int]) -> None:
    """UPDATE table SET balance = v.balance FROM (VALUES ...) v WHERE id = v.id."""
    items = list(new_balances.items())
    for start in range(0, len(items), CHUNK_ROWS):
        rows = values(column("id", BigInteger), column("balance", BigInteger), name="new_balances") \
            .data(items[start:start + CHUNK_ROWS])
        session.execute(update(table).where(table.c.id == rows.c.id).values(balance=rows.c.balance))
