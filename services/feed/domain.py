"""Feed domain: posts, the social graph, reactions, remix lineage, the ranked
feed and the event handlers' effects. Plain classes over SQLAlchemy Core; no
gRPC or Kafka here. Events are written to the outbox in the same transaction
as the change they describe."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import numpy as np
from sqlalchemy import and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from kinora.feed.v1 import events_pb2, feed_pb2
from kinora.runtime.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, NotFound,
                                   PermissionDenied)
from kinora.runtime.events import EventTables, emit
from services.feed import models as m
from services.feed.ivf import IvfLists, assign_rows, exact_search, train_centroids
from services.feed.recent import RecentByAuthor, RefreshGate, micros_column
from services.feed.ranking import (DIM, SOURCE, Candidates, CreationScorer, CursorSigner, PolicyConfig,
                                   ViewerContext, apply_policy, parse_preferences)

POSTS_TOPIC = "kinora.feed.posts.v1"
GRAPH_TOPIC = "kinora.feed.graph.v1"
MAX_CAPTION = 2200
MAX_COMMENT = 1000
MAX_REMIX_DEPTH = 10
MAX_REMIX_NODES = 500
VIEW_CREDIT_WINDOW = timedelta(hours=2)  # "made something after watching" looks back this far
VIEW_CREDIT_POSTS = 5

PUBLISHED = feed_pb2.POST_STATE_PUBLISHED
UNPUBLISHED = feed_pb2.POST_STATE_UNPUBLISHED
DELETED = feed_pb2.POST_STATE_DELETED
TAKEN_DOWN = feed_pb2.POST_STATE_TAKEN_DOWN
PUBLIC, FOLLOWERS, PRIVATE = feed_pb2.VISIBILITY_PUBLIC, feed_pb2.VISIBILITY_FOLLOWERS, feed_pb2.VISIBILITY_PRIVATE
# Candidate sources as plain ints (protobuf enum attribute lookups are slow in a 1,000-item loop).
S_FOLLOWING, S_MUTUALS, S_REMIXES = (SOURCE.CANDIDATE_SOURCE_FOLLOWING, SOURCE.CANDIDATE_SOURCE_MUTUALS,
                                     SOURCE.CANDIDATE_SOURCE_REMIXES)
S_TRENDING, S_PREFERENCES, S_RECENT = (SOURCE.CANDIDATE_SOURCE_TRENDING_REGION, SOURCE.CANDIDATE_SOURCE_PREFERENCES,
                                       SOURCE.CANDIDATE_SOURCE_RECENT)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def vec_bytes(v: np.ndarray) -> bytes:
    return np.asarray(v, dtype=np.float32).tobytes()


def vec_from(b: bytes | None, rows: int | None = None) -> np.ndarray | None:
    if not b:
        return None
    v = np.frombuffer(b, dtype=np.float32)
    return v.reshape(-1, DIM) if rows is not None else v


# -- ports the service layer fills in -------------------------------------------

@dataclass(frozen=True)
class ConsentResult:
    allowed: bool
    message: str = ""


class ConsentChecker(Protocol):
    """Re-checks that every cameo in a video may be published by `requester`."""

    async def check(self, requester_user_id: str, cameo_ids: Sequence[str], prompt: str,
                    generation_id: str) -> ConsentResult: ...


class TextModerator(Protocol):
    def refusal(self, text: str) -> str | None:
        """A reason a person can read when the text is refused, else None."""


Embedder = Callable[[list[str]], np.ndarray]


# -- results ------------------------------------------------------------------

@dataclass
class FeedPage:
    items: list[tuple[dict, int, str, float]]  # (post row + handle, source, reason, score)
    next_token: str
    session_id: str
    nudge: str = ""
    cap_reached: bool = False
    cap_message: str = ""
    fallback: bool = False
    non_personalized: bool = False
    timings: dict | None = None


# -- preference index ------------------------------------------------------------

@dataclass(frozen=True)
class _IndexSnapshot:
    """One state of the preference index, swapped whole so readers need no lock."""

    ids: list[str]
    matrix: np.ndarray  # (n, DIM) float32, oldest first
    pos: dict[str, int]  # row of each id
    stamps: np.ndarray  # updated_at µs of each row
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

    def __init__(self, capacity: int = 20_000, refresh_s: float = 2.0, *, ivf_min_rows: int = 4096,
                 rows_per_list: int = 160, probe_factor: int = 6, outside_capacity: int = 20_000):
        self.capacity = capacity
        self.outside_capacity = outside_capacity
        self._outside: dict[str, tuple[int, np.ndarray]] = {}  # id -> (stamp, embedding), oldest first
        self._outside_lock = threading.Lock()
        self.ivf_min_rows, self.rows_per_list, self.probe_factor = ivf_min_rows, rows_per_list, probe_factor
        self._snap = _IndexSnapshot([], np.zeros((0, DIM), dtype=np.float32), {}, np.zeros(0, dtype=np.int64), None)
        self._since_created: datetime | None = None
        self._since_updated: datetime | None = None
        self._gate = RefreshGate(refresh_s)
        self._memo: tuple[object, dict] = (None, {})  # (snapshot it is for, {query: ids})
        self._added_since_training = self._held_at_training = 0

    def refresh(self, session: Session, force: bool = False) -> None:
        """At most every `refresh_s`, by one thread; the others go on with the current snapshot
        (only the first load waits)."""
        self._gate(lambda: self._refresh(session), force=force, wait=not self._snap.ids)

    def _refresh(self, session: Session) -> None:
        p = m.posts.c
        q = (select(p.id, p.embedding, p.created_at, p.updated_at, micros_column(p.updated_at).label("stamp"))
             .where(p.state == PUBLISHED, p.visibility == PUBLIC, p.embedding.is_not(None)).limit(self.capacity))
        if self._since_updated is None:
            rows = session.execute(q.order_by(p.created_at.desc())).all()
        else:
            # What changed since the last read, by the updated_at index: ordered by created_at, the
            # generic plan GetFeed's transaction uses started two parallel workers to sort it (~0.7 ms
            # of PostgreSQL CPU per request on the full dataset, measured). Newest first, as above.
            rows = session.execute(q.where(p.updated_at > self._since_updated - timedelta(seconds=5))
                                   .order_by(p.updated_at)).all()
            rows.sort(key=lambda r: r.created_at, reverse=True)
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
                assign = np.concatenate([assign, assign_rows(added, snap.lists.centroids)])[keep:]
        lists = None
        if len(ids) >= self.ivf_min_rows:
            if assign is None or self._added_since_training >= self._held_at_training:
                centroids = train_centroids(matrix, max(len(ids) // self.rows_per_list, 1))
                assign = assign_rows(matrix, centroids)
                self._added_since_training, self._held_at_training = 0, len(ids)
            else:
                centroids = snap.lists.centroids
            lists = IvfLists(matrix, centroids, assign)
        self._snap = _IndexSnapshot(ids, matrix, pos, stamps, lists)

    def nearest(self, pos: np.ndarray, neg: np.ndarray | None, k: int) -> list[str]:
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

    def embeddings(self, ids: Sequence[str], stamps: Sequence[int]) -> tuple[np.ndarray, list[int]]:
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

    def remember(self, rows: Sequence[tuple[str, int, np.ndarray]]) -> None:
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

    def get(self, session: Session, region: str, days: float, limit: int,
            sessions: Callable[[], Session] | None = None) -> list[str]:
        lists = self._lists
        if lists and time.monotonic() - lists[0] < self.ttl_s:
            return lists[1].get(region, [])
        if lists and sessions is not None:
            with self._lock:
                start, self._refreshing = not self._refreshing, True
            if start:
                threading.Thread(target=self._refresh_in_background, args=(sessions, days, limit),
                                 name="feed-trending", daemon=True).start()
            return lists[1].get(region, [])
        with self._first:  # the first lists (or expired ones, without `sessions`): computed once, others wait
            if self._lists is None or (sessions is None and time.monotonic() - self._lists[0] >= self.ttl_s):
                self._compute(session, days, limit)
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
        heat = (3 * (p.remix_count + p.remix_generations) + 2 * (p.created_after_view + p.cameo_requests)
                + p.like_count + p.comment_count - 3 * p.report_count)
        ranked = (select(p.id, p.region, heat.label("heat"), micros_column(p.created_at).label("created_us"),
                         func.row_number().over(partition_by=p.region, order_by=(heat.desc(), p.created_at.desc(), p.id))
                         .label("rank"))
                  .where(p.state == PUBLISHED, p.visibility == PUBLIC, p.created_at > utcnow() - timedelta(days=days))
                  .subquery())
        rows = session.execute(select(ranked.c.id, ranked.c.region, ranked.c.heat, ranked.c.created_us)
                               .where(ranked.c.rank <= limit)).all()
        # The overall list from the regions' lists: each post of the overall top is in its region's top.
        rows.sort(key=lambda r: (-r[2], -r[3], r[0]))
        lists: dict[str, list[str]] = {"": [r[0] for r in rows[:limit]]}
        for post_id, region, _, _ in rows:
            if region:
                lists.setdefault(region, []).append(post_id)
        if self.facts is not None and rows:
            self.facts.read(session, [r[0] for r in rows])
        self._lists = (time.monotonic(), lists)
        return lists


class PostFactsCache:
    """What ranking needs of a post (author and the `_FACT_SQL` numbers), kept a few seconds for
    the candidate sources computed in memory, whose posts many viewers share: followees' newest
    posts, trending in a region and the preference index's nearest posts. Each request reads
    those from here, so PostgreSQL only checks which of them the viewer was already served, and
    looks up the posts not held (or held too long). Facts are
    ranking inputs only: the page's statement (`_PAGE_SQL`) re-checks state, visibility and the
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
        with session.connection().connection.cursor(binary=True) as cur:
            cur.execute(_FACTS_SQL, dict(ids=_id_list(ids)))
            self.put(cur.fetchall())

    def forget(self, ids: Sequence[str]) -> None:
        for post_id in ids:
            self._facts.pop(post_id, None)


