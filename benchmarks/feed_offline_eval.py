"""Offline evaluation: does creation-weighted ranking lead to more remixes than
ranking for time spent? Synthetic world with planted tastes.

    .venv/bin/python benchmarks/feed_offline_eval.py [--users 2000 --posts 20000 --seeds 3]

Method
  * Topics are real sentence embeddings of topic descriptions; each user has a
    planted favourite topic (taste vector = that embedding), each post a topic
    (embedding + noise), a latent "remixability" r and a latent
    "watchability" w, negatively correlated (clickbait holds attention but
    inspires little making).
  * Ground truth for a user u shown post p:
      P(remix)   = sigmoid(-4 + 3 * cos(taste_u, p) + 2.5 * r_p)
      watch time = 4 s + 20 s * sigmoid(2 * w_p) * (0.5 + cos(taste_u, p))
  * History: every post gets a random number of past impressions; its
    counters (remixes made, views, watch time, likes) are drawn from the truth
    above, exactly what the live feed would have logged.
  * Evaluation: for held-out users, the same candidate set (their taste's
    posts plus random ones) is ranked by the real `CreationScorer` with the
    production weights and with `TIME_SPENT_WEIGHTS` (watch time up, creation
    weights zero); the real policy layer builds a 10-item page; outcomes are
    drawn from the truth. Both rankers see the same stated preference.
Metrics: remixes per 1,000 impressions (expected value, no sampling noise),
watch seconds per impression, over several seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.feed_datagen import TOPICS  # noqa: E402
from services.feed.ranking import (  # noqa: E402
    TIME_SPENT_WEIGHTS,
    Candidates,
    CreationScorer,
    PolicyConfig,
    ScoreWeights,
    ViewerContext,
    apply_policy,
)

SOURCE_TRENDING = 4


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def world(rng, centroids, n_posts, n_users):
    topics = rng.integers(0, len(centroids), n_posts)
    emb = centroids[topics] + rng.normal(0, 0.035, (n_posts, centroids.shape[1]))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    latent = rng.multivariate_normal([0, 0], [[1, -0.5], [-0.5, 1]], n_posts)
    remixability, watchability = latent[:, 0], latent[:, 1]
    tastes = rng.integers(0, len(centroids), n_users)
    return topics, emb, remixability, watchability, tastes


def truth(taste_vec, emb, r, w):
    cos = emb @ taste_vec
    p_remix = sigmoid(-4 + 3 * cos + 2.5 * r)
    watch_s = 4 + 20 * sigmoid(2 * w) * (0.5 + cos)
    return p_remix, watch_s


def history(rng, centroids, emb, r, w):
    """Counters as the live feed would have logged them from past impressions."""
    n = len(emb)
    views = rng.poisson(40, n) + 1
    viewer_taste = centroids[rng.integers(0, len(centroids), n)]  # one typical audience per post
    cos = np.einsum("ij,ij->i", emb, viewer_taste.astype(np.float32))
    p_remix = sigmoid(-4 + 3 * cos + 2.5 * r)
    watch_s = 4 + 20 * sigmoid(2 * w) * (0.5 + cos)
    return {
        "remix_generations": rng.binomial(views, p_remix).astype(float),
        "remix_count": np.zeros(n),
        "created_after_view": rng.binomial(views, p_remix / 2).astype(float),
        "cameo_requests": np.zeros(n),
        "like_count": rng.binomial(views, sigmoid(-2 + cos + 0.5 * w)).astype(float),
        "comment_count": np.zeros(n),
        "report_count": np.zeros(n),
        "see_less_count": np.zeros(n),
        "view_count": views.astype(float),
        "watch_ms": views * watch_s * 1000,
    }


def evaluate(seed, centroids, n_users, n_posts, n_candidates=1000, page=10):
    rng = np.random.default_rng(seed)
    topics, emb, r, w, tastes = world(rng, centroids, n_posts, n_users)
    counters = history(rng, centroids, emb, r, w)
    rankers = {"creation-weighted": CreationScorer(ScoreWeights()), "time-spent": CreationScorer(TIME_SPENT_WEIGHTS)}
    totals = {name: {"remix": 0.0, "watch": 0.0, "n": 0} for name in rankers}
    now = 1.7e9
    for u in range(n_users):
        taste = centroids[tastes[u]]
        ids = rng.choice(n_posts, n_candidates, replace=False)
        batch = Candidates(
            [str(i) for i in ids],
            [f"a{i % 5000}" for i in ids],
            np.full(len(ids), SOURCE_TRENDING),
            now - rng.random(len(ids)) * 86400 * 3,
            {k: v[ids] for k, v in counters.items()},
            emb[ids],
        )
        viewer = ViewerContext(
            user_id=f"u{u}",
            now_ts=now,
            pref_vectors=taste[None, :].astype(np.float32),
            pref_signs=np.array([1.0], dtype=np.float32),
            pref_phrases=[TOPICS[tastes[u]]],
        )
        p_remix, watch_s = truth(taste, emb[ids], r[ids], w[ids])
        for name, scorer in rankers.items():
            scores, _ = scorer.score(batch, viewer)
            sel = apply_policy(batch, scores, page, PolicyConfig(2, 0.0), blocked=set(), seen=set(), viewer=viewer)
            totals[name]["remix"] += float(p_remix[sel].sum())
            totals[name]["watch"] += float(watch_s[sel].sum())
            totals[name]["n"] += len(sel)
    return {name: (1000 * t["remix"] / t["n"], t["watch"] / t["n"]) for name, t in totals.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    from kinora.ml.embeddings import embed

    centroids = embed(TOPICS)
    runs = [evaluate(seed, centroids, args.users, args.posts) for seed in range(args.seeds)]
    print(
        f"offline eval: {args.users} users x 10-item page from 1,000 candidates, {args.posts} posts, {args.seeds} seeds"
    )
    print(f"{'ranking':20s} {'remixes/1k impressions':>24s} {'watch s/impression':>20s}")
    for name in runs[0]:
        remix = np.array([r[name][0] for r in runs])
        watch = np.array([r[name][1] for r in runs])
        print(f"{name:20s} {remix.mean():17.1f} ± {remix.std():4.1f} {watch.mean():15.2f} ± {watch.std():4.2f}")
    lift = np.mean([r["creation-weighted"][0] / r["time-spent"][0] for r in runs])
    print(
        f"remix lift, creation-weighted vs time-spent: {lift:.2f}x (mean over seeds, both rankers on the same worlds)"
    )


if __name__ == "__main__":
    main()
