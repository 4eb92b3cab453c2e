"""Each author's newest posts, in memory: the "following" candidate source.

GetFeed's followed candidates are the newest posts of the people the viewer
follows. Read from PostgreSQL, that is a walk of a hundred authors' index
entries and a row visit per post on every request: measured, ~1.9 ms of the
database's CPU out of ~2.1 ms for the whole candidate statement. Here, a
request merges the followees' lists it holds instead (numpy, ~0.1 ms).

What is held: per author, the newest `per_author` published posts that
followers may see (public or followers-only), created within `window_s`.
Loaded whole on first use; then every `refresh_s` the posts changed since the
last read (by `updated_at`, which publishing, unpublishing, takedowns and
deletions all set) are applied, and every `prune_s` posts that have left the
window are dropped. Posts published through this replica are applied at once.
Another replica's changes arrive within `refresh_s`: a post removed meanwhile
can still be ranked, but the page's statement re-checks every item it serves,
so it is never shown. When one of an author's full list of posts is removed,
that author's newest posts are read again at the same refresh, so the post
just beyond the list takes its place.

Memory: ~100 bytes per post held (the id string dominates); the benchmark's
full dataset (1M posts, all in the window) is ~100 MB per replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, ColumnElement, cast, extract, func, select
from sqlalchemy.orm import Session

from kinora.feed.v1 import feed_pb2
from services.feed import models as m

_SEEN = (feed_pb2.VISIBILITY_PUBLIC, feed_pb2.VISIBILITY_FOLLOWERS)


class RefreshGate:
    """Runs a refresh at most every `every_s` seconds, one at a time. A caller that finds another
    refreshing goes on without it, unless it must `wait` (for a first load, say); `force` refreshes
    whenever it was last done."""

    def __init__(self, every_s: float):
        self.every_s = every_s
        self.lock = threading.Lock()  # held while refreshing; a writer of what the refresh updates takes it too
        self._last = float("-inf")

    def __call__(self, refresh: Callable[[], None], *, force: bool = False, wait: bool = False) -> None:
        if not force and time.monotonic() - self._last < self.every_s:
            return
        if not self.lock.acquire(blocking=force or wait):
            return
        try:
            if not force and time.monotonic() - self._last < self.every_s:
                return  # refreshed while this caller waited
            self._last = time.monotonic()
            refresh()
        finally:
            self.lock.release()


def micros(moment: datetime) -> int:
    """A timestamp as integer microseconds since the epoch (as `micros_column` computes it)."""
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def micros_column(column: ColumnElement[Any]) -> ColumnElement[int]:
    """A timestamp column as integer microseconds, computed by PostgreSQL (so two reads compare exactly)."""
    return cast(extract("epoch", column) * 1_000_000, BigInteger)


class RecentByAuthor:
    def __init__(
        self, per_author: int = 300, window_s: float = 28 * 86_400.0, refresh_s: float = 2.0, prune_s: float = 600.0
    ):
        self.per_author, self.window_s, self.prune_s = per_author, window_s, prune_s
        self._pruned = time.monotonic()
        # author -> (created µs, newest first; post ids in the same order). Replaced, never changed in place,
        # so a reader holding one needs no lock.
        self._by_author: dict[str, tuple[np.ndarray[Any, Any], list[str]]] = {}
        self._since: datetime | None = None  # newest updated_at read
        self._loaded = False
        self._short: set[str] = set()  # authors whose full list lost a post: read again at the next refresh
        self._gate = RefreshGate(refresh_s)
        # Changes so far, and the count at each author's last change (rankings.py: whether a viewer's
        # kept ranking is still current).
        self.version = 0
        self._changed: dict[str, int] = {}

    # -- reading -----------------------------------------------------------------------------

    def newest(self, authors: Sequence[str], limit: int) -> tuple[list[str], list[str], np.ndarray[Any, Any]]:
        """The newest `limit` posts of `authors` in the window, newest first: ids, their authors
        and their creation times (µs)."""
        after_us = micros(self._window_start())
        lists = self._by_author
        parts = [(a, got) for a in authors if (got := lists.get(a)) is not None]
        if not parts:
            return [], [], np.zeros(0, dtype=np.int64)
        created = np.concatenate([c[:limit] for _, (c, _) in parts])
        sizes = np.array([min(len(c), limit) for _, (c, _) in parts])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        top = np.flatnonzero(created > after_us)
        if len(top) > limit:
            top = top[np.argpartition(-created[top], limit - 1)[:limit]]
        top = top[np.argsort(-created[top], kind="stable")]
        which = np.searchsorted(starts, top, side="right") - 1
        ids = [parts[w][1][1][k] for w, k in zip(which.tolist(), (top - starts[which]).tolist())]
        return ids, [parts[w][0] for w in which.tolist()], created[top]

    def changed_since(self, version: int, authors: Sequence[str]) -> bool:
        """Whether any of `authors`' lists changed after `version` (a value of `version` read
        earlier): a post published, removed, or refilled since."""
        if version == self.version:
            return False
        get = self._changed.get
        return any(get(a, 0) > version for a in authors)

    # -- keeping it current ------------------------------------------------------------------

    def refresh(self, session: Session, force: bool = False) -> None:
        """Load on first use (other requests wait for that one), then apply what changed at most
        every `refresh_s` (one refresher at a time; the others go on with what is held)."""
        self._gate(lambda: self._read(session), force=force, wait=not self._loaded)

    def _read(self, session: Session) -> None:
        p = m.posts.c
        q = select(p.id, p.author_user_id, micros_column(p.created_at), p.state, p.visibility, p.updated_at)
        if not self._loaded:  # everything in the window, each author's newest first
            # From the newest change so far (read first): whatever changes after it, the next reads apply.
            self._since = session.execute(select(func.max(p.updated_at))).scalar()
            self._by_author = self._grouped(
                session.execute(q.where(*self._held_posts()).order_by(p.author_user_id, p.created_at.desc())).all()
            )
            self._loaded = True
            self.version += 1
            self._changed = dict.fromkeys(self._by_author, self.version)
            return
        if self._since is not None:  # with a margin for transactions that committed after a later updated_at
            q = q.where(p.updated_at > self._since - timedelta(seconds=5))
        rows = session.execute(q).all()
        if rows:
            self._since = max(self._since or rows[0][5], max(r[5] for r in rows))
        for post_id, author, created, state, visibility, _ in rows:
            self._apply(author, post_id, created, state == feed_pb2.POST_STATE_PUBLISHED and visibility in _SEEN)
        if self._short:
            self._refill(session)
        if time.monotonic() - self._pruned > self.prune_s:
            self._prune()

    def _refill(self, session: Session) -> None:
        """Read again the newest posts of authors whose full list lost one, so the post that was
        just beyond the list takes its place (as a walk of the database would find it)."""
        authors, self._short = sorted(self._short), set()
        p = m.posts.c
        ranked = (
            select(
                p.id,
                p.author_user_id,
                micros_column(p.created_at).label("created_us"),
                func.row_number().over(partition_by=p.author_user_id, order_by=p.created_at.desc()).label("rank"),
            )
            .where(p.author_user_id.in_(authors), *self._held_posts())
            .subquery()
        )
        refilled = self._grouped(
            session.execute(
                select(ranked.c.id, ranked.c.author_user_id, ranked.c.created_us)
                .where(ranked.c.rank <= self.per_author)
                .order_by(ranked.c.author_user_id, ranked.c.created_us.desc())
            ).all()
        )
        for author in authors:
            if author in refilled:
                self._by_author[author] = refilled[author]
            else:
                self._by_author.pop(author, None)
            self._mark(author)

    def _prune(self) -> None:
        """Drop posts that have left the window (queries skip them anyway; this bounds memory)."""
        self._pruned = time.monotonic()
        cutoff = micros(self._window_start())
        for author, (created, ids) in list(self._by_author.items()):
            if created[-1] <= cutoff:
                k = int(np.searchsorted(-created, -cutoff, side="left"))  # [:k]: still in the window
                if k:
                    self._by_author[author] = (created[:k], ids[:k])
                else:
                    del self._by_author[author]

    def _window_start(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self.window_s)

    def _held_posts(self) -> tuple[Any, ...]:
        """What is held: published posts followers may see, created within the window."""
        p = m.posts.c
        return (p.state == feed_pb2.POST_STATE_PUBLISHED, p.visibility.in_(_SEEN), p.created_at > self._window_start())

    def _grouped(self, rows: Sequence[Any]) -> dict[str, tuple[np.ndarray[Any, Any], list[str]]]:
        """(id, author, created µs, ...) rows ordered by author, newest first -> each author's newest."""
        by_author: dict[str, tuple[np.ndarray[Any, Any], list[str]]] = {}
        start = 0
        for k in range(1, len(rows) + 1):
            if k == len(rows) or rows[k][1] != rows[start][1]:
                chunk = rows[start : min(k, start + self.per_author)]
                by_author[rows[start][1]] = (np.array([r[2] for r in chunk], dtype=np.int64), [r[0] for r in chunk])
                start = k
        return by_author

    def put(self, author: str, post_id: str, created: datetime, visible: bool) -> None:
        """A post published (`visible`: to followers) or removed through this replica, at once."""
        with self._gate.lock:
            self._apply(author, post_id, micros(created), visible)

    def _apply(self, author: str, post_id: str, created_us: int, visible: bool) -> None:
        held = self._by_author.get(author)
        created, ids = held if held is not None else (np.zeros(0, dtype=np.int64), [])
        if visible == (post_id in ids) and (not visible or created[ids.index(post_id)] == created_us):
            return  # as held already (a refresh reads again what changed in its last seconds)
        if post_id in ids:
            k = ids.index(post_id)
            if not visible and len(ids) >= self.per_author:  # a post beyond the list may exist
                self._short.add(author)
            created, ids = np.delete(created, k), ids[:k] + ids[k + 1 :]
        if visible:
            k = int(np.searchsorted(-created, -created_us, side="left"))  # newest first
            created = np.insert(created, k, created_us)[: self.per_author]
            ids = (ids[:k] + [post_id] + ids[k:])[: self.per_author]
        if ids:
            self._by_author[author] = (created, ids)
        else:
            self._by_author.pop(author, None)
        self._mark(author)

    def _mark(self, author: str) -> None:
        self.version += 1
        self._changed[author] = self.version
