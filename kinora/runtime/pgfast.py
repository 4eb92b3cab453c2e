"""Prepared statements outside SQLAlchemy, for a service's hottest calls.

Each thread keeps its own autocommit psycopg connection and runs prepared
statements on it: one round trip per statement, no BEGIN / COMMIT, no pool
checkout, no ORM. A single statement is atomic and reads one snapshot, so a
statement that checks (or locks, checks and writes) needs no surrounding
transaction. Run it from worker threads (`run_in_executor`), one statement at
a time per thread.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from sqlalchemy.engine import make_url


class PgStatements:
    def __init__(self, database_url: str, row_factory: Any = None):
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.row_factory = row_factory
        self._local = threading.local()
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            extra = {"row_factory": self.row_factory} if self.row_factory is not None else {}
            conn = psycopg.connect(self.dsn, autocommit=True, **extra)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def fetch(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """Rows of one prepared statement. A connection the server dropped is
        replaced once; a statement that failed before it ran is safe to repeat,
        and callers make one that ran and committed idempotent."""
        try:
            return self._connection().execute(sql, params, prepare=True).fetchall()
        except psycopg.OperationalError:
            self._local.conn = None
            return self._connection().execute(sql, params, prepare=True).fetchall()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
