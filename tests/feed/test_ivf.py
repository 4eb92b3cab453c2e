"""The preference index's approximate search (IVF lists) against the exact
scan it replaces: recall of the top k on planted clusters, on real MiniLM
sentence embeddings, and through `PreferenceIndex.refresh` on PostgreSQL as
posts arrive, are republished and turn the index over."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import sessionmaker

from services.feed import models as m
from services.feed.common import PUBLIC, PUBLISHED
from services.feed.indexes import PreferenceIndex
from services.feed.ivf import IvfLists, assign_rows, exact_search, train_centroids
from services.feed.ranking import DIM


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def planted(rng: np.random.Generator, rows: int, topics: int, subtopics: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Rows around subtopics of random topics (as sentence embeddings cluster: "cooking",
    within it "baking", "stir fry"...), each subtopic with its own spread; returns the rows
    and the topic centres."""
    c = unit(rng.normal(size=(topics, DIM)))
    sub = unit(np.repeat(c, subtopics, axis=0) + rng.normal(size=(topics * subtopics, DIM)) * 0.04)
    spread = rng.uniform(0.02, 0.06, len(sub))
    which = rng.integers(0, len(sub), rows)
    return unit(sub[which] + rng.normal(size=(rows, DIM)) * spread[which, None]), c


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return len(set(found.tolist()) & set(truth.tolist())) / len(truth)


def ivf(x: np.ndarray, lists: int) -> IvfLists:
    centroids = train_centroids(x, lists)
    return IvfLists(x, centroids, assign_rows(x, centroids))


@pytest.mark.parametrize("k", [300, 30])
def test_recall_on_planted_clusters(k):
    rng = np.random.default_rng(7)
    x, centres = planted(rng, 20_000, 40)
    index = ivf(x, 20_000 // 160)  # PreferenceIndex's defaults: 160 rows per list, probe 6 × k
    recalls = []
    for _ in range(25):
        # Two wishes and one dislike, near random topics, like "more cooking and pets, less sports".
        q = unit(centres[rng.choice(len(centres), 3, replace=False)] + rng.normal(size=(3, DIM)) * 0.03)
        truth = exact_search(x, q[:2], q[2:], k)
        found = index.search(q[:2], q[2:], k, 6 * k)
        assert len(found) == k and len(set(found.tolist())) == k
        recalls.append(recall(found, truth))
    assert np.mean(recalls) >= 0.95 and min(recalls) >= 0.9, recalls


def test_recall_on_minilm_sentences():
    from kinora.ml.embeddings import embed

    subjects = [
        "a chef",
        "a puppy",
        "a kitten",
        "a footballer",
        "a dancer",
        "a grandmother",
        "a robot",
        "a surfer",
        "a gardener",
        "a racing driver",
        "a violinist",
        "a toddler",
    ]
    actions = [
        "cooking pasta",
        "chasing a ball",
        "sleeping",
        "scoring a goal",
        "dancing salsa",
        "baking bread",
        "painting a wall",
        "riding a wave",
        "planting tomatoes",
        "drifting around a corner",
        "playing a concerto",
        "laughing",
    ]
    places = [
        "in a kitchen",
        "in the park",
        "on a beach",
        "in a stadium",
        "at night",
        "in the rain",
        "in a garage",
        "on a mountain",
        "in a city street",
    ]
    sentences = [f"{s} {a} {p}" for s in subjects for a in actions for p in places]  # 1,296
    x = unit(embed(sentences).astype(np.float32))
    index = ivf(x, 12)
    q = unit(embed(["home cooking", "cute pets", "sports"]).astype(np.float32))
    for k in (50, 100):
        truth = exact_search(x, q[:2], q[2:], k)
        assert recall(index.search(q[:2], q[2:], k, 6 * k), truth) >= 0.9
    truth = exact_search(x, q[:1], None, 50)
    assert recall(index.search(q[:1], None, 50, 300), truth) >= 0.9


def test_exact_search_matches_a_full_sort():
    rng = np.random.default_rng(1)
    x, _ = planted(rng, 2_000, 20)
    q = unit(rng.normal(size=(3, DIM)))
    score = (x @ q[:2].T).max(axis=1) - (x @ q[2:].T).max(axis=1)
    assert exact_search(x, q[:2], q[2:], 40).tolist() == np.argsort(-score, kind="stable")[:40].tolist()
    with pytest.raises(ValueError, match="at least 10 rows"):
        train_centroids(x[:5], 10)


def test_preference_index_keeps_its_lists_current(pg_url):
    """Posts arrive, one is republished with another embedding, and the index turns over:
    new rows join their nearest list, a full turnover retrains, and searches keep their recall."""
    from kinora.runtime.db import make_engine
    from kinora.runtime.migrations import upgrade
    from services.feed.server import MIGRATIONS

    upgrade(MIGRATIONS, pg_url)
    engine = make_engine(pg_url)
    sessions = sessionmaker(engine)
    rng = np.random.default_rng(3)
    x, centres = planted(rng, 3_000, 10)
    start = datetime.now(UTC) - timedelta(days=1)
    ids = [str(uuid.uuid4()) for _ in range(len(x))]

    def publish(rows: range) -> None:
        with sessions.begin() as s:
            s.execute(
                insert(m.posts),
                [
                    dict(
                        id=ids[i],
                        author_user_id=f"u{i % 97}",
                        generation_id=f"g{ids[i]}",
                        visibility=PUBLIC,
                        state=PUBLISHED,
                        embedding=x[i].tobytes(),
                        created_at=start + timedelta(seconds=i),
                        updated_at=start + timedelta(seconds=i + 1),
                    )
                    for i in rows
                ],
            )

    index = PreferenceIndex(capacity=2_000, ivf_min_rows=1_000, rows_per_list=40)

    def check(rows: range) -> None:
        """Recall of the index's searches against an exact scan of the posts it should hold."""
        held = np.array(list(rows))
        for _ in range(5):
            q = unit(centres[rng.choice(len(centres), 3, replace=False)])
            truth = {ids[i] for i in held[exact_search(x[held], q[:2], q[2:], 60)]}
            assert len(truth & set(index.nearest(q[:2], q[2:], 60))) / 60 >= 0.9

    publish(range(0, 1_500))
    with sessions() as s:
        index.refresh(s, force=True)
    lists = index._snap.lists
    assert lists is not None and len(lists.centroids) == 1_500 // 40
    check(range(0, 1_500))

    publish(range(1_500, 2_200))  # 200 oldest leave (capacity 2,000); new rows join existing lists
    with sessions.begin() as s:  # a republished post with another topic's embedding
        x[1_000] = unit(centres[0] + rng.normal(size=DIM) * 0.01)
        s.execute(
            update(m.posts)
            .where(m.posts.c.id == ids[1_000])
            .values(embedding=x[1_000].tobytes(), updated_at=start + timedelta(seconds=2_200))
        )
    with sessions() as s:
        index.refresh(s, force=True)
    snap = index._snap
    assert len(snap.ids) == 2_000 and snap.ids[0] == ids[200]
    assert snap.lists.centroids is lists.centroids  # not retrained: 700 added < 1,500 held
    assert ids[1_000] in index.nearest(centres[:1], None, 20)
    check(range(200, 2_200))

    publish(range(2_200, 3_000))  # 1,500 added since training: retrained
    with sessions() as s:
        index.refresh(s, force=True)
    assert index._snap.lists.centroids is not lists.centroids and len(index._snap.ids) == 2_000
    check(range(1_000, 3_000))
    engine.dispose()
