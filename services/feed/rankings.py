"""Each viewer's ranked candidates, kept between pages (per replica, in memory).

Ranking a page's ~900 candidates (the candidate sources, their facts, the served check, scoring)
is most of GetFeed's cost, and the next page of the same viewer would rank almost the same
candidates again: those already served drop out, and little else changes in a minute. So the
ranking is kept, compacted to what the policy and the page's reasons need (`RankedList`), and
the viewer's next pages are taken from it: the policy runs on it again with the viewer's current
blocks and teen rules, and the page statement records the page as served
(`queries.PAGE_SQL`), refusing any item already served to the viewer (by another replica, or
another session at the same moment), so nothing is ever served twice.

A kept ranking is used only while it is current; it is ranked again when
- it is older than `ttl_s` (new posts of people the viewer does not follow, trending changes,
  counters, remixes of posts the viewer liked or made: these wait at most that long),
- anything it was ranked from about the viewer changed (`fingerprint`: region, teen, parental
  non-personalized mode, stated preferences, whom the viewer follows and who follows back,
  "see less"),
- one of the viewer's followees published or removed a post since (`RecentByAuthor.changed_since`:
  at once through this replica, within its refresh from another),
- the kept part ran out: it holds the best `keep_per_pool` connected and global candidates, and a
  page that looks past them is ranked from the whole candidate set again (`apply_policy`'s
  report), so a page from a kept ranking is the page the whole ranking would give.
Blocks, takedowns, unpublishing, visibility and teen rules are applied to every page as they
are now (the policy, and the page statement's checks on the rows), never from the kept copy.

Memory: ~20 kB per viewer at the default 256 per pool; `capacity` viewers per replica (the
least recently served leave first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.feed.ranking import CONNECTED_SOURCES, Candidates


@dataclass
class RankedList:
    """A viewer's candidates best first (`batch`, in rank order), with what the page's items
    need: scores, the stated preference each matched (-1: none) and its phrases."""

    batch: Candidates
    scores: np.ndarray[Any, Any]
    matched: np.ndarray[Any, Any]
    pref_phrases: list[str]
    fingerprint: int
    recent_version: int  # `RecentByAuthor.version` read before the candidates were
    following: list[str]
    scored: int  # candidates ranked when built
    truncated: bool  # some of them were left out (below the kept part of their pool)
    built_at: float = field(default_factory=time.monotonic)
    consumed: set[str] = field(default_factory=set)  # served, or found unservable, since built

    @property
    def order(self) -> list[int]:
        return list(range(len(self.batch)))


def compact(
    batch: Candidates, scores: np.ndarray[Any, Any], matched: np.ndarray[Any, Any], keep_per_pool: int
) -> tuple[Candidates, np.ndarray[Any, Any], np.ndarray[Any, Any], bool]:
    """The best `keep_per_pool` connected and global candidates, best first (ties in the batch's
    order, as `apply_policy` ranks them), with only the columns pages need."""
    order = np.argsort(-scores, kind="stable")
    connected = np.isin(batch.sources[order], CONNECTED_SOURCES)
    keep = np.zeros(len(order), dtype=bool)
    keep[np.flatnonzero(connected)[:keep_per_pool]] = True
    keep[np.flatnonzero(~connected)[:keep_per_pool]] = True
    kept = order[keep]
    take = kept.tolist()
    small = Candidates(
        post_ids=[batch.post_ids[i] for i in take],
        authors=[batch.authors[i] for i in take],
        sources=batch.sources[kept],
        created_ts=batch.created_ts[kept],
        features={"report_count": batch.features["report_count"][kept]},
        visibility=batch.visibility[kept] if batch.visibility is not None else None,
        of_own=batch.of_own[kept] if batch.of_own is not None else None,
    )
    return small, scores[kept], matched[kept], len(kept) < len(order)


class RankingCache:
    """`RankedList`s by viewer, least recently used out first; thread-safe."""

    def __init__(self, ttl_s: float = 60.0, capacity: int = 4096):
        self.ttl_s, self.capacity = ttl_s, capacity
        self._lists: OrderedDict[str, RankedList] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, viewer_id: str, fingerprint: int, unchanged: Callable[[RankedList], bool]) -> RankedList | None:
        """The viewer's kept ranking if it is still current (see the module's docstring);
        `unchanged` says whether the viewer's followees' posts are as they were."""
        if self.ttl_s <= 0:
            return None
        with self._lock:
            ranked = self._lists.get(viewer_id)
            if ranked is None:
                return None
            self._lists.move_to_end(viewer_id)
        if (
            time.monotonic() - ranked.built_at >= self.ttl_s
            or ranked.fingerprint != fingerprint
            or not unchanged(ranked)
        ):
            self.drop(viewer_id, ranked)
            return None
        return ranked

    def put(self, viewer_id: str, ranked: RankedList) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            self._lists[viewer_id] = ranked
            self._lists.move_to_end(viewer_id)
            while len(self._lists) > self.capacity:
                self._lists.popitem(last=False)

    def drop(self, viewer_id: str, ranked: RankedList | None = None) -> None:
        """Forget the viewer's ranking (only `ranked`, if given: not one put since)."""
        with self._lock:
            if ranked is None or self._lists.get(viewer_id) is ranked:
                self._lists.pop(viewer_id, None)

    def __len__(self) -> int:
        return len(self._lists)
