"""An inverted-file (IVF) index over unit embeddings for the preference
candidate source: spherical k-means centroids split the rows into lists, a
query scans only the lists whose centroids score best for it, and the
shortlist is scored exactly. Rows are kept sorted by list, so each scanned
list is a contiguous slice of one matrix (no gather copy).

Pure numpy; no storage. `PreferenceIndex` (domain.py) builds one per
snapshot of its matrix, training centroids rarely and assigning new rows to
the nearest existing centroid in between.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def train_centroids(
    vectors: np.ndarray[Any, Any], lists: int, *, iterations: int = 8, sample: int = 48, seed: int = 0
) -> np.ndarray[Any, Any]:
    """`lists` unit centroids by spherical k-means on at most `sample` rows per list
    (maximum inner product assignment, so the same rule as the queries)."""
    if lists < 1 or len(vectors) < lists:
        raise ValueError(f"need at least {lists} rows to train {lists} lists, got {len(vectors)}")
    rng = np.random.default_rng(seed)
    data = (
        vectors if len(vectors) <= sample * lists else vectors[rng.choice(len(vectors), sample * lists, replace=False)]
    )
    centroids: np.ndarray[Any, Any] = data[rng.choice(len(data), lists, replace=False)].copy()
    for _ in range(iterations):
        assign = np.argmax(data @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, data)
        counts = np.bincount(assign, minlength=lists)
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # re-seed empty lists with random rows
            sums[empty] = data[rng.choice(len(data), len(empty), replace=False)]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = (sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return centroids


def assign_rows(
    vectors: np.ndarray[Any, Any], centroids: np.ndarray[Any, Any], chunk: int = 8192
) -> np.ndarray[Any, Any]:
    """The list (best centroid by inner product) of each row."""
    out = np.empty(len(vectors), dtype=np.int32)
    for start in range(0, len(vectors), chunk):
        out[start : start + chunk] = np.argmax(vectors[start : start + chunk] @ centroids.T, axis=1)
    return out


class IvfLists:
    """Rows of `matrix` grouped by list: `rows[bounds[c]:bounds[c + 1]]` are the
    matrix rows of list c, and `sorted_matrix` holds them in that order."""

    def __init__(self, matrix: np.ndarray[Any, Any], centroids: np.ndarray[Any, Any], assign: np.ndarray[Any, Any]):
        self.centroids = centroids
        self.assign = assign  # list of each matrix row (kept so a new snapshot reassigns only what changed)
        self.rows = np.argsort(assign, kind="stable")
        self.sorted_matrix = matrix[self.rows]
        self.bounds = np.searchsorted(assign[self.rows], np.arange(len(centroids) + 1)).astype(np.int64)

    def search(
        self, pos: np.ndarray[Any, Any], neg: np.ndarray[Any, Any] | None, k: int, probe_rows: int, min_lists: int = 8
    ) -> np.ndarray[Any, Any]:
        """Matrix rows of (about) the k best `max(pos·x) - max(neg·x)`, best first: the
        lists are ranked by that score of their centroids and scanned best first until
        `probe_rows` rows (at least k) and `min_lists` lists are covered, then the shortlist is
        scored exactly."""
        both = (pos if neg is None or not len(neg) else np.vstack([pos, neg])).astype(np.float32, copy=False)
        npos = len(pos)
        if k <= 0 or not npos:
            return np.zeros(0, dtype=np.int64)
        c_sims = self.centroids @ both.T
        c_score = c_sims[:, :npos].max(axis=1)
        if len(both) > npos:
            c_score = c_score - c_sims[:, npos:].max(axis=1)
        sizes = np.diff(self.bounds)
        order = np.argsort(-c_score)
        covered = np.cumsum(sizes[order])
        take = max(int(np.searchsorted(covered, max(probe_rows, k))) + 1, min_lists)
        chosen = np.sort(order[:take])
        # Adjacent lists are adjacent in sorted_matrix: one pass per run of lists and query vector
        # (matrix-vector products: this BLAS runs them twice as fast as one product with a thin matrix).
        breaks = np.flatnonzero(np.diff(chosen) != 1) + 1
        runs = [(int(self.bounds[r[0]]), int(self.bounds[r[-1] + 1])) for r in np.split(chosen, breaks)]
        total = sum(hi - lo for lo, hi in runs)
        if not total:
            return np.zeros(0, dtype=np.int64)
        sims = np.empty((len(both), total), dtype=np.float32)
        where = np.empty(total, dtype=np.int64)
        at = 0
        for lo, hi in runs:
            block = self.sorted_matrix[lo:hi]
            for j, v in enumerate(both):
                np.dot(block, v, out=sims[j, at : at + hi - lo])
            where[at : at + hi - lo] = np.arange(lo, hi)
            at += hi - lo
        score = sims[:npos].max(axis=0)
        if len(both) > npos:
            score = score - sims[npos:].max(axis=0)
        k = min(k, total)
        top = np.argpartition(-score, k - 1)[:k]
        top = top[np.argsort(-score[top], kind="stable")]
        found: np.ndarray[Any, Any] = self.rows[where[top]]
        return found


def exact_search(
    matrix: np.ndarray[Any, Any], pos: np.ndarray[Any, Any], neg: np.ndarray[Any, Any] | None, k: int
) -> np.ndarray[Any, Any]:
    """Rows of the k best `max(pos·x) - max(neg·x)` over every row, best first (the reference
    the IVF search is measured against, and the search for indexes too small for lists)."""
    if not len(matrix) or k <= 0 or not len(pos):
        return np.zeros(0, dtype=np.int64)
    both = pos if neg is None or not len(neg) else np.vstack([pos, neg])
    sims = np.stack([matrix @ v for v in both])  # matrix-vector products (see IvfLists.search)
    score = sims[: len(pos)].max(axis=0)
    if len(both) > len(pos):
        score = score - sims[len(pos) :].max(axis=0)
    k = min(k, len(score))
    top = np.argpartition(-score, k - 1)[:k]
    return top[np.argsort(-score[top], kind="stable")]