# -- the domain ---------------------------------------------------------------

@dataclass(frozen=True)
class FeedConfig:
    page_size: int = 10
    max_page_size: int = 50
    nudge_after_items: int = 40
    candidates_per_source: int = 300
    trending_days: float = 7.0
    policy: PolicyConfig = PolicyConfig()


_POST_COLUMNS = [c for c in m.posts.c if c.name != "embedding"]


# The scorer's counters, last in `_FACT_SQL`, in this order.
_FEATURES = ("remix_generations", "remix_count", "created_after_view", "cameo_requests", "like_count",
             "comment_count", "report_count", "see_less_count", "watch_ms", "view_count")
# What ranking needs of a post besides its author (`_CANDIDATES_SQL` sends them as int8s; `PostFactsCache`
# keeps them): times in µs since the epoch (the updated_at stamp computed as `micros_column` does, so it
# compares exactly with the preference index's).
_FACT_SQL = ("p.visibility", "(p.embedding IS NOT NULL)::int",
             "extract(epoch FROM p.created_at) * 1000000", "extract(epoch FROM p.updated_at) * 1000000",
             *(f"p.{name}" for name in _FEATURES))
_VISIBILITY = 0  # index of visibility in `_FACT_SQL`
# The numbers as one bytea of big-endian int8s per row, so the server turns all of them into
# columns with one numpy call instead of parsing ~10k values.
_NUMBERS_SQL = " || ".join(f"int8send(CAST({expr} AS bigint))" for expr in _FACT_SQL)

# `PostFactsCache.read`: (id, author, numbers) of published posts by id.
_FACTS_SQL = f"""
SELECT p.id, p.author_user_id, {_NUMBERS_SQL}
FROM posts p WHERE p.id = ANY(string_to_array(%(ids)s, ',')) AND p.state = {PUBLISHED}
"""

# Everything GetFeed needs to know about the viewer, in one statement: the user
# row (NULL columns if the feed doesn't know the user yet), the session's owner and count (the
# session row locked, so pages of one session are served one at a time), today's count, whom
# the viewer blocked or is blocked by, whom the viewer follows (and of those, who follows back),
# and the latest 20 "see less" posts' authors and
# embeddings (concatenated: one bytea, not 20 values). It also sets plan_cache_mode for the rest
# of the transaction (as SET LOCAL would, without a round trip of its own): the candidate
# statement's generic plan is as good for every viewer and saves ~2 ms of planning per request.
_USER_COLUMNS = ("id", "handle", "region", "teen", "daily_item_cap", "non_personalized", "prefs_phrases",
                 "prefs_vectors")
_VIEWER_STATE_SQL = f"""
WITH sess AS (SELECT user_id, item_count FROM feed_sessions WHERE id = %(session)s FOR UPDATE)
SELECT {", ".join(f"u.{c}" for c in _USER_COLUMNS)}, sess.user_id, sess.item_count,
       (SELECT item_count FROM daily_counts WHERE user_id = %(viewer)s AND day = %(day)s),
       ARRAY(SELECT blocked_id FROM blocks WHERE blocker_id = %(viewer)s
             UNION SELECT blocker_id FROM blocks WHERE blocked_id = %(viewer)s),
       ARRAY(SELECT followee_id FROM follows WHERE follower_id = %(viewer)s),
       ARRAY(SELECT f.followee_id FROM follows f WHERE f.follower_id = %(viewer)s AND EXISTS (
             SELECT 1 FROM follows g WHERE g.follower_id = f.followee_id AND g.followee_id = %(viewer)s)),
       sl.authors, sl.embeddings, set_config('plan_cache_mode', 'force_generic_plan', true)
FROM (SELECT 1) AS one
LEFT JOIN users u ON u.id = %(viewer)s
LEFT JOIN sess ON true
CROSS JOIN LATERAL (
    SELECT array_agg(l.author_user_id) AS authors, string_agg(p.embedding, ''::bytea) AS embeddings
    FROM (SELECT post_id, author_user_id FROM see_less WHERE user_id = %(viewer)s
          ORDER BY created_at DESC LIMIT 20) l
    LEFT JOIN posts p ON p.id = l.post_id) sl
"""

# The candidates' rows, in one statement. The sources computed in memory (followees' newest
# posts, trending, nearest to stated preferences) arrive as id lists, split by the server into
# ids whose facts it holds (`PostFactsCache`, %(held)s) and ids to look up (one list per
# source); remixes of posts the viewer made or liked, and recent public posts for a
# non-personalized feed, are found here. For an id in several sources the lowest rank wins
# (following/mutuals, remixes, trending, preferences, recent). Posts already served to the
# viewer drop out: a looked-up row carries source, whether a remix is of the viewer's own post,
# author and `_FACT_SQL` numbers; of the held ids only those already served come back, as rows
# of an id alone. Followers-only posts count only from the followed source.
_CANDIDATES_SQL = f"""
WITH own AS (
    SELECT id FROM posts WHERE author_user_id = %(viewer)s AND %(personal)s ORDER BY created_at DESC LIMIT 500
), parents AS (
    SELECT id FROM own
    UNION
    (SELECT post_id FROM likes WHERE user_id = %(viewer)s AND %(personal)s ORDER BY created_at DESC LIMIT 500)
), remixed AS (
    -- Per parent by (remix_of_post_id, created_at), then the newest overall. "<> ''" tells the
    -- planner that few posts are remixes (else it walks every post newest-first looking for them).
    SELECT r.id, r.remix_of_post_id IN (SELECT id FROM own) AS of_own
    FROM parents pa CROSS JOIN LATERAL (
        SELECT p.id, p.remix_of_post_id, p.created_at FROM posts p
        WHERE p.remix_of_post_id = pa.id AND p.remix_of_post_id <> '' AND p.state = {PUBLISHED} AND p.visibility = {PUBLIC}
        ORDER BY p.created_at DESC LIMIT %(lim)s) r
    ORDER BY r.created_at DESC LIMIT %(lim)s
), sourced AS (
    SELECT id, {S_FOLLOWING} AS source, 0 AS rank, false AS of_own FROM unnest(string_to_array(%(following)s, ',')) AS t(id)
    UNION ALL SELECT id, {S_MUTUALS}, 0, false FROM unnest(string_to_array(%(mutuals)s, ',')) AS t(id)
    UNION ALL SELECT id, {S_REMIXES}, 1, of_own FROM remixed
    UNION ALL SELECT id, {S_TRENDING}, 2, false FROM unnest(string_to_array(%(trending)s, ',')) AS t(id)
    UNION ALL SELECT id, {S_PREFERENCES}, 3, false FROM unnest(string_to_array(%(nearest)s, ',')) AS t(id)
    UNION ALL (SELECT id, {S_RECENT}, 4, false FROM posts
               WHERE NOT %(personal)s AND state = {PUBLISHED} AND visibility = {PUBLIC}
               ORDER BY created_at DESC LIMIT %(lim)s)
), picked AS (
    -- "C": a byte-wise sort; the default collation's is several times slower and order is irrelevant here.
    SELECT DISTINCT ON (id COLLATE "C") id, source, rank, of_own FROM sourced ORDER BY id COLLATE "C", rank
)
SELECT p.id, p.author_user_id, k.source, k.of_own, {_NUMBERS_SQL} AS numbers
FROM picked k
JOIN posts p ON p.id = k.id
WHERE p.state = {PUBLISHED} AND (p.visibility = {PUBLIC} OR (p.visibility = {FOLLOWERS} AND k.rank = 0))
  AND NOT EXISTS (SELECT 1 FROM served s WHERE s.user_id = %(viewer)s AND s.post_id = p.id)
UNION ALL
-- (A join, not `post_id = ANY(..)`: with a generic plan that compares each of the viewer's served
-- rows with every held id, 0.9 ms for a viewer served 50 posts; the join takes 0.2 ms.)
SELECT h.id, NULL, NULL, NULL, NULL FROM unnest(string_to_array(%(held)s, ',')) AS h(id)
JOIN served s ON s.user_id = %(viewer)s AND s.post_id = h.id
"""
# Which source wins an id found by several (lowest first), as in `_CANDIDATES_SQL`.
_RANK = {S_FOLLOWING: 0, S_MUTUALS: 0, S_REMIXES: 1, S_TRENDING: 2, S_PREFERENCES: 3, S_RECENT: 4}

