"""Bulk SQL helpers.

Consumers and billing's metering write thousands of rows per batch. A driver executemany sends them
one statement at a time, a multi-row VALUES statement is slow to compile, and
psycopg adapts array parameters element by element in Python; so rows travel
as ONE JSON text (encoded in C by the json module, decoded in C by the server
with `json_to_recordset`): one statement, one parameter, one round trip."""

import json
import os
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, cast, func, select, text
from sqlalchemy.dialects.postgresql import JSON, Insert, insert
from sqlalchemy.orm import Session


def bytea(value: bytes) -> str:
    """Bytes in bytea's hex input form. Put bytes into `insert_rows` rows with
    this: made here in C, where the JSON encoder's per-value fallback costs more."""
    return "\\x" + value.hex()


def _json_value(value: object) -> str:
    """What json cannot encode itself, in the server's input syntax."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return bytea(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def as_json(rows: object) -> str:
    return json.dumps(rows, default=_json_value, separators=(",", ":"))


def _recordset(session: Session, table: Table, names: list[str]) -> str:
    """`json_to_recordset(:rows) AS r(col type, ...)` typed like the table."""
    dialect = session.get_bind().dialect
    columns = ", ".join(f"{n} {table.c[n].type.compile(dialect)}" for n in names)
    return f"json_to_recordset(CAST(:rows AS json)) AS r({columns})"


def insert_ignore(table: Table) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING."""
    return insert(table).on_conflict_do_nothing()


def insert_rows(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    ignore_conflicts: bool = False,
    returning: str | None = None,
) -> list[Any] | None:
    """Insert many rows (all with the same keys) in one statement; with
    `returning`, the values of that column for the rows actually inserted."""
    if not rows:
        return [] if returning else None
    names = list(rows[0])
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)} "
        f"FROM {_recordset(session, table, names)}"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        return list(session.execute(text(f"{sql} RETURNING {returning}"), {"rows": as_json(rows)}).scalars())
    session.execute(text(sql), {"rows": as_json(rows)})
    return None


def set_balances(session: Session, table: Table, new_balances: dict[int, int]) -> None:
    """Set many accounts' balances in one statement."""
    if not new_balances:
        return
    session.execute(
        text(
            f"UPDATE {table.name} SET balance = r.balance "
            f"FROM {_recordset(session, table, ['id', 'balance'])} WHERE {table.name}.id = r.id"
        ),
        {"rows": as_json([{"id": k, "balance": v} for k, v in new_balances.items()])},
    )


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values` as one JSON parameter: thousands of ids cost one
    bind, not thousands to render, parse or adapt. The set is an array
    (`= ANY(ARRAY(...))`), so the planner uses the column's index."""
    elements = func.json_array_elements_text(cast(bindparam(None, as_json(list(values))), JSON)).table_valued("value")
    return column == any_(func.array(select(cast(elements.c.value, column.type)).scalar_subquery()))


def random_uuids(n: int) -> list[str]:
    """n random (version 4) UUIDs as text, from one read of the OS's random
    source: uuid.uuid4() costs ~9 µs each, a noticeable share of metering."""
    h = os.urandom(16 * n).hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-"
        f"{'89ab'[int(h[i + 16], 16) & 3]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]
