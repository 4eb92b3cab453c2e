"""Synthetic feed data in PostgreSQL, fast (COPY), with planted tastes.

    .venv/bin/python benchmarks/feed_datagen.py                       # 100k users, 1M posts, 10M follows
    .venv/bin/python benchmarks/feed_datagen.py --users 10000 --posts 100000 --follows 1000000

Creates (or replaces) database --database (default kinora_feed_bench) on
KINORA_TEST_PG's server, runs the feed migrations, then COPYs users, posts and
follows. Followees are drawn from a Zipf-like popularity curve, authors too.
Each post has a topic; its embedding is the real sentence embedding of the
topic's description plus noise (so preference search has real structure), for
the newest --embedded-posts posts (older ones have none, like posts published
before a model change). Prints the time per table.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kinora.testing import PG_ADMIN_DSN  # noqa: E402

TOPICS = ["home cooking and recipes", "cute pets, cats and dogs", "football and basketball highlights",
          "travel and landscapes", "dance and music", "comedy sketches", "science experiments",
          "fashion and makeup", "cars and racing", "gardening and plants", "video games", "fitness workouts"]
REGIONS = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "MX", "CA", "AU"]
CHUNK = 200_000


def post_uuid(i: np.ndarray) -> list[str]:
    return [str(uuid.UUID(int=int(x) + (1 << 124))) for x in i]


def topic_vectors() -> np.ndarray:
    from kinora.ml.embeddings import embed

    return embed(TOPICS)


def zipf_choice(rng: np.random.Generator, n: int, size: int, a: float = 1.1) -> np.ndarray:
    """Indices in [0, n) with a heavy head (popular accounts)."""
    ranks = rng.zipf(a, size=size * 2)
    ranks = ranks[ranks <= n][:size]
    while len(ranks) < size:
        more = rng.zipf(a, size=size)
        ranks = np.concatenate([ranks, more[more <= n]])[:size]
    perm = rng.permutation(n)  # popularity independent of id
    return perm[ranks - 1]


def copy_text(conn, sql: str, lines) -> None:
    with conn.cursor().copy(sql) as cp:
        for block in lines:
            cp.write(block)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--follows", type=int, default=10_000_000)
    ap.add_argument("--embedded-posts", type=int, default=50_000)
    ap.add_argument("--database", default="kinora_feed_bench")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t_all = time.perf_counter()

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    dsn = f"{base}/{args.database}"
    from kinora.runtime.migrations import upgrade
    from services.feed.server import MIGRATIONS

    upgrade(MIGRATIONS, dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    now = datetime.now(timezone.utc)
    timings = {}

    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit = off")
        # Users: 8% teens; taste = one favourite topic (planted).
        t = time.perf_counter()
        regions = rng.integers(0, len(REGIONS), args.users)
        teen = rng.random(args.users) < 0.08
        stamp = now.isoformat()

        def user_lines():
            for start in range(0, args.users, CHUNK):
                rows = [f"u{i:07d}\tuser{i}\t{REGIONS[regions[i]]}\t{'t' if teen[i] else 'f'}\t{stamp}\n"
                        for i in range(start, min(start + CHUNK, args.users))]
                yield "".join(rows).encode()
        copy_text(conn, "COPY users (id, handle, region, teen, updated_at) FROM STDIN", user_lines())
        conn.commit()
        timings["users"] = time.perf_counter() - t

        # Posts: authors by popularity, created over the last 14 days, newest last.
        t = time.perf_counter()
        authors = zipf_choice(rng, args.users, args.posts, a=1.05)
        topics = rng.integers(0, len(TOPICS), args.posts)
        ages = np.sort(rng.random(args.posts) * 14 * 86400)[::-1]  # seconds ago; index grows newer
        centroids = topic_vectors() if args.embedded_posts else None
        first_embedded = args.posts - args.embedded_posts
        counters = rng.poisson(lam=[0.4, 1.5, 3.0, 0.3, 0.2, 0.05, 0.1], size=(args.posts, 7))

        def post_lines():
            for start in range(0, args.posts, CHUNK // 4):
                stop = min(start + CHUNK // 4, args.posts)
                ids = post_uuid(np.arange(start, stop))
                out = []
                for k, i in enumerate(range(start, stop)):
                    created = (now - timedelta(seconds=float(ages[i]))).isoformat()
                    emb = "\\N"
                    if centroids is not None and i >= first_embedded:
                        v = centroids[topics[i]] + rng.normal(0, 0.035, 384).astype(np.float32)
                        v /= np.linalg.norm(v)
                        emb = "\\\\x" + v.astype(np.float32).tobytes().hex()
                    a = authors[i]
                    rc, lc, vc, cav, cr, rep, sl = counters[i]
                    out.append(f"{ids[k]}\tu{a:07d}\tg{i:09d}\t{TOPICS[topics[i]]} #{i}\t{TOPICS[topics[i]]}\t1\t1\t"
                               f"[]\t{REGIONS[regions[a]]}\t{emb}\t{lc}\t{rc}\t{rc}\t{cav}\t{cr}\t{rep}\t{sl}\t{vc}\t"
                               f"{vc * 6000}\t{created}\t{created}\n")
                yield "".join(out).encode()
        copy_text(conn, "COPY posts (id, author_user_id, generation_id, caption, prompt, visibility, state, "
                        "cameo_ids, region, embedding, like_count, remix_count, remix_generations, created_after_view, "
                        "cameo_requests, report_count, see_less_count, view_count, watch_ms, created_at, updated_at) "
                        "FROM STDIN", post_lines())
        conn.commit()
        timings["posts"] = time.perf_counter() - t

        # Follows: every user follows a Zipf-popular set; duplicates and self-follows dropped.
        t = time.perf_counter()
        written = 0

        def follow_lines():
            nonlocal written
            per_user = max(1, args.follows // args.users)
            for start in range(0, args.users, max(1, CHUNK // per_user)):
                stop = min(start + max(1, CHUNK // per_user), args.users)
                followers = np.repeat(np.arange(start, stop), per_user)
                # Half toward popular accounts, half anywhere: a heavy head without a wall of duplicates.
                followees = np.where(rng.random(len(followers)) < 0.5,
                                     zipf_choice(rng, args.users, len(followers), a=1.2),
                                     rng.integers(0, args.users, len(followers)))
                pairs = np.unique(followers.astype(np.int64) * args.users + followees)
                fr, fe = pairs // args.users, pairs % args.users
                keep = fr != fe
                written += int(keep.sum())
                yield "".join(f"u{a:07d}\tu{b:07d}\t{stamp}\n" for a, b in zip(fr[keep], fe[keep])).encode()
        copy_text(conn, "COPY follows (follower_id, followee_id, created_at) FROM STDIN", follow_lines())
        conn.commit()
        timings["follows"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute("ANALYZE")
        timings["analyze"] = time.perf_counter() - t

    total = time.perf_counter() - t_all
    print(f"database {args.database}: {args.users:,} users, {args.posts:,} posts "
          f"({args.embedded_posts:,} with embeddings), {written:,} follows")
    for name, seconds in timings.items():
        print(f"  {name:8s} {seconds:8.1f} s")
    print(f"  total    {total:8.1f} s")


if __name__ == "__main__":
    main()
