"""Small SQL helpers (PostgreSQL in production, SQLite embedded).

Metering writes thousands of rows per batch. A driver executemany sends them
one statement at a time and a multi-row VALUES statement is slow to compile,
so on PostgreSQL rows travel as one array per column through `unnest` (one
statement, one round trip); SQLite gets a plain executemany."""

from sqlalchemy import Table, text
from sqlalchemy.orm import Session


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_ignore(session: Session, table: Table):
    """INSERT ... ON CONFLICT DO NOTHING for the session's database."""
    if _is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def insert_rows(session: Session, table: Table, rows: list[dict], ignore_conflicts: bool = False) -> None:
    """Insert many rows (all with the same keys) in one statement."""
    if not rows:
        return
    if not _is_postgres(session):
        session.execute(insert_ignore(session, table) if ignore_conflicts else table.insert(), rows)
        return
    dialect = session.get_bind().dialect
    names = list(rows[0])
    arrays = ", ".join(f"CAST(:{n} AS {table.c[n].type.compile(dialect)}[])" for n in names)
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    session.execute(text(sql), {n: [row[n] for row in rows] for n in names})


def set_balances(session: Session, table: Table, new_balances: dict[int, int]) -> None:
    """Set many accounts' balances in one statement."""
    if not new_balances:
        return
    if not _is_postgres(session):
        session.execute(text(f"UPDATE {table.name} SET balance = :balance WHERE id = :id"),
                        [{"id": k, "balance": v} for k, v in new_balances.items()])
        return
    session.execute(text(f"UPDATE {table.name} SET balance = v.balance "
                         "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:balances AS BIGINT[])) AS v(id, balance) "
                         f"WHERE {table.name}.id = v.id"),
                    {"ids": list(new_balances), "balances": list(new_balances.values())})


def one_of(session: Session, column, values):
    """`column IN values` as one array parameter on PostgreSQL (`= ANY(:array)`):
    thousands of ids cost one bind, not thousands to render and parse."""
    values = list(values)
    if not _is_postgres(session):
        return column.in_(values)
    from sqlalchemy import any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
