"""Database access: one engine per service database. SQLite (the embedded
default) gets WAL and a busy timeout so the API and its background workers can
share a file; PostgreSQL gets a sized pool."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timezone
from pathlib import Path

from sqlalchemy import BigInteger, DateTime, Integer, create_engine, event
from sqlalchemy.dialects.sqlite import DATETIME as SQLiteDateTime
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

# Autoincrementing 64-bit keys that SQLite also accepts.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class _UtcSQLiteDateTime(SQLiteDateTime):
    """SQLite stores no zone; values of DateTime(timezone=True) columns come back
    as aware UTC datetimes, as they do from PostgreSQL, so code can compare them
    with datetime.now(timezone.utc) on either database."""

    def result_processor(self, dialect, coltype):
        parse = super().result_processor(dialect, coltype)
        if not self.timezone:
            return parse

        def to_utc(value):
            value = parse(value) if parse else value
            return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
        return to_utc


def make_engine(url: str, pool_size: int = 5) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: _UtcSQLiteDateTime}

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # No pre-ping (a SELECT 1 round trip per checkout on the hot path); stale
    # connections are recycled instead, and a dropped one fails that one call.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]):
    """A session whose work commits together or not at all."""
    with sessions() as session, session.begin():
        yield session


def is_postgres(engine_or_session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"