# The page's full rows (author handle, whether the viewer liked each) and the bookkeeping for
# them in the same statement: served (no repeats), today's count, the session's count (created
# on its first page). The rules that make a post servable are checked here again, on the rows
# as they are now, since ranking may have used facts a few seconds old (`PostFactsCache`): a post
# unpublished or taken down meanwhile, made visible to followers only (unless the viewer follows
# its author) or private, or reported (for a teen) is absent.
_PAGE_SQL = f"""
WITH page AS (
    SELECT {", ".join(f"p.{c.name}" for c in _POST_COLUMNS)}, coalesce(u.handle, '') AS author_handle,
           EXISTS (SELECT 1 FROM likes l WHERE l.user_id = %(viewer)s AND l.post_id = p.id) AS liked_by_caller
    FROM posts p LEFT JOIN users u ON u.id = p.author_user_id
    WHERE p.id = ANY(string_to_array(%(ids)s, ',')) AND p.state = {PUBLISHED}
      AND (p.visibility = {PUBLIC} OR (p.visibility = {FOLLOWERS} AND NOT %(teen)s AND EXISTS (
          SELECT 1 FROM follows f WHERE f.follower_id = %(viewer)s AND f.followee_id = p.author_user_id)))
      AND (NOT %(teen)s OR p.report_count = 0)
), served_rows AS (
    INSERT INTO served (user_id, post_id, served_at) SELECT %(viewer)s, id, %(now)s FROM page
    ON CONFLICT (user_id, post_id) DO NOTHING
), today AS (
    INSERT INTO daily_counts (user_id, day, item_count) SELECT %(viewer)s, %(day)s, count(*) FROM page
    HAVING count(*) > 0
    ON CONFLICT (user_id, day) DO UPDATE SET item_count = daily_counts.item_count + excluded.item_count
), session_count AS (
    INSERT INTO feed_sessions (id, user_id, item_count, started_at)
    SELECT %(session)s, %(viewer)s, count(*), %(now)s FROM page
    ON CONFLICT (id) DO UPDATE SET item_count = feed_sessions.item_count + excluded.item_count
)
SELECT * FROM page
"""
_PAGE_COLUMNS = (*(c.name for c in _POST_COLUMNS), "author_handle", "liked_by_caller")


@dataclass(frozen=True)
class _ViewerState:
    """What `_VIEWER_STATE_SQL` reads besides the user row."""

    session_owner: str | None  # None: a new session
    session_items: int
    served_today: int
    blocked: set[str]  # blocked by or blocking the viewer
    following: list[str]  # whom the viewer follows
    mutuals: frozenset[str]  # of those, who follow the viewer back
    see_less_authors: frozenset[str]
    see_less_vectors: np.ndarray | None


def _id_list(ids: Sequence[str]) -> str:
    """Post ids as one text parameter for `string_to_array(.., ',')` (a text[] parameter costs
    the driver a quoting check per element). Post ids are UUIDs this service made."""
    joined = ",".join(ids)
    if joined.count(",") != max(len(ids) - 1, 0):
        raise ValueError("a post id contains a comma")
    return joined


