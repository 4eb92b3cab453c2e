"""The feed's in-memory indexes and caches, shared by every request of a replica:
the preference index (embeddings of recent public posts, searched through IVF
lists), trending lists per region, and the facts ranking needs of a post.
Followees' newest posts are in recent.py. None is a source of truth: what a
page serves is re-checked against the database (queries.PAGE_SQL)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.feed import models as m
from services.feed.common import PUBLIC, PUBLISHED, id_list, utcnow
from services.feed.ivf import IvfLists, assign_rows, exact_search, train_centroids
from services.feed.queries import FACTS_SQL
from services.feed.ranking import DIM
from services.feed.recent import RefreshGate, micros_column


@dataclass(frozen=True)
class _IndexSnapshot:
    """One state of the preference index, swapped whole so readers need no lock."""

    ids: list[str]
    matrix: np.ndarray[Any, Any]  # (n, DIM) float32, oldest first
    pos: dict[str, int]  # row of each id
    stamps: np.ndarray[Any, Any]  # updated_at µs of each row
    lists: IvfLists | None  # None: too few rows for an IVF index, searches scan every row


class PreferenceIndex:
    """Embeddings of the most recent public posts, in memory, for the
    preference candidate source and for scoring (so a request needn't load
    1.5 kB per candidate). Refreshed incrementally by `updated_at`, so a
    republished post's new embedding replaces the old one; each entry keeps
    the `updated_at` it was read at, and a lookup with a different stamp
    misses. State is re-checked when candidates are loaded, so a takedown is
    never served from here. Embeddings a request had to read for candidates
    outside the index (followees' older posts, mostly) are remembered too, up
    to `outside_capacity` (~30 MB at 20k), as many viewers share them.

    Searches go through an IVF index (`services/feed/ivf.py`) once there are
    `ivf_min_rows` rows: k-means centroids (about one list per `rows_per_list`
    rows), trained on the first such snapshot and again whenever as many rows
    have been added since as the index held then; between trainings new and
    changed rows join the list of their nearest centroid. A search scans the
    best-scoring lists until it covers `probe_factor` × k rows, then ranks
    that shortlist exactly (recall against a full scan: tests/feed/test_ivf.py)."""

    MEMO_SIZE = 4096

    def __init__(
        self,
        capacity: int = 20_000,
        refresh_s: float = 2.0,
        *,
        ivf_min_rows: int = 4096,
        rows_per_list: int = 160,
        probe_factor: int = 6,
        outside_capacity: int = 20_000,
    ):
        self.capacity = capacity
        self.outside_capacity = outside_capacity
        self._outside: dict[str, tuple[int, np.ndarray[Any, Any]]] = {}  # id -> (stamp, embedding), oldest first
        self._outside_lock = threading.Lock()
        self.ivf_min_rows, self.rows_per_list, self.probe_factor = ivf_min_rows, rows_per_list, probe_factor
        self._snap = _IndexSnapshot([], np.zeros((0, DIM), dtype=np.float32), {}, np.zeros(0, dtype=np.int64), None)
        self._since_created: datetime | None = None
        self._since_updated: datetime | None = None
        self._gate = RefreshGate(refresh_s)
        # (snapshot it is for, {query: ids})
        self._memo: tuple[object, dict[tuple[bytes, bytes, int], list[str]]] = (None, {})
        self._added_since_training = self._held_at_training = 0

    def refresh(self, session: Session, force: bool = False) -> None:
        """At most every `refresh_s`, by one thread; the others go on with the current snapshot
        (only the first load waits)."""
        self._gate(lambda: self._refresh(session), force=force, wait=not self._snap.ids)

    def _refresh(self, session: Session) -> None:
        p = m.posts.c
        q = (
            select(p.id, p.embedding, p.created_at, p.updated_at, micros_column(p.updated_at).label("stamp"))
            .where(p.state == PUBLISHED, p.visibility == PUBLIC, p.embedding.is_not(None))
            .limit(self.capacity)
        )
        if self._since_updated is None:
            rows = session.execute(q.order_by(p.created_at.desc())).all()
        else:
            # What changed since the last read, by the updated_at index: ordered by created_at, the
            # generic plan GetFeed's transaction uses started two parallel workers to sort it (~0.7 ms
            # of PostgreSQL CPU per request on the full dataset, measured). Newest first, as above.
            rows = sorted(
                session.execute(
                    q.where(p.updated_at > self._since_updated - timedelta(seconds=5)).order_by(p.updated_at)
                ).all(),
                key=lambda r: r.created_at,
                reverse=True,
            )
        if not rows:
            return
        snap = self._snap
        newest_created = max(r.created_at for r in rows)
        newest_updated = max(r.updated_at for r in rows)
        slack = self._since_created - timedelta(seconds=5) if self._since_created else None
        self._since_created = max(self._since_created or newest_created, newest_created)
        self._since_updated = max(self._since_updated or newest_updated, newest_updated)
        changed, fresh = [], []
        for r in reversed(rows):
            row = snap.pos.get(r.id)
            if row is not None:
                if snap.stamps[row] != r.stamp:  # republished: take the current embedding
                    changed.append((row, r))
            elif slack is None or r.created_at > slack:  # new posts join; old ones stay out, as before
                fresh.append(r)
        if not changed and not fresh:
            return  # re-read rows within the slack, unchanged: keep the snapshot (and its search memo)
        ids, matrix, pos, stamps = snap.ids, snap.matrix.copy(), snap.pos, snap.stamps.copy()
        assign = snap.lists.assign.copy() if snap.lists is not None else None
        for row, r in changed:
            matrix[row] = np.frombuffer(r.embedding, dtype=np.float32)
            stamps[row] = r.stamp
        if changed and assign is not None:  # a new embedding may belong to another list
            assert snap.lists is not None  # assign is its lists' copy
            rows_changed = [row for row, _ in changed]
            assign[rows_changed] = assign_rows(matrix[rows_changed], snap.lists.centroids)
        if fresh:
            keep = max(len(ids) + len(fresh) - self.capacity, 0)  # oldest rows leaving
            ids = (ids + [r.id for r in fresh])[keep:]
            added = np.frombuffer(b"".join(r.embedding for r in fresh), dtype=np.float32).reshape(-1, DIM)
            matrix = np.vstack([matrix, added])[keep:]
            stamps = np.concatenate([stamps, np.array([r.stamp for r in fresh], dtype=np.int64)])[keep:]
            pos = {post_id: k for k, post_id in enumerate(ids)}
            self._added_since_training += len(fresh)
            if assign is not None:
                assert snap.lists is not None
                assign = np.concatenate([assign, assign_rows(added, snap.lists.centroids)])[keep:]
        lists = None
        if len(ids) >= self.ivf_min_rows:
            if assign is None or self._added_since_training >= self._held_at_training:
                centroids = train_centroids(matrix, max(len(ids) // self.rows_per_list, 1))
                assign = assign_rows(matrix, centroids)
                self._added_since_training, self._held_at_training = 0, len(ids)
            else:
                assert snap.lists is not None  # assign came from its lists
                centroids = snap.lists.centroids
            lists = IvfLists(matrix, centroids, assign)
        self._snap = _IndexSnapshot(ids, matrix, pos, stamps, lists)

    def nearest(self, pos: np.ndarray[Any, Any], neg: np.ndarray[Any, Any] | None, k: int) -> list[str]:
        """The k posts best matching `pos` less `neg` (through the IVF lists once
        built). Remembered per snapshot: a viewer paging on, or viewers with the
        same stated preferences, reuse it until the index changes."""
        snap = self._snap
        key = (pos.tobytes(), b"" if neg is None else neg.tobytes(), k)
        memo = self._memo
        if memo[0] is snap and key in memo[1]:
            return memo[1][key]
        if not snap.ids:
            return []
        if snap.lists is not None:
            top = snap.lists.search(pos, neg, k, self.probe_factor * k)
        else:
            top = exact_search(snap.matrix, pos, neg, k)
        found = [snap.ids[i] for i in top.tolist()]
        if memo[0] is not snap or len(memo[1]) >= self.MEMO_SIZE:
            memo = self._memo = (snap, {})
        memo[1][key] = found
        return found

    def embeddings(self, ids: Sequence[str], stamps: Sequence[int]) -> tuple[np.ndarray[Any, Any], list[int]]:
        """Rows for `ids` (zeros where unknown) and the positions that missed: neither indexed nor
        remembered (`remember`), or held at a different `updated_at` stamp."""
        snap = self._snap
        matrix, pos, known = snap.matrix, snap.pos, snap.stamps
        if len(matrix):
            rows = np.fromiter(map(pos.get, ids, itertools.repeat(-1)), dtype=np.int64, count=len(ids))
            hit = (rows >= 0) & (known[rows] == np.asarray(stamps, dtype=np.int64))  # rows[-1] is read, then discarded
            out = matrix[np.where(hit, rows, 0)]  # one gather; misses zeroed below
            out[~hit] = 0.0
            missed = np.flatnonzero(~hit).tolist()
        else:
            out, missed = np.zeros((len(ids), DIM), dtype=np.float32), list(range(len(ids)))
        if missed and self._outside:
            get, still = self._outside.get, []
            for k in missed:
                held = get(ids[k])
                if held is not None and held[0] == stamps[k]:
                    out[k] = held[1]
                else:
                    still.append(k)
            missed = still
        return out, missed

    def remember(self, rows: Sequence[tuple[str, int, np.ndarray[Any, Any]]]) -> None:
        """(id, stamp, embedding) of posts outside the index that a request had to read (followees'
        older posts, mostly): kept, up to `outside_capacity` (the oldest remembered leave first),
        so the next requests with the same candidates find them."""
        with self._outside_lock:
            outside = self._outside
            for post_id, stamp, vector in rows:
                outside.pop(post_id, None)
                outside[post_id] = (stamp, vector)
            for post_id in list(itertools.islice(outside, max(len(outside) - self.outside_capacity, 0))):
                del outside[post_id]


class TrendingCache:
    """Trending post ids per region, and overall for users without one: the same for everyone
    in a region, so computed for every region at once, by one statement, every `ttl_s` rather
    than per request. Once there are lists, expired ones are still served while one background
    thread recomputes them all, so no request waits for the ranking query (the ids are
    re-checked for state when candidates are loaded). With a `PostFactsCache`, each
    recomputation also reads the listed posts' facts into it, so every request in every region
    finds them there; as they expire, requests read them again a few at a time. The statement
    reads every public post of the window: ~100 ms of PostgreSQL CPU on the benchmark's small
    dataset (100k posts), ~0.85 s on the full one (1M posts, 500k of them in the last 7 days;
    1.1-1.5 s when it also ranked them overall, which the regions' lists give).
    So it runs every 5 minutes: a week's trending list changes slowly, and the
    counters that rank its posts come from the facts, seconds old at most."""

    def __init__(self, ttl_s: float = 300.0, facts: PostFactsCache | None = None):
        self.ttl_s, self.facts = ttl_s, facts
        self._lists: tuple[float, dict[str, list[str]]] | None = None  # (computed at, region -> ids)
        self._refreshing = False
        self._lock = threading.Lock()
        self._first = threading.Lock()

    def get(
        self, session: Session, region: str, days: float, limit: int, sessions: Callable[[], Session] | None = None
    ) -> list[str]:
        lists = self._lists
        if lists and time.monotonic() - lists[0] < self.ttl_s:
            return lists[1].get(region, [])
        if lists and sessions is not None:
            with self._lock:
                start, self._refreshing = not self._refreshing, True
            if start:
                threading.Thread(
                    target=self._refresh_in_background, args=(sessions, days, limit), name="feed-trending", daemon=True
                ).start()
            return lists[1].get(region, [])
        with self._first:  # the first lists (or expired ones, without `sessions`): computed once, others wait
            if self._lists is None or (sessions is None and time.monotonic() - self._lists[0] >= self.ttl_s):
                self._compute(session, days, limit)
            assert self._lists is not None  # computed above, or by the thread that held the lock
            return self._lists[1].get(region, [])

    def _refresh_in_background(self, sessions: Callable[[], Session], days: float, limit: int) -> None:
        try:
            with sessions() as s:
                self._compute(s, days, limit)
        finally:
            with self._lock:
                self._refreshing = False

    def _compute(self, session: Session, days: float, limit: int) -> dict[str, list[str]]:
        p = m.posts.c
        heat = (
            3 * (p.remix_count + p.remix_generations)
            + 2 * (p.created_after_view + p.cameo_requests)
            + p.like_count
            + p.comment_count
            - 3 * p.report_count
        )
        rank = func.row_number().over(partition_by=p.region, order_by=(heat.desc(), p.created_at.desc(), p.id))
        ranked = (
            select(
                p.id, p.region, heat.label("heat"), micros_column(p.created_at).label("created_us"), rank.label("rank")
            )
            .where(p.state == PUBLISHED, p.visibility == PUBLIC, p.created_at > utcnow() - timedelta(days=days))
            .subquery()
        )
        # The overall list from the regions' lists: each post of the overall top is in its region's top.
        rows = sorted(
            session.execute(
                select(ranked.c.id, ranked.c.region, ranked.c.heat, ranked.c.created_us).where(ranked.c.rank <= limit)
            ).all(),
            key=lambda r: (-r[2], -r[3], r[0]),
        )
        lists: dict[str, list[str]] = {"": [r[0] for r in rows[:limit]]}
        for post_id, region, _, _ in rows:
            if region:
                lists.setdefault(region, []).append(post_id)
        if self.facts is not None and rows:
            self.facts.read(session, [r[0] for r in rows])
        self._lists = (time.monotonic(), lists)
        return lists


class PostFactsCache:
    """What ranking needs of a post (author and the `FACT_SQL` numbers), kept a few seconds for
    the candidate sources computed in memory, whose posts many viewers share: followees' newest
    posts, trending in a region and the preference index's nearest posts. Each request reads
    those from here, so PostgreSQL only checks which of them the viewer was already served, and
    looks up the posts not held (or held too long). Facts are
    ranking inputs only: the page's statement (`PAGE_SQL`) re-checks state, visibility and the
    teen rules of the items it serves against the database, so a takedown or a post made
    private since never reaches a page from here."""

    def __init__(self, ttl_s: float = 10.0, capacity: int = 100_000):
        self.ttl_s, self.capacity = ttl_s, capacity
        self._facts: dict[str, tuple[float, str, bytes]] = {}  # id -> (good until, author, numbers)

    def lookup(self, sources: dict[str, int]) -> tuple[list[str], list[int], list[str], bytes, list[str]]:
        """Of `sources` (id -> candidate source), the ids held and fresh, with their sources, authors
        and numbers (concatenated), and the ids to look up."""
        now = time.monotonic()
        held, held_sources, hits, missing, get = [], [], [], [], self._facts.get
        for post_id, source in sources.items():
            hit = get(post_id)
            if hit is not None and hit[0] > now:
                held.append(post_id)
                held_sources.append(source)
                hits.append(hit)
            else:
                missing.append(post_id)
        return held, held_sources, [h[1] for h in hits], b"".join([h[2] for h in hits]), missing

    def put(self, rows: Sequence[tuple[str, str, bytes]]) -> None:
        """(id, author, numbers) rows just read. Each is kept for between half the TTL and the TTL,
        spread over the rows, so facts read together (by one request) do not all expire together
        and send the next requests to look up hundreds of posts at once."""
        if len(self._facts) + len(rows) > self.capacity:
            self._facts = {}
        now, facts, step = time.monotonic(), self._facts, self.ttl_s / 64
        for k, (post_id, author, numbers) in enumerate(rows):
            facts[post_id] = (now + self.ttl_s - step * (k % 32), author, numbers)

    def read(self, session: Session, ids: Sequence[str]) -> None:
        """Read the facts of published posts among `ids` into the cache."""
        raw: Any = session.connection().connection  # psycopg's: binary cursors, used as context managers
        with raw.cursor(binary=True) as cur:
            cur.execute(FACTS_SQL, dict(ids=id_list(ids)))
            self.put(cur.fetchall())

    def forget(self, ids: Sequence[str]) -> None:
        for post_id in ids:
            self._facts.pop(post_id, None)
