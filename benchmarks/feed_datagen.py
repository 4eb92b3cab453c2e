"""Synthetic feed data in PostgreSQL, generated server-side, with planted tastes.

    .venv/bin/python benchmarks/feed_datagen.py                       # 100k users, 1M posts, 10M follows
    .venv/bin/python benchmarks/feed_datagen.py --users 10000 --posts 100000 --follows 1000000 \\
        --embedded-posts 20000 --database kinora_feed_bench_small

Creates (or replaces) database --database (default kinora_feed_bench) on the
server `kinora.testing.admin_dsn()` names (KINORA_TEST_DATABASE_URL, else
127.0.0.1:5432; feed_bench.py must find the data there later, so a throwaway
embedded server would not do) and runs the feed migrations. Then, with the indexes
and keys of users, posts and follows dropped (rebuilt after the load), each
table is one `INSERT ... SELECT ... FROM generate_series(...)` that PostgreSQL
runs itself: no rows travel from Python except the post embeddings (binary
COPY into a temporary table).

Shape of the data (deterministic for a --seed, `setseed`):
- users `u0000000`..: region = id mod 10, 8% teens;
- posts over the last 14 days, ids growing with time; authors log-uniform in
  popularity rank (Zipf, a = 1), ranks mapped to users by a multiplicative
  hash so popularity is independent of id; counters Poisson (remixes 0.4,
  likes 1.5, views 3, created-after-view 0.3, cameo requests 0.2, reports 0.05,
  see-less 0.1, exact by inverse CDF);
- each post has a topic; the newest --embedded-posts carry an embedding: the
  real sentence embedding of the topic's description plus noise (so
  preference search has real structure); older posts have none, like posts
  published before a model change;
- follows: every user draws --follows/--users followees, half from a
  truncated Zipf (a = 1.2) popularity curve, half uniformly, duplicates and
  self-follows dropped (drawn with 30% slack and cut to the per-user count, so
  the total lands close to --follows).

Prints the time per step and the table sizes.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import psycopg

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from kinora.testing import admin_dsn  # noqa: E402

TOPICS = [
    "home cooking and recipes",
    "cute pets, cats and dogs",
    "football and basketball highlights",
    "travel and landscapes",
    "dance and music",
    "comedy sketches",
    "science experiments",
    "fashion and makeup",
    "cars and racing",
    "gardening and plants",
    "video games",
    "fitness workouts",
]
REGIONS = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "MX", "CA", "AU"]
TABLES = ("users", "posts", "follows")
# Poisson means of the scorer's counters (posts columns).
COUNTER_MEANS = {
    "remix_count": 0.4,
    "like_count": 1.5,
    "view_count": 3.0,
    "created_after_view": 0.3,
    "cameo_requests": 0.2,
    "report_count": 0.05,
    "see_less_count": 0.1,
}


def user_id(expr: str) -> str:
    return f"'u' || lpad(({expr})::text, 7, '0')"


def post_id(expr: str) -> str:
    """Matches str(uuid.UUID(int=i + (1 << 124)))."""
    return f"'10000000-0000-0000-0000-' || lpad(to_hex(({expr})::bigint), 12, '0')"


def poisson(mean: float, uniform: str) -> str:
    """An exact Poisson draw as a SQL expression: the inverse CDF, one comparison per value."""
    terms, p, cdf = [], math.exp(-mean), 0.0
    for k in range(64):
        cdf += p
        if 1.0 - cdf < 1e-9:
            break
        terms.append(f"({uniform} > {cdf!r})::int")
        p *= mean / (k + 1)
    return "(" + " + ".join(terms) + ")"


def coprime_multiplier(n: int) -> int:
    """A large multiplier coprime with n: i -> i * m mod n is then a permutation of [0, n)."""
    m = 7919
    while math.gcd(m, n) != 1:
        m += 2
    return m


def zipf_rank(uniform: str, n: int, a: float) -> str:
    """A popularity rank in [0, n): log-uniform for a = 1, truncated Pareto otherwise."""
    if a == 1.0:
        return f"least(floor(exp({uniform} * ln({n} + 1))) - 1, {n - 1})"
    lo = n ** (1.0 - a)
    return f"least(floor(power({lo!r} + (1 - {lo!r}) * {uniform}, {1.0 / (1.0 - a)!r})) - 1, {n - 1})"


def drop_indexes(conn) -> list[str]:
    """Drops the keys and indexes of TABLES; returns the statements that rebuild them."""
    rebuild = []
    for name, table, definition in conn.execute(
        "SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u')",
        (list(TABLES),),
    ).fetchall():
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)",
        (list(TABLES),),
    ).fetchall():
        conn.execute(f'DROP INDEX "{name}"')
        rebuild.append(definition)
    return rebuild


def embeddings(args, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Topics and unit float32 embeddings (topic centroid + noise) of the newest posts."""
    from kinora.ml.embeddings import embed

    centroids = embed(TOPICS).astype(np.float32)
    topics = rng.integers(0, len(TOPICS), args.embedded_posts)
    vectors = centroids[topics] + rng.normal(0, 0.035, (args.embedded_posts, centroids.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return topics, vectors.astype(np.float32)


def load(conn, args, rng: np.random.Generator, timings: dict) -> None:
    def step(name: str, sql: str, params=None) -> None:
        t = time.perf_counter()
        conn.execute(sql, params)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t

    conn.execute("SELECT setseed(%s)", (((args.seed * 7919) % 1000) / 1000.0,))
    step(
        "users",
        f"""
        INSERT INTO users (id, handle, region, teen, updated_at)
        SELECT {user_id("i")}, 'user' || i, (%(regions)s::text[])[1 + mod(i, {len(REGIONS)})], random() < 0.08, now()
        FROM generate_series(0, {args.users - 1}) AS i""",
        {"regions": REGIONS},
    )

    t = time.perf_counter()
    first_embedded = args.posts - args.embedded_posts
    conn.execute("CREATE TEMP TABLE post_embedding (i int PRIMARY KEY, topic int, embedding bytea)")
    if args.embedded_posts:
        topics, vectors = embeddings(args, rng)
        with conn.cursor().copy("COPY post_embedding (i, topic, embedding) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "int4", "bytea"])
            for k in range(args.embedded_posts):
                cp.write_row((first_embedded + k, int(topics[k]), vectors[k].tobytes()))
    timings["embeddings"] = time.perf_counter() - t

    mult = coprime_multiplier(args.users)
    author = f"mod(({zipf_rank('random()', args.users, 1.0)})::bigint * {mult}, {args.users})"
    counters = {name: poisson(mean, f"r.r{k}") for k, (name, mean) in enumerate(COUNTER_MEANS.items())}
    step(
        "posts",
        f"""
        INSERT INTO posts (id, author_user_id, generation_id, caption, prompt, visibility, state, cameo_ids, region,
                           embedding, {", ".join(COUNTER_MEANS)}, remix_generations, watch_ms, created_at, updated_at)
        SELECT {post_id("r.i")}, {user_id("r.author")}, 'g' || lpad(r.i::text, 9, '0'),
               (%(topics)s::text[])[1 + r.topic] || ' #' || r.i, (%(topics)s::text[])[1 + r.topic], 1, 1, '[]',
               (%(regions)s::text[])[1 + mod(r.author, {len(REGIONS)})], r.embedding,
               {", ".join(counters.values())}, {counters["remix_count"]},
               {counters["view_count"]} * 6000, r.created, r.created
        FROM (
            SELECT g.i, {author} AS author, coalesce(e.topic, floor(random() * {len(TOPICS)})::int) AS topic,
                   e.embedding, now() - interval '14 days' * ({args.posts} - g.i)::float8 / {args.posts} AS created,
                   {", ".join(f"random() AS r{k}" for k in range(len(COUNTER_MEANS)))}
            FROM generate_series(0, {args.posts - 1}) AS g(i)
            LEFT JOIN post_embedding e ON e.i = g.i
        ) AS r""",
        {"topics": TOPICS, "regions": REGIONS},
    )

    per_user = max(1, round(args.follows / args.users))
    draws = math.ceil(per_user * 1.3)
    popular = f"mod(({zipf_rank('random()', args.users, 1.2)})::bigint * {mult}, {args.users})"  # as authors
    step(
        "follows",
        f"""
        INSERT INTO follows (follower_id, followee_id, created_at)
        SELECT {user_id("u.i")}, {user_id("f.j")}, now()
        FROM generate_series(0, {args.users - 1}) AS u(i)
        CROSS JOIN LATERAL (
            SELECT d.j FROM (
                SELECT DISTINCT c.j FROM (
                    SELECT CASE WHEN random() < 0.5 THEN {popular}
                                ELSE floor(random() * {args.users})::bigint END AS j
                    FROM generate_series(1, {draws}) WHERE u.i >= 0  -- correlated: fresh draws per follower
                ) AS c WHERE c.j <> u.i
            ) AS d ORDER BY random() LIMIT {per_user}
        ) AS f""",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--follows", type=int, default=10_000_000)
    ap.add_argument("--embedded-posts", type=int, default=50_000)
    ap.add_argument("--database", default="kinora_feed_bench")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not (
        0 < args.users < 10_000_000
        and 0 < args.posts < 1_000_000_000
        and 0 <= args.embedded_posts <= args.posts
        and 0 < args.follows
    ):
        raise SystemExit("sizes out of range: 0 < users < 10M, 0 < posts < 1G, 0 <= embedded-posts <= posts")
    rng = np.random.default_rng(args.seed)
    t_all = time.perf_counter()
    timings: dict[str, float] = {}

    with psycopg.connect(admin_dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    dsn = f"{admin_dsn().rsplit('/', 1)[0]}/{args.database}"
    from kinora.runtime.migrations import upgrade
    from services.feed.server import MIGRATIONS

    t = time.perf_counter()
    upgrade(MIGRATIONS, dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    timings["migrate"] = time.perf_counter() - t

    with psycopg.connect(dsn) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET work_mem = '256MB'")
        rebuild = drop_indexes(conn)
        load(conn, args, rng, timings)
        t = time.perf_counter()
        for statement in rebuild:
            conn.execute(statement)
        conn.commit()
        timings["indexes"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.autocommit = True
        # Statistics, and the visibility map for index-only scans. The load committed asynchronously,
        # and VACUUM cannot mark rows all-visible before their commit is flushed (the follows
        # index then needed a heap visit per row read: 100 per followee list). A synchronous
        # commit flushes everything before it.
        conn.execute("SET synchronous_commit = on")
        conn.execute("SELECT txid_current()")
        conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        timings["vacuum"] = time.perf_counter() - t
        # Write the load out now: otherwise PostgreSQL does it during the benchmark that follows
        # (a GetFeed run right after generating the full dataset had p99 188 ms instead of ~30).
        t = time.perf_counter()
        conn.execute("CHECKPOINT")
        timings["checkpoint"] = time.perf_counter() - t
        counts = {name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in TABLES}
        sizes = conn.execute(
            "SELECT relname, pg_total_relation_size(oid), pg_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)",
            (list(TABLES),),
        ).fetchall()
        db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    total = time.perf_counter() - t_all
    print(
        f"database {args.database}: {counts['users']:,} users, {counts['posts']:,} posts "
        f"({args.embedded_posts:,} with embeddings), {counts['follows']:,} follows"
    )
    for name, seconds in timings.items():
        print(f"  {name:10s} {seconds:8.1f} s")
    print(f"  total      {total:8.1f} s")
    for name, with_indexes, heap in sorted(sizes):
        print(f"  {name:8s} table {heap / 2**20:8.0f} MiB, with indexes and TOAST {with_indexes / 2**20:8.0f} MiB")
    print(f"  database {db_size / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
