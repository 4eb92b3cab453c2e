"""Ranking stages that need no storage: preference parsing, the
creation-weighted scorer and the policy layer.

Candidates arrive as a `Candidates` batch (parallel columns: lists and numpy
arrays), so scoring 1,000 of them is a handful of vector operations and the
policy layer touches plain ints and strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kinora.feed.v1 import feed_pb2
from kinora.runtime.errors import InvalidArgument

DIM = 384
SOURCE = feed_pb2.CandidateSource
CONNECTED_SOURCES = (
    SOURCE.CANDIDATE_SOURCE_FOLLOWING,
    SOURCE.CANDIDATE_SOURCE_MUTUALS,
    SOURCE.CANDIDATE_SOURCE_REMIXES,
)


# -- stated preferences -------------------------------------------------------

_NEGATIVE = re.compile(r"^(less|fewer|no|not|without|stop|don'?t show|hide|avoid|never)\b\s*(of\s+)?", re.I)
_POSITIVE = re.compile(r"^(more|show me|lots of|plenty of|i like|i love|give me|want)\b\s*(of\s+)?", re.I)
_SPLIT = re.compile(r"\s*(?:,|;|\.|\band\b|\bbut\b|\n)\s*", re.I)
MAX_PREFS_CHARS = 500


def parse_preferences(text: str) -> list[tuple[str, int]]:
    """'more cooking and pets, less sports' -> [('cooking', 1), ('pets', 1), ('sports', -1)].
    A 'more'/'less' marker applies to the phrases after it until the next marker."""
    if len(text) > MAX_PREFS_CHARS:
        raise InvalidArgument(
            f"preferences are {len(text)} characters; keep them under {MAX_PREFS_CHARS}", "preferences_too_long"
        )
    phrases: list[tuple[str, int]] = []
    sign = 1
    for part in _SPLIT.split(text.strip()):
        part = part.strip(" !?\"'")
        if not part:
            continue
        if m := _NEGATIVE.match(part):
            sign, part = -1, part[m.end() :]
        elif m := _POSITIVE.match(part):
            sign, part = 1, part[m.end() :]
        part = part.strip()
        if part and (part.lower(), sign) not in [(p.lower(), s) for p, s in phrases]:
            phrases.append((part, sign))
    return phrases[:16]


# -- candidates ----------------------------------------------------------------


@dataclass
class Candidates:
    """A batch of published posts as parallel columns (no object per
    candidate): scoring 1,000 is a handful of vector operations, and only the
    page's few items are ever turned into rows."""

    post_ids: list[str]
    authors: list[str]
    sources: np.ndarray[Any, Any]  # (n,) int: feed_pb2.CandidateSource
    created_ts: np.ndarray[Any, Any]  # (n,) float: Unix seconds
    # Engagement counters, shape (n,): names match the posts columns.
    features: dict[str, np.ndarray[Any, Any]]
    embeddings: np.ndarray[Any, Any] | None = None  # (n, DIM), zero rows where unknown
    visibility: np.ndarray[Any, Any] | None = None  # (n,) int: feed_pb2.Visibility; None = all public
    of_own: np.ndarray[Any, Any] | None = None  # (n,) bool: a remix of one of the viewer's own posts

    def __len__(self) -> int:
        return len(self.post_ids)


@dataclass
class ViewerContext:
    user_id: str
    now_ts: float
    pref_vectors: np.ndarray[Any, Any] | None = None  # (k, DIM)
    pref_signs: npt.NDArray[np.float32] | None = None  # (k,) of +1/-1, set with pref_vectors
    pref_phrases: list[str] = field(default_factory=list)
    see_less_vectors: np.ndarray[Any, Any] | None = None  # (m, DIM)
    see_less_authors: frozenset[str] = frozenset()
    teen: bool = False


# -- scorer ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreWeights:
    """Creation counts most; watch time almost nothing (see docs/feed.md)."""

    remix: float = 3.0
    created_after_view: float = 2.0
    cameo_request: float = 2.0
    like: float = 0.4
    comment: float = 0.3
    report: float = -3.0
    see_less: float = -1.5
    watch_seconds: float = 0.02
    preference: float = 4.0
    personal_see_less: float = -3.0
    see_less_author: float = -2.0
    recency_per_day: float = -0.3
    source_bonus: tuple[tuple[int, float], ...] = (
        (SOURCE.CANDIDATE_SOURCE_MUTUALS, 1.0),
        (SOURCE.CANDIDATE_SOURCE_FOLLOWING, 0.8),
        (SOURCE.CANDIDATE_SOURCE_REMIXES, 1.2),
    )


TIME_SPENT_WEIGHTS = ScoreWeights(
    remix=0.0, created_after_view=0.0, cameo_request=0.0, like=0.4, comment=0.3, watch_seconds=3.0
)


