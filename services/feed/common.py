"""What every part of the feed's domain shares: post states and visibilities,
candidate sources as plain ints, the configuration, the context each part
works in (database sessions, outbox tables, page tokens) and small helpers."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from kinora.feed.v1 import feed_pb2
from kinora.runtime.events import EventTables
from kinora.runtime.paging import PageTokens, page_size
from services.feed import models as m
from services.feed.ranking import DIM, SOURCE, PolicyConfig

PUBLISHED = feed_pb2.POST_STATE_PUBLISHED
UNPUBLISHED = feed_pb2.POST_STATE_UNPUBLISHED
DELETED = feed_pb2.POST_STATE_DELETED
TAKEN_DOWN = feed_pb2.POST_STATE_TAKEN_DOWN
PUBLIC, FOLLOWERS, PRIVATE = feed_pb2.VISIBILITY_PUBLIC, feed_pb2.VISIBILITY_FOLLOWERS, feed_pb2.VISIBILITY_PRIVATE
# Candidate sources as plain ints (protobuf enum attribute lookups are slow in a 1,000-item loop).
S_FOLLOWING, S_MUTUALS, S_REMIXES = (
    SOURCE.CANDIDATE_SOURCE_FOLLOWING,
    SOURCE.CANDIDATE_SOURCE_MUTUALS,
    SOURCE.CANDIDATE_SOURCE_REMIXES,
)
S_TRENDING, S_PREFERENCES, S_RECENT = (
    SOURCE.CANDIDATE_SOURCE_TRENDING_REGION,
    SOURCE.CANDIDATE_SOURCE_PREFERENCES,
    SOURCE.CANDIDATE_SOURCE_RECENT,
)

# A post's columns but its embedding (1.5 kB, read only where needed).
POST_COLUMNS = [c for c in m.posts.c if c.name != "embedding"]


@dataclass(frozen=True)
class FeedConfig:
    page_size: int = 10
    max_page_size: int = 50
    nudge_after_items: int = 40
    candidates_per_source: int = 300
    trending_days: float = 7.0
    policy: PolicyConfig = PolicyConfig()
    ranking_ttl_s: float = 60.0  # how long a viewer's ranking serves their next pages (rankings.py); 0: never
    ranking_viewers: int = 4096  # viewers whose ranking a replica keeps


class FeedContext:
    """What the parts of the feed share. `sessions` may be replaced after the parts are built
    (the server binds it once the service's database is set up), so parts read it from here."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        config: FeedConfig,
        cursors: PageTokens,
        on_events: Callable[[], None],
    ):
        self.sessions, self.tables, self.config = sessions, tables, config
        self.cursors, self.on_events = cursors, on_events

    # Offset paging (posts, people, comments): the token is signed for its viewer and list.

    def page_size(self, requested: int) -> int:
        return page_size(requested, self.config.page_size, self.config.max_page_size)

    def offset(self, token: str, viewer_id: str, scope: str) -> int:
        return self.cursors.decode_offset(token, scope=token_scope(scope, viewer_id))

    def next_token(self, rows: list[Any], size: int, offset: int, viewer_id: str, scope: str) -> str:
        """A token for the next page when `rows` (read with one row to spare) holds more than `size`."""
        return self.cursors.next_offset(offset, size, len(rows) > size, scope=token_scope(scope, viewer_id))


def token_scope(kind: str, viewer_id: str) -> str:
    """What a page token is signed for: one list (kind) and one viewer."""
    return f"{kind}\n{viewer_id}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def vec_bytes(v: np.ndarray[Any, Any]) -> bytes:
    return np.asarray(v, dtype=np.float32).tobytes()


def vec_from(b: bytes | None, rows: int | None = None) -> np.ndarray[Any, Any] | None:
    if not b:
        return None
    v = np.frombuffer(b, dtype=np.float32)
    return v.reshape(-1, DIM) if rows is not None else v


def upsert(
    table: Table, values: dict[str, Any], keys: list[str], update_values: dict[str, Any] | None
) -> postgresql.Insert:
    """INSERT .. ON CONFLICT DO NOTHING (or DO UPDATE with `update_values`)."""
    stmt = postgresql.insert(table).values(values)
    if update_values:
        return stmt.on_conflict_do_update(index_elements=keys, set_=update_values)
    return stmt.on_conflict_do_nothing(index_elements=keys)


def id_list(ids: Sequence[str]) -> str:
    """Post ids as one text parameter for `string_to_array(.., ',')` (a text[] parameter costs
    the driver a quoting check per element). Post ids are UUIDs this service made."""
    joined = ",".join(ids)
    if joined.count(",") != max(len(ids) - 1, 0):
        raise ValueError("a post id contains a comma")
    return joined


def cursor_key(secret: str | None, internal_secret: str | None) -> bytes:
    """The page-token key: explicit, else derived from the internal secret,
    else random per process (tokens then don't survive a restart)."""
    if secret:
        return secret.encode()
    if internal_secret:
        return hmac.new(internal_secret.encode(), b"kinora-feed-cursor", hashlib.sha256).digest()
    return os.urandom(32)