class Feed:
    def __init__(self, sessions: sessionmaker[Session], tables: EventTables, consent: ConsentChecker,
                 moderator: TextModerator, embedder: Embedder, cursor_key: bytes, config: FeedConfig = FeedConfig(),
                 scorer: CreationScorer | None = None, on_fallback: Callable[[], None] = lambda: None,
                 on_events: Callable[[], None] = lambda: None):
        self.sessions, self.tables = sessions, tables
        self.consent, self.moderator, self.embed = consent, moderator, embedder
        self.cursors = CursorSigner(cursor_key)
        self.config = config
        self.scorer = scorer or CreationScorer()
        self.on_fallback, self.on_events = on_fallback, on_events
        self.prefs_index = PreferenceIndex()
        self.facts = PostFactsCache()
        self.trending = TrendingCache(facts=self.facts)
        self.recent = RecentByAuthor(per_author=config.candidates_per_source, window_s=self._window().total_seconds())

    def warm_up(self) -> None:
        """Load the in-memory indexes, so that no request waits for their first load."""
        with self.sessions() as s:
            self.recent.refresh(s, force=True)
            self.prefs_index.refresh(s, force=True)

    # -- users ------------------------------------------------------------------

    def ensure_user(self, session: Session, user_id: str, handle: str = "", teen: bool | None = None) -> dict:
        """The feed's row for a user; created from the token on first contact
        (identity events fill in region and parental controls)."""
        row = session.execute(select(m.users).where(m.users.c.id == user_id)).mappings().first()
        if row is None:
            values = dict(id=user_id, handle=handle, teen=bool(teen), updated_at=utcnow())
            session.execute(_upsert(m.users, values, ["id"], {}))
            row = session.execute(select(m.users).where(m.users.c.id == user_id)).mappings().one()
        elif (handle and row["handle"] != handle) or (teen is not None and row["teen"] != teen):
            session.execute(update(m.users).where(m.users.c.id == user_id)
                            .values(handle=handle or row["handle"], teen=row["teen"] if teen is None else teen,
                                    updated_at=utcnow()))
            row = session.execute(select(m.users).where(m.users.c.id == user_id)).mappings().one()
        return dict(row)

    def touch_user(self, user_id: str, handle: str, teen: bool) -> None:
        with self.sessions.begin() as s:
            self.ensure_user(s, user_id, handle, teen)

    # -- posts ------------------------------------------------------------------

    def _generation_for_publish(self, user_id: str, generation_id: str) -> dict:
        if not generation_id:
            raise InvalidArgument("say which generation to publish (generation_id)", "missing_generation_id")
        with self.sessions() as s:
            gen = s.execute(select(m.generations).where(m.generations.c.id == generation_id)).mappings().first()
        if gen is None:
            raise NotFound(f"generation {generation_id} is unknown to the feed; only finished generations "
                           "can be published", "generation_not_found")
        if gen["user_id"] != user_id:
            raise PermissionDenied("you can only publish your own generations", "not_generation_owner")
        if gen["status"] != "completed":
            raise FailedPrecondition(f"generation {generation_id} is {gen['status']}; only completed videos "
                                     "can be published", "generation_not_completed")
        return dict(gen)

    async def publish(self, user_id: str, generation_id: str, caption: str, visibility: int) -> dict:
        visibility = visibility or PUBLIC
        if visibility not in (PUBLIC, FOLLOWERS, PRIVATE):
            raise InvalidArgument("visibility must be public, followers or private", "invalid_visibility")
        caption = caption.strip()
        if len(caption) > MAX_CAPTION:
            raise InvalidArgument(f"the caption is {len(caption)} characters; the limit is {MAX_CAPTION}",
                                  "caption_too_long")
        gen = await asyncio.to_thread(self._generation_for_publish, user_id, generation_id)
        if caption and (why := await asyncio.to_thread(self.moderator.refusal, caption)):
            raise InvalidArgument(f"the caption can't be posted: {why}", "caption_refused")
        cameo_ids = json.loads(gen["cameo_ids"])
        if cameo_ids:
            decision = await self.consent.check(user_id, cameo_ids, gen["prompt"], generation_id)
            if not decision.allowed:
                raise PermissionDenied(decision.message or "a cameo owner's consent no longer covers this video",
                                       "cameo_consent_refused")
        vector = (await asyncio.to_thread(self.embed, [f"{caption}. {gen['prompt']}".strip(". ")]))[0]
        post = await asyncio.to_thread(self._write_publish, user_id, gen, caption, visibility, vector)
        self.on_events()
        # Followers of the author see it on their next page from this replica (others: within refresh_s).
        self.recent.put(user_id, post["id"], post["created_at"], visibility in (PUBLIC, FOLLOWERS))
        return post

    def _write_publish(self, user_id: str, gen: dict, caption: str, visibility: int, vector: np.ndarray) -> dict:
        now = utcnow()
        with self.sessions.begin() as s:
            author = self.ensure_user(s, user_id)
            # Re-read under lock: an event may have taken the generation down meanwhile.
            fresh = s.execute(select(m.generations.c.status).where(m.generations.c.id == gen["id"])
                              .with_for_update()).scalar_one()
            if fresh != "completed":
                raise FailedPrecondition(f"generation {gen['id']} is {fresh}; it can't be published",
                                         "generation_not_completed")
            existing = s.execute(select(m.posts).where(m.posts.c.generation_id == gen["id"])).mappings().first()
            parent_id = ""
            if gen["remix_of"]:
                parent_id = s.execute(select(m.posts.c.id).where(m.posts.c.generation_id == gen["remix_of"])
                                      ).scalar_one_or_none() or ""
            values = dict(caption=caption, prompt=gen["prompt"], visibility=visibility, state=PUBLISHED,
                          cameo_ids=gen["cameo_ids"], remix_of_post_id=parent_id,
                          remix_of_generation_id=gen["remix_of"], region=author["region"],
                          embedding=vec_bytes(vector), updated_at=now)
            if existing is not None:
                if existing["state"] == PUBLISHED:
                    raise AlreadyExists(f"generation {gen['id']} is already published as post {existing['id']}",
                                        "already_published")
                if existing["state"] != UNPUBLISHED:
                    raise FailedPrecondition("this video was removed and can't be published again",
                                             "post_removed")
                post_id = existing["id"]
                s.execute(update(m.posts).where(m.posts.c.id == post_id).values(**values))
            else:
                post_id = str(uuid.uuid4())
                s.execute(insert(m.posts).values(id=post_id, author_user_id=user_id, generation_id=gen["id"],
                                                 created_at=now, **values))
            if parent_id:
                s.execute(update(m.posts).where(m.posts.c.id == parent_id)
                          .values(remix_count=m.posts.c.remix_count + 1))
            event = events_pb2.PostPublished(
                post_id=post_id, author_user_id=user_id, generation_id=gen["id"],
                cameo_ids=json.loads(gen["cameo_ids"]), visibility=visibility, remix_of_post_id=parent_id,
                remix_of_generation_id=gen["remix_of"])
            event.occurred_at.FromDatetime(now)
            emit(s, self.tables, POSTS_TOPIC, event, "post", post_id)
            return self._post_view(s, post_id, user_id)

    def _remove(self, user_id: str, post_id: str, new_state: int, reason: int) -> dict | None:
        with self.sessions.begin() as s:
            post = self._post_row(s, post_id, lock=True)
            if post is None or post["state"] in (DELETED, TAKEN_DOWN):
                raise NotFound(f"post {post_id} does not exist", "post_not_found")
            if post["author_user_id"] != user_id:
                raise PermissionDenied("only the author can do this to a post", "not_post_author")
            if new_state == UNPUBLISHED and post["state"] != PUBLISHED:
                raise FailedPrecondition("the post is already a draft", "already_unpublished")
            self._set_removed(s, post, new_state, reason)
            view = self._post_view(s, post_id, user_id) if new_state == UNPUBLISHED else None
        self.on_events()
        return view

    def unpublish(self, user_id: str, post_id: str) -> dict:
        return self._remove(user_id, post_id, UNPUBLISHED, events_pb2.REMOVAL_REASON_UNPUBLISHED)

    def delete_post(self, user_id: str, post_id: str) -> None:
        self._remove(user_id, post_id, DELETED, events_pb2.REMOVAL_REASON_DELETED)

    def _set_removed(self, s: Session, post: dict, new_state: int, reason: int, takedown_id: str = "") -> None:
        self.facts.forget([post["id"]])
        s.execute(update(m.posts).where(m.posts.c.id == post["id"]).values(state=new_state, updated_at=utcnow()))
        if post["remix_of_post_id"] and post["state"] == PUBLISHED:
            s.execute(update(m.posts).where(m.posts.c.id == post["remix_of_post_id"])
                      .values(remix_count=case((m.posts.c.remix_count > 0, m.posts.c.remix_count - 1), else_=0)))
        event = events_pb2.PostRemoved(post_id=post["id"], author_user_id=post["author_user_id"],
                                       generation_id=post["generation_id"], cameo_ids=json.loads(post["cameo_ids"]),
                                       reason=reason, takedown_id=takedown_id)
        event.occurred_at.FromDatetime(utcnow())
        emit(s, self.tables, POSTS_TOPIC, event, "post", post["id"])

    def _post_row(self, s: Session, post_id: str, lock: bool = False) -> dict | None:
        try:
            uuid.UUID(post_id)
        except (ValueError, AttributeError):
            return None
        q = select(*_POST_COLUMNS).where(m.posts.c.id == post_id)
        row = s.execute(q.with_for_update() if lock else q).mappings().first()
        return dict(row) if row else None

    def _post_view(self, s: Session, post_id: str, viewer_id: str) -> dict:
        row = self._post_row(s, post_id)
        row["author_handle"] = s.execute(select(m.users.c.handle).where(m.users.c.id == row["author_user_id"])
                                         ).scalar_one_or_none() or ""
        row["liked_by_caller"] = s.execute(select(func.count()).select_from(m.likes).where(
            m.likes.c.user_id == viewer_id, m.likes.c.post_id == post_id)).scalar_one() > 0
        return row

    def _visible_post(self, s: Session, viewer_id: str, post_id: str) -> dict:
        """The post if the viewer may see it; NotFound otherwise (never reveal a hidden post exists)."""
        if not post_id:
            raise InvalidArgument("say which post (post_id)", "missing_post_id")
        post = self._post_row(s, post_id)
        missing = NotFound(f"post {post_id} does not exist or is not visible to you", "post_not_found")
        if post is None or post["state"] in (DELETED, TAKEN_DOWN):
            raise missing
        author = post["author_user_id"]
        if author == viewer_id:
            return post
        if post["state"] != PUBLISHED or post["visibility"] == PRIVATE or self._blocked_between(s, viewer_id, author):
            raise missing
        if post["visibility"] == FOLLOWERS and not self._follows(s, viewer_id, author):
            raise missing
        return post

    def get_post(self, viewer_id: str, post_id: str) -> dict:
        with self.sessions() as s:
            self._visible_post(s, viewer_id, post_id)
            return self._post_view(s, post_id, viewer_id)

    def visible_post_of_generation(self, viewer_id: str, generation_id: str) -> str:
        """The id of the generation's post if the viewer may see it, else "" (the
        generator asks before someone else's clip becomes a remix source)."""
        if not viewer_id or not generation_id:
            raise InvalidArgument("say who is looking (viewer_user_id) and at what (generation_id)",
                                  "missing_viewer_or_generation")
        with self.sessions() as s:
            post_id = s.execute(select(m.posts.c.id).where(m.posts.c.generation_id == generation_id)
                                ).scalar_one_or_none()
            if post_id is None:
                return ""
            try:
                self._visible_post(s, viewer_id, post_id)
            except NotFound:
                return ""
            return post_id

    def list_user_posts(self, viewer_id: str, user_id: str, page_size: int, token: str) -> tuple[list[dict], str]:
        user_id = user_id or viewer_id
        offset = self._offset(token, viewer_id, f"posts:{user_id}")
        size = self._size(page_size)
        p = m.posts.c
        with self.sessions() as s:
            q = select(p.id).where(p.author_user_id == user_id)
            if user_id == viewer_id:
                q = q.where(p.state.in_([PUBLISHED, UNPUBLISHED]))  # your drafts too
            else:
                if self._blocked_between(s, viewer_id, user_id):
                    return [], ""
                allowed = [PUBLIC, FOLLOWERS] if self._follows(s, viewer_id, user_id) else [PUBLIC]
                q = q.where(p.state == PUBLISHED, p.visibility.in_(allowed))
            ids = list(s.execute(q.order_by(p.created_at.desc(), p.id).offset(offset).limit(size + 1)).scalars())
            views = [self._post_view(s, i, viewer_id) for i in ids[:size]]
        return views, self._next(ids, size, offset, viewer_id, f"posts:{user_id}")

    # -- paging helpers -----------------------------------------------------------

    def _size(self, requested: int) -> int:
        if requested < 0:
            raise InvalidArgument("page_size can't be negative", "invalid_page_size")
        return min(requested or self.config.page_size, self.config.max_page_size)

    def _offset(self, token: str, viewer_id: str, scope: str) -> int:
        if not token:
            return 0
        payload = self.cursors.verify(token, kind=scope, user_id=viewer_id)
        return int(payload["o"])

    def _next(self, ids: list, size: int, offset: int, viewer_id: str, scope: str) -> str:
        return self.cursors.sign({"k": scope, "u": viewer_id, "o": offset + size}) if len(ids) > size else ""

    # -- social graph -------------------------------------------------------------

    def _require_other(self, viewer_id: str, other_id: str, verb: str) -> None:
        if not other_id:
            raise InvalidArgument(f"say whom to {verb} (user_id)", "missing_user_id")
        if other_id == viewer_id:
            raise InvalidArgument(f"you can't {verb} yourself", f"cannot_{verb}_self")

    def _follows(self, s: Session, a: str, b: str) -> bool:
        return s.execute(select(func.count()).select_from(m.follows).where(
            m.follows.c.follower_id == a, m.follows.c.followee_id == b)).scalar_one() > 0

    def _blocked_between(self, s: Session, a: str, b: str) -> bool:
        bl = m.blocks.c
        return s.execute(select(func.count()).select_from(m.blocks).where(or_(
            and_(bl.blocker_id == a, bl.blocked_id == b), and_(bl.blocker_id == b, bl.blocked_id == a)))
        ).scalar_one() > 0

    def _emit_follow(self, s: Session, follower: str, followee: str, following: bool) -> bool:
        back = self._follows(s, followee, follower)
        event = events_pb2.FollowChanged(follower_user_id=follower, followee_user_id=followee, following=following,
                                         followed_back=back)
        event.occurred_at.FromDatetime(utcnow())
        emit(s, self.tables, GRAPH_TOPIC, event, "user", follower)
        return back

    def follow(self, viewer_id: str, user_id: str) -> bool:
        self._require_other(viewer_id, user_id, "follow")
        with self.sessions.begin() as s:
            if self._blocked_between(s, viewer_id, user_id):
                raise FailedPrecondition("you can't follow this account", "blocked")
            if self._follows(s, viewer_id, user_id):
                return self._follows(s, user_id, viewer_id)  # already following: nothing changes
            s.execute(insert(m.follows).values(follower_id=viewer_id, followee_id=user_id, created_at=utcnow()))
            mutual = self._emit_follow(s, viewer_id, user_id, True)
        self.on_events()
        return mutual

    def unfollow(self, viewer_id: str, user_id: str) -> None:
        self._require_other(viewer_id, user_id, "unfollow")
        with self.sessions.begin() as s:
            gone = s.execute(delete(m.follows).where(m.follows.c.follower_id == viewer_id,
                                                     m.follows.c.followee_id == user_id)).rowcount
            if gone:
                self._emit_follow(s, viewer_id, user_id, False)
        self.on_events()

    def block(self, viewer_id: str, user_id: str) -> None:
        self._require_other(viewer_id, user_id, "block")
        with self.sessions.begin() as s:
            exists = s.execute(select(func.count()).select_from(m.blocks).where(
                m.blocks.c.blocker_id == viewer_id, m.blocks.c.blocked_id == user_id)).scalar_one()
            if exists:
                return
            s.execute(insert(m.blocks).values(blocker_id=viewer_id, blocked_id=user_id, created_at=utcnow()))
            # A block ends following both ways.
            f = m.follows.c
            for a, b in ((viewer_id, user_id), (user_id, viewer_id)):
                if s.execute(delete(m.follows).where(f.follower_id == a, f.followee_id == b)).rowcount:
                    self._emit_follow(s, a, b, False)
            event = events_pb2.BlockChanged(blocker_user_id=viewer_id, blocked_user_id=user_id, blocked=True)
            event.occurred_at.FromDatetime(utcnow())
            emit(s, self.tables, GRAPH_TOPIC, event, "user", viewer_id)
        self.on_events()

    def unblock(self, viewer_id: str, user_id: str) -> None:
        self._require_other(viewer_id, user_id, "unblock")
        with self.sessions.begin() as s:
            gone = s.execute(delete(m.blocks).where(m.blocks.c.blocker_id == viewer_id,
                                                    m.blocks.c.blocked_id == user_id)).rowcount
            if gone:
                event = events_pb2.BlockChanged(blocker_user_id=viewer_id, blocked_user_id=user_id, blocked=False)
                event.occurred_at.FromDatetime(utcnow())
                emit(s, self.tables, GRAPH_TOPIC, event, "user", viewer_id)
        self.on_events()

    def list_people(self, viewer_id: str, user_id: str, which: str, page_size: int, token: str
                    ) -> tuple[list[dict], str]:
        """which: followers | following | mutuals."""
        user_id = user_id or viewer_id
        scope = f"{which}:{user_id}"
        offset, size = self._offset(token, viewer_id, scope), self._size(page_size)
        f, back_table = m.follows.c, m.follows.alias("back")
        back, u = back_table.c, m.users.c
        other = f.follower_id if which == "followers" else f.followee_id
        q = (select(other.label("uid"), f.created_at, u.handle).select_from(m.follows)
             .outerjoin(m.users, u.id == other))
        if which == "followers":
            q = q.where(f.followee_id == user_id)
        else:
            q = q.where(f.follower_id == user_id)
            if which == "mutuals":
                q = q.join(back_table, and_(back.follower_id == f.followee_id, back.followee_id == user_id))
        q = q.order_by(f.created_at.desc(), other).offset(offset).limit(size + 1)
        with self.sessions() as s:
            rows = [dict(r) for r in s.execute(q).mappings()]
        return rows[:size], self._next(rows, size, offset, viewer_id, scope)

    # -- reactions ----------------------------------------------------------------

    def like(self, viewer_id: str, post_id: str, liked: bool) -> int:
        with self.sessions.begin() as s:
            self._visible_post(s, viewer_id, post_id)
            lk = m.likes.c
            if liked:
                changed = s.execute(_upsert(m.likes, dict(user_id=viewer_id, post_id=post_id, created_at=utcnow()),
                                            ["user_id", "post_id"], None)).rowcount
            else:
                changed = s.execute(delete(m.likes).where(lk.user_id == viewer_id, lk.post_id == post_id)).rowcount
            delta = (1 if liked else -1) if changed else 0
            if delta:
                s.execute(update(m.posts).where(m.posts.c.id == post_id)
                          .values(like_count=m.posts.c.like_count + delta))
            return s.execute(select(m.posts.c.like_count).where(m.posts.c.id == post_id)).scalar_one()

    def create_comment(self, viewer_id: str, handle: str, post_id: str, text: str) -> dict:
        text = (text or "").strip()
        if not text:
            raise InvalidArgument("the comment is empty", "empty_comment")
        if len(text) > MAX_COMMENT:
            raise InvalidArgument(f"the comment is {len(text)} characters; the limit is {MAX_COMMENT}",
                                  "comment_too_long")
        with self.sessions() as s:
            self._visible_post(s, viewer_id, post_id)
        if (why := self.moderator.refusal(text)):
            raise InvalidArgument(f"the comment can't be posted: {why}", "comment_refused")
        row = dict(id=str(uuid.uuid4()), post_id=post_id, author_user_id=viewer_id, author_handle=handle,
                   text=text, created_at=utcnow())
        with self.sessions.begin() as s:
            self._visible_post(s, viewer_id, post_id)
            s.execute(insert(m.comments).values(**row))
            s.execute(update(m.posts).where(m.posts.c.id == post_id)
                      .values(comment_count=m.posts.c.comment_count + 1))
        return row

    def list_comments(self, viewer_id: str, post_id: str, page_size: int, token: str) -> tuple[list[dict], str]:
        scope = f"comments:{post_id}"
        offset, size = self._offset(token, viewer_id, scope), self._size(page_size)
        c = m.comments.c
        with self.sessions() as s:
            self._visible_post(s, viewer_id, post_id)
            rows = [dict(r) for r in s.execute(select(m.comments).where(c.post_id == post_id)
                                               .order_by(c.created_at, c.id).offset(offset).limit(size + 1)).mappings()]
        return rows[:size], self._next(rows, size, offset, viewer_id, scope)

    def delete_comment(self, viewer_id: str, comment_id: str) -> None:
        with self.sessions.begin() as s:
            try:
                uuid.UUID(comment_id)
                row = s.execute(select(m.comments).where(m.comments.c.id == comment_id)).mappings().first()
            except ValueError:
                row = None
            if row is None:
                raise NotFound(f"comment {comment_id} does not exist", "comment_not_found")
            post_author = s.execute(select(m.posts.c.author_user_id).where(m.posts.c.id == row["post_id"])
                                    ).scalar_one_or_none()
            if viewer_id not in (row["author_user_id"], post_author):
                raise PermissionDenied("only the comment's author or the post's author can delete it",
                                       "not_comment_author")
            s.execute(delete(m.comments).where(m.comments.c.id == comment_id))
            s.execute(update(m.posts).where(m.posts.c.id == row["post_id"])
                      .values(comment_count=m.posts.c.comment_count - 1))

    def see_less(self, viewer_id: str, post_id: str, note: str) -> None:
        with self.sessions.begin() as s:
            post = self._visible_post(s, viewer_id, post_id)
            added = s.execute(_upsert(m.see_less, dict(user_id=viewer_id, post_id=post_id,
                                                         author_user_id=post["author_user_id"],
                                                         note=(note or "")[:500], created_at=utcnow()),
                                      ["user_id", "post_id"], None)).rowcount
            if added:
                s.execute(update(m.posts).where(m.posts.c.id == post_id)
                          .values(see_less_count=m.posts.c.see_less_count + 1))

    def report(self, viewer_id: str, post_id: str, reason: int, details: str) -> str:
        if reason not in feed_pb2.ReportReason.values() or reason == feed_pb2.REPORT_REASON_UNSPECIFIED:
            raise InvalidArgument("choose a report reason", "missing_report_reason")
        if len(details or "") > 2000:
            raise InvalidArgument("report details are limited to 2000 characters", "details_too_long")
        report_id = str(uuid.uuid4())
        with self.sessions.begin() as s:
            self._visible_post(s, viewer_id, post_id)
            s.execute(insert(m.reports).values(id=report_id, post_id=post_id, reporter_user_id=viewer_id,
                                               reason=reason, details=details or "", created_at=utcnow()))
            s.execute(update(m.posts).where(m.posts.c.id == post_id)
                      .values(report_count=m.posts.c.report_count + 1))
        return report_id

    def record_views(self, viewer_id: str, views: list[tuple[str, int, datetime | None]]) -> None:
        """Views of items the feed served; others are ignored (a view can't be claimed for an unserved item)."""
        if len(views) > 200:
            raise InvalidArgument("send at most 200 views at a time", "too_many_views")
        with self.sessions.begin() as s:
            for post_id, watch_ms, viewed_at in views:
                if watch_ms < 0:
                    raise InvalidArgument("watch_ms can't be negative", "invalid_watch_ms")
                sv = m.served.c
                done = s.execute(update(m.served).where(sv.user_id == viewer_id, sv.post_id == post_id,
                                                        sv.viewed_at.is_(None))
                                 .values(viewed_at=viewed_at or utcnow(), watch_ms=min(watch_ms, 3_600_000)))
                if done.rowcount:
                    s.execute(update(m.posts).where(m.posts.c.id == post_id)
                              .values(view_count=m.posts.c.view_count + 1,
                                      watch_ms=m.posts.c.watch_ms + min(watch_ms, 3_600_000)))

    # -- remix lineage ----------------------------------------------------------------

    def get_remixes(self, viewer_id: str, post_id: str, max_depth: int) -> tuple[dict, list[dict], bool]:
        """(tree rooted at the post: {"post", "children"}, ancestors nearest first, truncated)."""
        depth = MAX_REMIX_DEPTH if max_depth <= 0 else min(max_depth, MAX_REMIX_DEPTH)
        p = m.posts.c
        with self.sessions() as s:
            self._visible_post(s, viewer_id, post_id)
            root = {"post": self._post_view(s, post_id, viewer_id), "children": []}
            truncated, count = False, 1
            level = [root]
            for _ in range(depth):
                ids = [n["post"]["id"] for n in level]
                children = s.execute(select(p.id, p.remix_of_post_id).where(
                    p.remix_of_post_id.in_(ids), p.remix_of_post_id != "", p.state == PUBLISHED).order_by(p.created_at)).all()
                nxt = []
                by_id = {n["post"]["id"]: n for n in level}
                for child_id, parent_id in children:
                    try:
                        self._visible_post(s, viewer_id, child_id)
                    except NotFound:
                        continue
                    if count >= MAX_REMIX_NODES:
                        truncated = True
                        break
                    node = {"post": self._post_view(s, child_id, viewer_id), "children": []}
                    by_id[parent_id]["children"].append(node)
                    nxt.append(node)
                    count += 1
                level = nxt
                if not level:
                    break
            else:
                if level and s.execute(select(func.count()).select_from(m.posts).where(
                        p.remix_of_post_id.in_([n["post"]["id"] for n in level]), p.state == PUBLISHED)).scalar_one():
                    truncated = True
            ancestors, current = [], root["post"]
            while current["remix_of_post_id"] and len(ancestors) < 50:
                try:
                    self._visible_post(s, viewer_id, current["remix_of_post_id"])
                except NotFound:
                    break  # a hidden ancestor ends the visible chain
                current = self._post_view(s, current["remix_of_post_id"], viewer_id)
                ancestors.append(current)
        return root, ancestors, truncated

    # -- preferences --------------------------------------------------------------------

    def set_preferences(self, viewer_id: str, text: str) -> dict:
        text = (text or "").strip()
        phrases = parse_preferences(text)
        if text and not phrases:
            raise InvalidArgument("couldn't find any topics in that; try 'more cooking and pets, less sports'",
                                  "no_preferences_found")
        vectors = self.embed([p for p, _ in phrases]) if phrases else None
        now = utcnow()
        with self.sessions.begin() as s:
            self.ensure_user(s, viewer_id)
            s.execute(update(m.users).where(m.users.c.id == viewer_id).values(
                prefs_text=text, prefs_phrases=json.dumps(phrases),
                prefs_vectors=vec_bytes(vectors) if vectors is not None else None, prefs_updated_at=now))
        return {"text": text, "updated_at": now, "phrases": phrases}

    def get_preferences(self, viewer_id: str) -> dict:
        with self.sessions() as s:
            row = s.execute(select(m.users.c.prefs_text, m.users.c.prefs_updated_at)
                            .where(m.users.c.id == viewer_id)).first()
        return {"text": row[0] if row else "", "updated_at": row[1] if row else None}

    # -- the feed --------------------------------------------------------------------------

    def get_feed(self, viewer_id: str, handle: str, teen: bool, page_size: int, token: str,
                 session_id: str) -> FeedPage:
        size = self._size(page_size)
        page_no = 0
        if token:
            payload = self.cursors.verify(token, kind="feed", user_id=viewer_id)
            session_id, page_no = payload["s"], int(payload["p"])
        elif session_id:
            try:
                uuid.UUID(session_id)
            except ValueError:
                raise InvalidArgument("session_id must be one the feed returned", "invalid_session_id") from None
        now = utcnow()
        today = now.date()
        with self.sessions.begin() as s:
            if not session_id:
                session_id = str(uuid.uuid4())
            # One statement, then one more for the page, which also records it as served (_PAGE_SQL).
            user, state = self._viewer_state(s, viewer_id, handle, teen, session_id, today)
            owner, session_items, served_today = state.session_owner, state.session_items, state.served_today
            if owner is not None and owner != viewer_id:
                raise InvalidArgument("session_id must be one the feed returned to you", "invalid_session_id")
            cap = user["daily_item_cap"] if user["teen"] else 0
            if cap and served_today >= cap:
                return FeedPage([], "", session_id, cap_reached=True, cap_message=_cap_message(cap),
                                non_personalized=user["non_personalized"])
            if cap:
                size = min(size, cap - served_today)
            personalized = not user["non_personalized"]
            items, timings, fallback = self._rank(s, user, size, personalized, now, state, session_id)
            session_items += len(items)
        nudge = ""
        if session_items >= self.config.nudge_after_items:
            nudge = (f"You've watched {session_items} videos this session. Why not make one? "
                     "Remix something you liked or start from a prompt.")
        cap_reached = bool(cap) and served_today + len(items) >= cap
        more = bool(items) and not cap_reached
        next_token = self.cursors.sign({"k": "feed", "u": viewer_id, "s": session_id, "p": page_no + 1}) if more else ""
        return FeedPage(items, next_token, session_id, nudge=nudge, cap_reached=cap_reached,
                        cap_message=_cap_message(cap) if cap_reached else "", fallback=fallback,
                        non_personalized=not personalized, timings=timings)

    def _rank(self, s: Session, user: dict, size: int, personalized: bool, now: datetime,
              state: _ViewerState, session_id: str):
        """The page as (row, source, reason, score) tuples, the time per stage, and whether it fell back.
        The page's rows are read and recorded as served in one statement."""
        t0 = time.perf_counter()
        viewer_id = user["id"]
        viewer = ViewerContext(user_id=viewer_id, now_ts=now.timestamp(), teen=user["teen"])
        if personalized and state.see_less_authors:
            viewer.see_less_authors = state.see_less_authors
            viewer.see_less_vectors = state.see_less_vectors
        batch, blocked, seen = self._candidates(s, user, viewer, personalized, state)
        t1 = time.perf_counter()
        fallback = False
        try:
            scores, matched = self.scorer.score(batch, viewer)
        except Exception:  # noqa: BLE001 - any scorer failure: serve newest first rather than nothing
            fallback = True
            self.on_fallback()
            scores, matched = batch.created_ts / 1e10, np.full(len(batch), -1)
            batch.sources = np.full(len(batch), S_RECENT)
        t2 = time.perf_counter()
        policy = self.config.policy
        if fallback or not personalized:
            # Without connections in play the connected share means nothing.
            policy = PolicyConfig(max_per_author=policy.max_per_author, connected_share=0.0)
        picked = apply_policy(batch, scores, size, policy, blocked=blocked, seen=seen, viewer=viewer)
        picked_ids = [batch.post_ids[i] for i in picked]
        rows = self._record_page(s, viewer_id, picked_ids, now, session_id, bool(user["teen"]))
        page = []
        for i in picked:
            row = rows.get(batch.post_ids[i])
            if row is None:  # no longer servable (unpublished, taken down, made private...) since it was read
                self.facts.forget([batch.post_ids[i]])
                continue
            source, phrase = int(batch.sources[i]), viewer.pref_phrases[matched[i]] if matched[i] >= 0 else ""
            if fallback:
                reason = "recent (ranking is unavailable right now)"
            elif phrase and source in (S_PREFERENCES, S_TRENDING):
                # A global item that fits a stated interest is explained by that interest.
                source, reason = S_PREFERENCES, f"matches your interest in “{phrase}”"
            else:
                reason = _reason(source, row["author_handle"] or "someone",
                                 batch.of_own is not None and bool(batch.of_own[i]), user["region"])
            page.append((row, source, reason, float(scores[i])))
        t3 = time.perf_counter()
        timings = {"candidates_ms": (t1 - t0) * 1000, "score_ms": (t2 - t1) * 1000,
                   "policy_ms": (t3 - t2) * 1000, "candidate_count": len(batch)}
        return page, timings, fallback

    def _preferred(self, s, viewer, user, limit: int) -> list[str]:
        """Posts nearest the viewer's stated preferences; records them on the viewer for scoring."""
        vectors = vec_from(user["prefs_vectors"], rows=1)
        if vectors is None:
            return []
        phrases = json.loads(user["prefs_phrases"])
        viewer.pref_vectors = vectors
        viewer.pref_signs = np.array([sign for _, sign in phrases], dtype=np.float32)
        viewer.pref_phrases = [phrase for phrase, _ in phrases]
        pos, neg = vectors[viewer.pref_signs > 0], vectors[viewer.pref_signs < 0]
        if not len(pos):
            return []
        self.prefs_index.refresh(s)
        return self.prefs_index.nearest(pos, neg, limit)

    def _viewer_state(self, s: Session, viewer_id: str, handle: str, teen: bool | None, session_id: str,
                      today) -> tuple[dict, _ViewerState]:
        """The viewer's row (created or updated from the token as `ensure_user` does) and
        `_ViewerState`, from one statement (`_VIEWER_STATE_SQL`)."""
        with s.connection().connection.cursor(binary=True) as cur:
            cur.execute(_VIEWER_STATE_SQL, dict(viewer=viewer_id, session=session_id, day=today))
            row = cur.fetchone()
        n = len(_USER_COLUMNS)
        user = dict(zip(_USER_COLUMNS, row[:n]))
        if user["id"] is None or (handle and user["handle"] != handle) or (teen is not None and user["teen"] != teen):
            user = self.ensure_user(s, viewer_id, handle, teen)
        owner, session_items, served_today, blocked, following, mutuals, see_less_authors, see_less_embs, _ = row[n:]
        vectors = np.frombuffer(see_less_embs, dtype=np.float32).reshape(-1, DIM) if see_less_embs else None
        return user, _ViewerState(owner, session_items or 0, served_today or 0, set(blocked), following,
                                  frozenset(mutuals), frozenset(see_less_authors or ()), vectors)

    def _window(self) -> timedelta:
        """How far back the followed source looks."""
        return timedelta(days=max(self.config.trending_days, 1.0) * 4)

    def _candidates(self, s: Session, user: dict, viewer: ViewerContext, personalized: bool, state: _ViewerState):
        """Every candidate source and the candidates' scoring features, less what the viewer was
        already served. Followees' newest posts, trending and preference ids come
        from memory, with the facts of those `PostFactsCache` holds; one statement
        (`_CANDIDATES_SQL`) adds remixes, reads the other facts and drops what was served.
        Embeddings come from the preference index when it holds the current version, else from
        one more query."""
        limit = self.config.candidates_per_source
        shared: dict[str, int] = {}  # id -> source, for the sources in memory; the first source wins
        if personalized and state.following:
            self.recent.refresh(s)
            ids, authors, _ = self.recent.newest(state.following, limit)
            mutuals = state.mutuals
            shared.update(zip(ids, [S_MUTUALS if a in mutuals else S_FOLLOWING for a in authors]))
        for post_id in self.trending.get(s, user["region"], self.config.trending_days, limit, sessions=self.sessions):
            shared.setdefault(post_id, S_TRENDING)
        for post_id in (self._preferred(s, viewer, user, limit) if personalized else ()):
            shared.setdefault(post_id, S_PREFERENCES)
        held, held_sources, held_authors, held_numbers, missing = self.facts.lookup(shared)
        lookup: dict[int, list[str]] = {S_FOLLOWING: [], S_MUTUALS: [], S_TRENDING: [], S_PREFERENCES: []}
        for post_id in missing:
            lookup[shared[post_id]].append(post_id)
        # The driver's cursor, not a SQLAlchemy result: plain tuples, turned into columns in C (zip).
        # Binary results: PostgreSQL skips formatting ~10k values as text and the driver parsing them.
        with s.connection().connection.cursor(binary=True) as cur:
            cur.execute(_CANDIDATES_SQL, dict(
                viewer=user["id"], personal=personalized, lim=limit, held=_id_list(held),
                following=_id_list(lookup[S_FOLLOWING]), mutuals=_id_list(lookup[S_MUTUALS]),
                trending=_id_list(lookup[S_TRENDING]), nearest=_id_list(lookup[S_PREFERENCES])))
            rows = cur.fetchall()
        found = [r for r in rows if r[4] is not None]
        self.facts.put([(r[0], r[1], r[4]) for r in found if r[0] in shared])
        sources, of_own_found = [], []
        for post_id, _, source, remix_of_own, _ in found:
            mine = shared.get(post_id)  # held in memory as followed, and found here as a remix: followed
            if mine is not None and _RANK[mine] < _RANK[source]:
                source, remix_of_own = mine, False
            sources.append(source)
            of_own_found.append(remix_of_own)
        # Held candidates the statement did not return (as a remix) nor report as served.
        skip = {r[0] for r in rows}
        keep = [post_id not in skip for post_id in held]
        numbers = np.concatenate([
            np.frombuffer(b"".join([r[4] for r in found]), dtype=">i8").reshape(-1, len(_FACT_SQL)),
            np.frombuffer(held_numbers, dtype=">i8").reshape(-1, len(_FACT_SQL))[keep]])
        post_ids = [r[0] for r in found] + list(itertools.compress(held, keep))
        sources = np.array(sources + list(itertools.compress(held_sources, keep)), dtype=np.int64)
        batch_authors = [r[1] for r in found] + list(itertools.compress(held_authors, keep))
        of_own = np.zeros(len(post_ids), dtype=bool)
        of_own[:len(found)] = of_own_found
        # Held facts may be seconds old: a followers-only post counts only as followed (as in the statement).
        vis = numbers[len(found):, _VISIBILITY]
        ok = np.ones(len(post_ids), dtype=bool)
        ok[len(found):] = (vis == PUBLIC) | ((vis == FOLLOWERS) & np.isin(sources[len(found):], (S_FOLLOWING, S_MUTUALS)))
        if not ok.all():
            take = np.flatnonzero(ok)
            post_ids, batch_authors = [post_ids[k] for k in take], [batch_authors[k] for k in take]
            numbers, sources, of_own = numbers[take], sources[take], of_own[take]
        numbers = numbers.T.astype(np.int64)
        visibility, has_embedding, created_us, stamps = numbers[:4]
        batch = Candidates(post_ids, batch_authors, sources, created_us / 1e6,
                           dict(zip(_FEATURES, numbers[4:].astype(np.float64))),
                           visibility=visibility, of_own=of_own)
        if (viewer.pref_vectors is not None or viewer.see_less_vectors is not None) and post_ids:
            batch.embeddings, missed = self.prefs_index.embeddings(batch.post_ids, stamps)
            missed = {post_ids[k]: k for k in missed if has_embedding[k]}
            if missed:
                read = []
                for post_id, emb in s.execute(select(m.posts.c.id, m.posts.c.embedding).where(
                        m.posts.c.id.in_(list(missed)))):
                    if emb:
                        k = missed[post_id]
                        batch.embeddings[k] = vector = np.frombuffer(emb, dtype=np.float32)
                        read.append((post_id, int(stamps[k]), vector))
                self.prefs_index.remember(read)
        return batch, state.blocked, set()  # served posts were left out by the query

    def _record_page(self, s: Session, viewer_id: str, ids: list[str], now: datetime, session_id: str,
                     teen: bool) -> dict[str, dict]:
        """The page's rows still servable by id (`_PAGE_SQL`), recorded as served with today's
        and the session's counts, in one statement."""
        with s.connection().connection.cursor(binary=True) as cur:
            cur.execute(_PAGE_SQL, dict(viewer=viewer_id, ids=_id_list(ids), now=now, day=now.date(),
                                        session=session_id, teen=teen))
            return {r[0]: dict(zip(_PAGE_COLUMNS, r)) for r in cur.fetchall()}

    # -- event effects (called by handlers inside the consumer's transaction) ----------------

    def on_generation(self, s: Session, facts, status: str, prompt: str | None = None) -> None:
        g = m.generations.c
        existing = s.execute(select(g.status).where(g.id == facts.generation_id).with_for_update()).scalar_one_or_none()
        if existing in ("taken_down", "deleted"):
            return  # final states
        if existing is None and status in ("taken_down", "deleted"):
            # Gone before the feed ever had it, or erased with its maker's account (UserDeleted may
            # overtake the takedown on another topic): nothing to remove, and no copy to make.
            return
        values = dict(id=facts.generation_id, user_id=facts.user_id, status=status,
                      cameo_ids=json.dumps(list(facts.cameo_ids)), remix_of=facts.remix_of, updated_at=utcnow())
        if prompt is not None:
            values["prompt"] = prompt
        if existing is None:
            values.setdefault("prompt", "")
            s.execute(insert(m.generations).values(**values))
        elif not (existing == "completed" and status in ("pending",)):  # a late "requested" never undoes completion
            s.execute(update(m.generations).where(g.id == facts.generation_id).values(**values))
        if status == "completed" and existing != "completed":
            self._credit_creation(s, facts)
        if status in ("taken_down", "deleted"):
            state, reason = ((TAKEN_DOWN, events_pb2.REMOVAL_REASON_TAKEN_DOWN) if status == "taken_down"
                             else (DELETED, events_pb2.REMOVAL_REASON_DELETED))
            for post in s.execute(select(*_POST_COLUMNS).where(m.posts.c.generation_id == facts.generation_id,
                                                              m.posts.c.state.in_([PUBLISHED, UNPUBLISHED]))
                                  ).mappings().all():
                self._set_removed(s, dict(post), state, reason)

    def _credit_creation(self, s: Session, facts) -> None:
        """A finished generation credits what inspired it: the remixed post,
        and posts its maker watched shortly before (and ones with the same cameo)."""
        p, sv = m.posts.c, m.served.c
        if facts.remix_of:
            s.execute(update(m.posts).where(p.generation_id == facts.remix_of)
                      .values(remix_generations=p.remix_generations + 1))
        viewed = s.execute(select(sv.post_id).where(sv.user_id == facts.user_id, sv.viewed_at.is_not(None),
                                                    sv.viewed_at > utcnow() - VIEW_CREDIT_WINDOW)
                           .order_by(sv.viewed_at.desc()).limit(VIEW_CREDIT_POSTS)).scalars().all()
        if not viewed:
            return
        s.execute(update(m.posts).where(p.id.in_(viewed)).values(created_after_view=p.created_after_view + 1))
        if facts.cameo_ids:
            wanted = set(facts.cameo_ids)
            hits = [row.id for row in s.execute(select(p.id, p.cameo_ids).where(p.id.in_(viewed))).all()
                    if wanted & set(json.loads(row.cameo_ids))]
            if hits:
                s.execute(update(m.posts).where(p.id.in_(hits)).values(cameo_requests=p.cameo_requests + 1))

    def on_takedown(self, s: Session, takedown_id: str, target_kind: str, target_ids: Sequence[str]) -> int:
        """Hide every post a cameo takedown names, at once."""
        p = m.posts.c
        column = p.id if target_kind == "post" else p.generation_id
        posts = s.execute(select(*_POST_COLUMNS).where(column.in_(list(target_ids)),
                                                      p.state.in_([PUBLISHED, UNPUBLISHED]))).mappings().all()
        for post in posts:
            self._set_removed(s, dict(post), TAKEN_DOWN, events_pb2.REMOVAL_REASON_TAKEN_DOWN, takedown_id)
        if target_kind == "generation":
            s.execute(update(m.generations).where(m.generations.c.id.in_(list(target_ids)))
                      .values(status="taken_down", updated_at=utcnow()))
        return len(posts)

    def on_parental_controls(self, s: Session, teen_user_id: str, daily_cap: int, non_personalized: bool) -> None:
        self.ensure_user(s, teen_user_id)
        s.execute(update(m.users).where(m.users.c.id == teen_user_id).values(
            teen=True, daily_item_cap=max(daily_cap, 0), non_personalized=non_personalized, updated_at=utcnow()))

    def on_user(self, s: Session, user_id: str, handle: str, region: str, teen: bool) -> None:
        self.ensure_user(s, user_id, handle, teen)
        s.execute(update(m.users).where(m.users.c.id == user_id).values(region=region.upper()[:8],
                                                                        updated_at=utcnow()))