class CreationScorer:
    """Scores a batch; raises on malformed input (the caller falls back)."""

    def __init__(self, weights: ScoreWeights = ScoreWeights()):
        self.weights = weights
        self._bonus = np.zeros(max(SOURCE.values()) + 1)  # source bonus by CandidateSource value
        for source, bonus in weights.source_bonus:
            self._bonus[source] = bonus

    def score(self, c: Candidates, viewer: ViewerContext) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Scores, plus for each item the index in `viewer.pref_phrases` of the
        stated preference it matched (-1 if none)."""
        w, f = self.weights, c.features
        n = len(c)
        log1p = np.log1p
        score = (
            w.remix * log1p(f["remix_generations"] + f["remix_count"])
            + w.created_after_view * log1p(f["created_after_view"])
            + w.cameo_request * log1p(f["cameo_requests"])
            + w.like * log1p(f["like_count"])
            + w.comment * log1p(f["comment_count"])
            + w.report * log1p(f["report_count"])
            + w.see_less * log1p(f["see_less_count"])
            + w.watch_seconds * log1p(f["watch_ms"] / np.maximum(f["view_count"], 1) / 1000.0)
        )
        ages_days = np.maximum(viewer.now_ts - c.created_ts, 0) / 86400.0
        score = score + w.recency_per_day * ages_days + self._bonus[c.sources]
        matched = np.full(n, -1)
        if c.embeddings is not None and n:
            if viewer.pref_vectors is not None and len(viewer.pref_vectors):
                sims = c.embeddings @ viewer.pref_vectors.T  # (n, k)
                signs = viewer.pref_signs
                assert signs is not None  # set with pref_vectors
                pos, neg = signs > 0, signs < 0
                best_pos = sims[:, pos].max(axis=1) if pos.any() else np.zeros(n)
                best_neg = sims[:, neg].max(axis=1) if neg.any() else np.zeros(n)
                score = score + w.preference * (np.clip(best_pos, 0, None) - np.clip(best_neg, 0, None))
                if pos.any():
                    top = np.flatnonzero(pos)[sims[:, pos].argmax(axis=1)]
                    matched = np.where(best_pos > 0.3, top, -1)
            if viewer.see_less_vectors is not None and len(viewer.see_less_vectors):
                near = (c.embeddings @ viewer.see_less_vectors.T).max(axis=1)
                score = score + w.personal_see_less * np.clip(near, 0, None)
        if viewer.see_less_authors:
            score = score + w.see_less_author * np.fromiter(
                (a in viewer.see_less_authors for a in c.authors), dtype=float, count=n
            )
        if not np.all(np.isfinite(score)):
            raise ValueError("scorer produced a non-finite score")
        return score, matched


# -- policy ---------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyConfig:
    max_per_author: int = 2
    connected_share: float = 0.6


def apply_policy(
    c: Candidates,
    scores: np.ndarray[Any, Any] | None,
    page_size: int,
    config: PolicyConfig,
    *,
    blocked: set[str],
    seen: set[str] | frozenset[str],
    viewer: ViewerContext,
    order: list[int] | None = None,
    report: dict[str, bool] | None = None,
) -> list[int]:
    """The page, as indices into the batch. Hard rules first (blocks, no
    repeats, teen safety), then the page mix: at most `max_per_author` per
    author, no two in a row from one author, and connected content holding at
    least `connected_share` of every prefix of the page while it lasts (so it
    comes first). Ties in score keep the batch order.

    `order`: the candidates best first, when already ranked (`scores` is then unused); it may be
    a prefix of each pool of a longer ranking (`rankings.RankedList`). `report["exhausted"]` is set
    when the page looked past the last candidate: only then can a page from such a prefix differ
    from the page the whole ranking would give."""
    ids, authors = c.post_ids, c.authors
    is_connected = np.isin(c.sources, CONNECTED_SOURCES).tolist()
    unsafe = [False] * len(c)
    if viewer.teen:
        public = c.visibility == feed_pb2.VISIBILITY_PUBLIC if c.visibility is not None else True
        unsafe = (~((c.features["report_count"] <= 0) & public)).tolist()
    # Candidates best first, sorted into the two pools only as far as the page needs (a page of 10
    # looks at a few dozen of ~1,000): `pull` moves the next allowed one into its pool.
    if order is None:
        assert scores is not None
        order = np.argsort(-scores, kind="stable").tolist()
    ranked = iter(order)
    pools: tuple[list[int], list[int]] = ([], [])  # (global, connected), each best first

    def pull() -> bool:
        for i in ranked:
            a = authors[i]
            if ids[i] in seen or a in blocked or a == viewer.user_id or unsafe[i]:
                continue
            pools[is_connected[i]].append(i)
            return True
        if report is not None:
            report["exhausted"] = True
        return False

    page: list[int] = []
    per_author: dict[str, int] = {}
    n_connected = 0

    def take(pool: list[int]) -> bool:
        last_author = authors[page[-1]] if page else None
        for strict in (True, False):  # prefer a different author than the previous item
            k = 0
            while k < len(pool) or pull():
                if k == len(pool):  # what was pulled went to the other pool
                    continue
                i = pool[k]
                author = authors[i]
                if per_author.get(author, 0) >= config.max_per_author or (strict and author == last_author):
                    k += 1
                    continue
                page.append(pool.pop(k))
                per_author[author] = per_author.get(author, 0) + 1
                return True
        return False

    while len(page) < page_size:
        want_connected = n_connected < config.connected_share * (len(page) + 1)
        first, second = (pools[1], pools[0]) if want_connected else (pools[0], pools[1])
        if not take(first) and not take(second):
            break
        n_connected += is_connected[page[-1]]
    return page
