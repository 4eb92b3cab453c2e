"""Database access: one engine per service database, PostgreSQL with a sized pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import BigInteger, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

# Autoincrementing 64-bit keys (BIGSERIAL in PostgreSQL).
BigId = BigInteger()


def make_engine(url: str, pool_size: int = 5) -> Engine:
    # No pre-ping (a SELECT 1 round trip per checkout on the hot path); stale
    # connections are recycled instead, and a dropped one fails that one call.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together or not at all."""
    with sessions() as session, session.begin():
        yield session