def _reason(source: int, handle: str, of_own: bool, region: str) -> str:
    """Why an item is on the page, from its candidate source."""
    if source == S_FOLLOWING:
        return f"from @{handle}, whom you follow"
    if source == S_MUTUALS:
        return f"from @{handle}; you follow each other"
    if source == S_REMIXES:
        return f"@{handle} made {'a remix of your video' if of_own else 'a remix of a video you liked'}"
    if source == S_TRENDING:
        return f"trending in {region}" if region else "trending on Kinora"
    if source == S_PREFERENCES:
        return "matches your stated interests"
    return "recent public video (your feed isn't personalized)"


def _cap_message(cap: int) -> str:
    return (f"That's all for today: your guardian set a limit of {cap} videos a day. "
            "The feed will be back tomorrow — maybe make something in the meantime?")


def _upsert(table, values, keys: list[str], update_values: dict | None):
    """INSERT .. ON CONFLICT DO NOTHING (or DO UPDATE with `update_values`)."""
    stmt = postgresql.insert(table).values(values)
    if update_values:
        return stmt.on_conflict_do_update(index_elements=keys, set_=update_values)
    return stmt.on_conflict_do_nothing(index_elements=keys)


def cursor_key(secret: str | None, internal_secret: str | None) -> bytes:
    """The page-token key: explicit, else derived from the internal secret,
    else random per process (tokens then don't survive a restart)."""
    if secret:
        return secret.encode()
    if internal_secret:
        return hmac.new(internal_secret.encode(), b"kinora-feed-cursor", hashlib.sha256).digest()
    return os.urandom(32)
