"""`apply_policy` sorts candidates into its pools only as far as the page needs; the page must be
the one a full sort into pools gives (the rules are tested end to end in test_feed.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kinora.feed.v1 import feed_pb2
from services.feed.ranking import CONNECTED_SOURCES, Candidates, PolicyConfig, ViewerContext, apply_policy

SOURCES = [
    feed_pb2.CANDIDATE_SOURCE_FOLLOWING,
    feed_pb2.CANDIDATE_SOURCE_MUTUALS,
    feed_pb2.CANDIDATE_SOURCE_REMIXES,
    feed_pb2.CANDIDATE_SOURCE_TRENDING_REGION,
    feed_pb2.CANDIDATE_SOURCE_PREFERENCES,
]


def reference_policy(
    c: Candidates, scores, page_size: int, config: PolicyConfig, *, blocked, seen, viewer
) -> list[int]:
    """The rules written out plainly: every allowed candidate sorted into its pool first."""
    connected = np.isin(c.sources, CONNECTED_SOURCES)
    public = c.visibility == feed_pb2.VISIBILITY_PUBLIC
    pools: tuple[list[int], list[int]] = ([], [])
    for i in np.argsort(-scores, kind="stable"):
        unsafe = viewer.teen and not (c.features["report_count"][i] <= 0 and public[i])
        if c.post_ids[i] in seen or c.authors[i] in blocked or c.authors[i] == viewer.user_id or unsafe:
            continue
        pools[int(connected[i])].append(int(i))
    page: list[int] = []
    count: dict[str, int] = {}
    while len(page) < page_size:
        want_connected = sum(connected[page]) < config.connected_share * (len(page) + 1)
        for pool in (pools[1], pools[0]) if want_connected else (pools[0], pools[1]):
            last = c.authors[page[-1]] if page else None
            fits = [i for i in pool if count.get(c.authors[i], 0) < config.max_per_author]
            pick = next((i for i in fits if c.authors[i] != last), fits[0] if fits else None)
            if pick is not None:
                pool.remove(pick)
                page.append(pick)
                count[c.authors[pick]] = count.get(c.authors[pick], 0) + 1
                break
        else:
            break
    return page


@pytest.mark.parametrize("seed", range(40))
def test_lazy_pools_give_the_page_a_full_sort_gives(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    authors = [f"a{k}" for k in rng.integers(0, int(rng.integers(1, 30)), n)]  # few authors: caps bind
    c = Candidates(
        [f"p{k}" for k in range(n)],
        authors,
        rng.choice(SOURCES, n, p=[0.1, 0.05, 0.05, 0.4, 0.4]),
        rng.uniform(0, 1e6, n),
        {"report_count": rng.choice([0, 0, 0, 1], n).astype(float)},
        visibility=rng.choice([feed_pb2.VISIBILITY_PUBLIC, feed_pb2.VISIBILITY_FOLLOWERS], n),
    )
    scores = np.round(rng.normal(size=n), 1)  # ties too
    kwargs = dict(
        blocked={"a1", "a2"},
        seen={f"p{k}" for k in rng.integers(0, max(n, 1), 20)},
        viewer=ViewerContext("a3", 0.0, teen=bool(seed % 3 == 0)),
    )
    config = PolicyConfig(max_per_author=int(rng.integers(1, 4)), connected_share=float(rng.choice([0.0, 0.6, 1.0])))
    size = int(rng.integers(1, 30))
    assert apply_policy(c, scores, size, config, **kwargs) == reference_policy(c, scores, size, config, **kwargs)
