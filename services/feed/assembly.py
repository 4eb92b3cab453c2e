"""Assembling a page of the ranked feed (GetFeed): the viewer's state, the
candidate sources (followees' newest posts, mutuals, remixes, regional
trending, stated preferences), scoring (ranking.py), the policy layer, the
page's rows and its bookkeeping (served, today's count, the session's count).
This is the benchmarked hot path (benchmarks/feed_bench.py): three statements
per request (queries.py), the rest from the in-memory indexes (indexes.py,
recent.py)."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from kinora.runtime.errors import InvalidArgument
from services.feed import models as m
from services.feed.common import (
    FOLLOWERS,
    PUBLIC,
    S_FOLLOWING,
    S_MUTUALS,
    S_PREFERENCES,
    S_RECENT,
    S_REMIXES,
    S_TRENDING,
    FeedConfig,
    FeedContext,
    id_list,
    token_scope,
    utcnow,
    vec_from,
)
from services.feed.indexes import PostFactsCache, PreferenceIndex, TrendingCache
from services.feed.queries import (
    CANDIDATES_SQL,
    FACT_SQL,
    FACT_VISIBILITY,
    FEATURES,
    PAGE_COLUMNS,
    PAGE_SQL,
    SOURCE_RANK,
    USER_COLUMNS,
    VIEWER_STATE_SQL,
)
from services.feed.ranking import DIM, Candidates, CreationScorer, PolicyConfig, ViewerContext, apply_policy
from services.feed.rankings import RankedList, RankingCache, compact
from services.feed.recent import RecentByAuthor
from services.feed.users import ensure_user


@dataclass
class FeedPage:
    items: list[tuple[dict[str, Any], int, str, float]]  # (post row + handle, source, reason, score)
    next_token: str
    session_id: str
    nudge: str = ""
    cap_reached: bool = False
    cap_message: str = ""
    fallback: bool = False
    non_personalized: bool = False
    timings: dict[str, float] | None = None


@dataclass(frozen=True)
class ViewerState:
    """What `VIEWER_STATE_SQL` reads besides the user row."""

    session_owner: str | None  # None: a new session
    session_items: int
    served_today: int
    blocked: set[str]  # blocked by or blocking the viewer
    following: list[str]  # whom the viewer follows
    mutuals: frozenset[str]  # of those, who follow the viewer back
    see_less_authors: frozenset[str]
    see_less_vectors: np.ndarray[Any, Any] | None


# A ranking of every candidate: the batch, its scores and the preference each matched (-1: none).
_Whole = tuple[Candidates, np.ndarray[Any, Any], np.ndarray[Any, Any]]

# How much of each pool (connected, global) of a viewer's ranking is kept between pages (rankings.py).
KEEP_PER_POOL = 256


def followed_window(config: FeedConfig) -> timedelta:
    """How far back the followed source looks."""
    return timedelta(days=max(config.trending_days, 1.0) * 4)


class FeedAssembler:
    def __init__(
        self,
        ctx: FeedContext,
        scorer: CreationScorer,
        on_fallback: Callable[[], None],
        prefs_index: PreferenceIndex,
        facts: PostFactsCache,
        trending: TrendingCache,
        recent: RecentByAuthor,
        rankings: RankingCache | None = None,
    ):
        self.ctx, self.config, self.cursors = ctx, ctx.config, ctx.cursors
        self.scorer, self.on_fallback = scorer, on_fallback
        self.prefs_index, self.facts, self.trending, self.recent = prefs_index, facts, trending, recent
        self.rankings = rankings or RankingCache(self.config.ranking_ttl_s, self.config.ranking_viewers)
        self.keep_per_pool = KEEP_PER_POOL

    def get_feed(
        self, viewer_id: str, handle: str, teen: bool, page_size: int, token: str, session_id: str
    ) -> FeedPage:
        size = self.ctx.page_size(page_size)
        page_no = 0
        if token:
            # A token that is not empty decodes to one value of each kind, or raises InvalidArgument.
            session_id, page_no = cast(
                "tuple[str, int]", self.cursors.decode(token, str, int, scope=token_scope("feed", viewer_id))
            )
        elif session_id:
            try:
                uuid.UUID(session_id)
            except ValueError:
                raise InvalidArgument("session_id must be one the feed returned", "invalid_session_id") from None
        now = utcnow()
        today = now.date()
        with self.ctx.sessions.begin() as s:
            if not session_id:
                session_id = str(uuid.uuid4())
            # One statement, then one more for the page, which also records it as served (PAGE_SQL).
            user, state = self._viewer_state(s, viewer_id, handle, teen, session_id, today)
            owner, session_items, served_today = state.session_owner, state.session_items, state.served_today
            if owner is not None and owner != viewer_id:
                raise InvalidArgument("session_id must be one the feed returned to you", "invalid_session_id")
            cap = user["daily_item_cap"] if user["teen"] else 0
            if cap and served_today >= cap:
                return FeedPage(
                    [],
                    "",
                    session_id,
                    cap_reached=True,
                    cap_message=_cap_message(cap),
                    non_personalized=user["non_personalized"],
                )
            if cap:
                size = min(size, cap - served_today)
            personalized = not user["non_personalized"]
            items, timings, fallback = self._rank(s, user, size, personalized, now, state, session_id)
            session_items += len(items)
        nudge = ""
        if session_items >= self.config.nudge_after_items:
            nudge = (
                f"You've watched {session_items} videos this session. Why not make one? "
                "Remix something you liked or start from a prompt."
            )
        cap_reached = bool(cap) and served_today + len(items) >= cap
        more = bool(items) and not cap_reached
        next_token = self.cursors.encode(session_id, page_no + 1, scope=token_scope("feed", viewer_id)) if more else ""
        return FeedPage(
            items,
            next_token,
            session_id,
            nudge=nudge,
            cap_reached=cap_reached,
            cap_message=_cap_message(cap) if cap_reached else "",
            fallback=fallback,
            non_personalized=not personalized,
            timings=timings,
        )

    def _rank(
        self,
        s: Session,
        user: dict[str, Any],
        size: int,
        personalized: bool,
        now: datetime,
        state: ViewerState,
        session_id: str,
    ) -> tuple[list[tuple[dict[str, Any], int, str, float]], dict[str, float], bool]:
        """The page as (row, source, reason, score) tuples, the time per stage, and whether it fell back.
        From the viewer's kept ranking when it is current (rankings.py), else ranked now and kept.
        The page's rows are read and recorded as served in one statement; an item found already
        served (elsewhere since the ranking) is left out and the page made again without it."""
        t0 = time.perf_counter()
        viewer_id = user["id"]
        viewer = ViewerContext(user_id=viewer_id, now_ts=now.timestamp(), teen=user["teen"])
        fingerprint = _fingerprint(user, state)
        ranked = self.rankings.get(
            viewer_id, fingerprint, lambda r: not self.recent.changed_since(r.recent_version, r.following)
        )
        fallback = False
        whole: _Whole | None = None
        t1 = t2 = t0
        if ranked is None:
            ranked, whole, fallback, t1 = self._rank_all(s, user, viewer, personalized, state, fingerprint)
            t2 = time.perf_counter()
        policy = self.config.policy
        if fallback or not personalized:
            # Without connections in play the connected share means nothing.
            policy = PolicyConfig(max_per_author=policy.max_per_author, connected_share=0.0)
        page: list[tuple[dict[str, Any], int, str, float]] = []
        for _attempt in range(4):
            if whole is not None:  # ranked now: the page from every candidate
                batch, scores, matched = whole
                picked = apply_policy(
                    batch, scores, size, policy, blocked=state.blocked, seen=ranked.consumed, viewer=viewer
                )
            else:
                batch, scores, matched = ranked.batch, ranked.scores, ranked.matched
                report: dict[str, bool] = {}
                picked = apply_policy(
                    batch,
                    None,
                    size,
                    policy,
                    blocked=state.blocked,
                    seen=ranked.consumed,
                    viewer=viewer,
                    order=ranked.order,
                    report=report,
                )
                if report.get("exhausted") and ranked.truncated:  # past the kept part: rank everything again
                    self.rankings.drop(viewer_id, ranked)
                    consumed = ranked.consumed
                    ranked, whole, fallback, _ = self._rank_all(s, user, viewer, personalized, state, fingerprint)
                    ranked.consumed |= consumed
                    continue
            picked_ids = [batch.post_ids[i] for i in picked]
            rows = self._record_page(s, viewer_id, picked_ids, now, session_id, bool(user["teen"]))
            served_before = [post_id for post_id, row in rows.items() if row["already_served"]]
            ranked.consumed.update(picked_ids)
            if served_before:  # nothing was recorded: the page again without them
                continue
            for i in picked:
                row = rows.get(batch.post_ids[i])
                if row is None:  # no longer servable (unpublished, taken down, made private...) since it was read
                    self.facts.forget([batch.post_ids[i]])
                    continue
                if not row["recorded"]:  # served to the viewer by another request at this very moment
                    continue
                page.append((row, *_item(row, batch, i, matched, scores, ranked.pref_phrases, fallback, user)))
            break
        t3 = time.perf_counter()
        timings = {
            "candidates_ms": (t1 - t0) * 1000,
            "score_ms": (t2 - t1) * 1000,
            "policy_ms": (t3 - t2) * 1000,
            "candidate_count": ranked.scored,
        }
        return page, timings, fallback

    def _rank_all(
        self,
        s: Session,
        user: dict[str, Any],
        viewer: ViewerContext,
        personalized: bool,
        state: ViewerState,
        fingerprint: int,
    ) -> tuple[RankedList, _Whole, bool, float]:
        """Every candidate scored: the kept `RankedList` (kept unless scoring failed), the whole
        (batch, scores, matched), whether it fell back, and when the candidates were ready."""
        if personalized and state.see_less_authors:
            viewer.see_less_authors = state.see_less_authors
            viewer.see_less_vectors = state.see_less_vectors
        version = self.recent.version  # before the candidates: a change while they are read counts
        batch, _, _ = self._candidates(s, user, viewer, personalized, state)
        t1 = time.perf_counter()
        fallback = False
        try:
            scores, matched = self.scorer.score(batch, viewer)
        except Exception:  # noqa: BLE001 - any scorer failure: serve newest first rather than nothing
            fallback = True
            self.on_fallback()
            scores, matched = batch.created_ts / 1e10, np.full(len(batch), -1)
            batch.sources = np.full(len(batch), S_RECENT)
        kept, kept_scores, kept_matched, truncated = compact(batch, scores, matched, self.keep_per_pool)
        ranked = RankedList(
            kept,
            kept_scores,
            kept_matched,
            viewer.pref_phrases,
            fingerprint,
            version,
            state.following if personalized else [],
            len(batch),
            truncated,
        )
        if not fallback:  # a failed scorer is tried again on the next page
            self.rankings.put(user["id"], ranked)
        return ranked, (batch, scores, matched), fallback, t1

    def _preferred(self, s: Session, viewer: ViewerContext, user: dict[str, Any], limit: int) -> list[str]:
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

    def _viewer_state(
        self, s: Session, viewer_id: str, handle: str, teen: bool | None, session_id: str, today: date
    ) -> tuple[dict[str, Any], ViewerState]:
        """The viewer's row (created or updated from the token as `ensure_user` does) and
        `ViewerState`, from one statement (`VIEWER_STATE_SQL`)."""
        raw: Any = s.connection().connection  # psycopg's: binary cursors, used as context managers
        with raw.cursor(binary=True) as cur:
            cur.execute(VIEWER_STATE_SQL, dict(viewer=viewer_id, session=session_id, day=today))
            row = cur.fetchone()
        n = len(USER_COLUMNS)
        user = dict(zip(USER_COLUMNS, row[:n]))
        if user["id"] is None or (handle and user["handle"] != handle) or (teen is not None and user["teen"] != teen):
            user = ensure_user(s, viewer_id, handle, teen)
        owner, session_items, served_today, blocked, following, mutuals, see_less_authors, see_less_embs = row[
            n : n + 8
        ]
        vectors = np.frombuffer(see_less_embs, dtype=np.float32).reshape(-1, DIM) if see_less_embs else None
        return user, ViewerState(
            owner,
            session_items or 0,
            served_today or 0,
            set(blocked),
            following,
            frozenset(mutuals),
            frozenset(see_less_authors or ()),
            vectors,
        )

    def _candidates(
        self, s: Session, user: dict[str, Any], viewer: ViewerContext, personalized: bool, state: ViewerState
    ) -> tuple[Candidates, set[str], set[str]]:
        """Every candidate source and the candidates' scoring features, less what the viewer was
        already served. Followees' newest posts, trending and preference ids come
        from memory, with the facts of those `PostFactsCache` holds; one statement
        (`CANDIDATES_SQL`) adds remixes, reads the other facts and drops what was served.
        Embeddings come from the preference index when it holds the current version, else from
        one more query."""
        limit = self.config.candidates_per_source
        shared: dict[str, int] = {}  # id -> source, for the sources in memory; the first source wins
        if personalized and state.following:
            self.recent.refresh(s)
            ids, authors, _ = self.recent.newest(state.following, limit)
            mutuals = state.mutuals
            shared.update(zip(ids, [S_MUTUALS if a in mutuals else S_FOLLOWING for a in authors]))
        trending = self.trending.get(s, user["region"], self.config.trending_days, limit, sessions=self.ctx.sessions)
        for post_id in trending:
            shared.setdefault(post_id, S_TRENDING)
        for post_id in self._preferred(s, viewer, user, limit) if personalized else ():
            shared.setdefault(post_id, S_PREFERENCES)
        held, held_sources, held_authors, held_numbers, missing = self.facts.lookup(shared)
        lookup: dict[int, list[str]] = {S_FOLLOWING: [], S_MUTUALS: [], S_TRENDING: [], S_PREFERENCES: []}
        for post_id in missing:
            lookup[shared[post_id]].append(post_id)
        # The driver's cursor, not a SQLAlchemy result: plain tuples, turned into columns in C (zip).
        # Binary results: PostgreSQL skips formatting ~10k values as text and the driver parsing them.
        raw: Any = s.connection().connection  # psycopg's: binary cursors, used as context managers
        with raw.cursor(binary=True) as cur:
            cur.execute(
                CANDIDATES_SQL,
                dict(
                    viewer=user["id"],
                    personal=personalized,
                    lim=limit,
                    held=id_list(held),
                    following=id_list(lookup[S_FOLLOWING]),
                    mutuals=id_list(lookup[S_MUTUALS]),
                    trending=id_list(lookup[S_TRENDING]),
                    nearest=id_list(lookup[S_PREFERENCES]),
                ),
            )
            rows = cur.fetchall()
        found = [r for r in rows if r[4] is not None]
        self.facts.put([(r[0], r[1], r[4]) for r in found if r[0] in shared])
        found_sources: list[int] = []
        of_own_found: list[bool] = []
        for post_id, _, source, remix_of_own, _ in found:
            mine = shared.get(post_id)  # held in memory as followed, and found here as a remix: followed
            if mine is not None and SOURCE_RANK[mine] < SOURCE_RANK[source]:
                source, remix_of_own = mine, False
            found_sources.append(source)
            of_own_found.append(remix_of_own)
        # Held candidates the statement did not return (as a remix) nor report as served.
        skip = {r[0] for r in rows}
        keep = [post_id not in skip for post_id in held]
        numbers = np.concatenate(
            [
                np.frombuffer(b"".join([r[4] for r in found]), dtype=">i8").reshape(-1, len(FACT_SQL)),
                np.frombuffer(held_numbers, dtype=">i8").reshape(-1, len(FACT_SQL))[keep],
            ]
        )
        post_ids = [r[0] for r in found] + list(itertools.compress(held, keep))
        sources = np.array(found_sources + list(itertools.compress(held_sources, keep)), dtype=np.int64)
        batch_authors = [r[1] for r in found] + list(itertools.compress(held_authors, keep))
        of_own = np.zeros(len(post_ids), dtype=bool)
        of_own[: len(found)] = of_own_found
        # Held facts may be seconds old: a followers-only post counts only as followed (as in the statement).
        vis = numbers[len(found) :, FACT_VISIBILITY]
        ok = np.ones(len(post_ids), dtype=bool)
        followed = np.isin(sources[len(found) :], (S_FOLLOWING, S_MUTUALS))
        ok[len(found) :] = (vis == PUBLIC) | ((vis == FOLLOWERS) & followed)
        if not ok.all():
            take = np.flatnonzero(ok)
            post_ids, batch_authors = [post_ids[k] for k in take], [batch_authors[k] for k in take]
            numbers, sources, of_own = numbers[take], sources[take], of_own[take]
        numbers = numbers.T.astype(np.int64)
        visibility, has_embedding, created_us, stamps = numbers[:4]
        batch = Candidates(
            post_ids,
            batch_authors,
            sources,
            created_us / 1e6,
            dict(zip(FEATURES, numbers[4:].astype(np.float64))),
            visibility=visibility,
            of_own=of_own,
        )
        if (viewer.pref_vectors is not None or viewer.see_less_vectors is not None) and post_ids:
            batch.embeddings, missed = self.prefs_index.embeddings(batch.post_ids, stamps)
            unread = {post_ids[k]: k for k in missed if has_embedding[k]}
            if unread:
                read: list[tuple[str, int, np.ndarray[Any, Any]]] = []
                for post_id, emb in s.execute(
                    select(m.posts.c.id, m.posts.c.embedding).where(m.posts.c.id.in_(list(unread)))
                ):
                    if emb:
                        k = unread[post_id]
                        batch.embeddings[k] = vector = np.frombuffer(emb, dtype=np.float32)
                        read.append((post_id, int(stamps[k]), vector))
                self.prefs_index.remember(read)
        return batch, state.blocked, set()  # served posts were left out by the query

    def _record_page(
        self, s: Session, viewer_id: str, ids: list[str], now: datetime, session_id: str, teen: bool
    ) -> dict[str, dict[str, Any]]:
        """The page's rows still servable by id (`PAGE_SQL`), recorded as served with today's
        and the session's counts, in one statement. Each row says whether it was recorded now
        ("recorded") or had been served to the viewer before ("already_served": then none was)."""
        raw: Any = s.connection().connection  # psycopg's: binary cursors, used as context managers
        with raw.cursor(binary=True) as cur:
            cur.execute(
                PAGE_SQL,
                dict(viewer=viewer_id, ids=id_list(ids), now=now, day=now.date(), session=session_id, teen=teen),
            )
            return {r[0]: dict(zip(PAGE_COLUMNS, r)) for r in cur.fetchall()}


def _item(
    row: dict[str, Any],
    batch: Candidates,
    i: int,
    matched: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    pref_phrases: list[str],
    fallback: bool,
    user: dict[str, Any],
) -> tuple[int, str, float]:
    """Candidate `i`'s source, reason and score on the page."""
    source, phrase = int(batch.sources[i]), pref_phrases[matched[i]] if matched[i] >= 0 else ""
    if fallback:
        reason = "recent (ranking is unavailable right now)"
    elif phrase and source in (S_PREFERENCES, S_TRENDING):
        # A global item that fits a stated interest is explained by that interest.
        source, reason = S_PREFERENCES, f"matches your interest in “{phrase}”"
    else:
        reason = _reason(
            source,
            row["author_handle"] or "someone",
            batch.of_own is not None and bool(batch.of_own[i]),
            user["region"],
        )
    return source, reason, float(scores[i])


def _fingerprint(user: dict[str, Any], state: ViewerState) -> int:
    """What a viewer's ranking was made from about the viewer (rankings.py): a kept ranking with
    another fingerprint is not used."""
    vectors = state.see_less_vectors
    return hash(
        (
            user["region"],
            user["teen"],
            user["non_personalized"],
            user["prefs_phrases"],
            bytes(user["prefs_vectors"] or b""),
            tuple(state.following),
            state.mutuals,
            state.see_less_authors,
            vectors.tobytes() if vectors is not None else b"",
        )
    )


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
    return (
        f"That's all for today: your guardian set a limit of {cap} videos a day. "
        "The feed will be back tomorrow — maybe make something in the meantime?"
    )
