"""GetFeed latency under load, over real gRPC, with the time per ranking stage.

    .venv/bin/python benchmarks/feed_datagen.py --users 10000 --posts 100000 --follows 1000000 \
        --database kinora_feed_bench_small
    .venv/bin/python benchmarks/feed_bench.py --database kinora_feed_bench_small --rate 200 --seconds 20

The feed server runs in its own process (`--serve`, started by this script)
on the generated database; this process is the client, sending GetFeed at a
fixed rate (open loop: request i is due at start + i/rate and its latency
counts from that due time, so a slow reply, or a client that falls behind,
shows up as latency). Viewers are the users following the most accounts, with
stated preferences (nudged apart per viewer unless --shared-prefs), so every
request draws candidates from all sources (about 1,000 scored). Their tokens
carry their handles, as identity mints them (a token whose handle differs from the
feed's copy makes the feed rewrite the user's row), and each viewer has made one
request before the measured window (--first-contact: not so; --pages-per-session N: sessions
of N pages whose first page, ranked, falls in the window). Prints
client-side p50/p95/p99, the server's stage times and the CPU time per request
of the server, the client and the whole machine; --profile writes a py-spy
profile of the server for the measured window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.proc import cpu_seconds  # noqa: E402


def serve() -> None:
    """Child process: the feed service with a JWKS handed over by the parent."""
    from kinora.runtime.bootstrap import main
    from kinora.runtime.settings import load_settings
    from services.feed.server import build_context
    from services.feed.settings import FeedSettings

    jwks = json.loads(os.environ["FEED_BENCH_JWKS"])

    async def fetch():
        return jwks

    async def build(settings):
        return build_context(settings, jwks_fetcher=fetch)[0].app

    sys.exit(main("feed", lambda: load_settings(FeedSettings), build, argv=["serve"]))


def backends_cpu_seconds(dsn: str) -> float:
    """CPU time of the PostgreSQL backends connected to the benchmark database (same machine). A lower
    bound over a window: a pooled connection closed before its end takes its CPU time with it."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


# The tables GetFeed reads or writes, for PostgreSQL's side of a run.
PG_TABLES = ("users", "posts", "follows", "served", "daily_counts", "feed_sessions", "likes", "see_less", "blocks")


def pg_blocks(kind: str) -> str:
    """The sum of a table's blocks `kind` (hit or read): heap, indexes, TOAST and its index."""
    return " + ".join(f"coalesce(io.{part}_blks_{kind}, 0)" for part in ("heap", "idx", "toast", "tidx"))


def pg_side(dsn: str) -> dict:
    """PostgreSQL's cumulative counters for the benchmark database: per table (live and dead rows,
    autovacuum and autoanalyze runs, blocks hit and read), the database's blocks hit and read,
    checkpoints so far (pg_stat_checkpointer from 17 on, pg_stat_bgwriter before), and the rows of
    the tables GetFeed adds to (served: also the most per viewer)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        tables = {
            r[0]: r[1:]
            for r in conn.execute(
                f"SELECT t.relname, t.n_live_tup, t.n_dead_tup, t.autovacuum_count, t.autoanalyze_count, "
                f"{pg_blocks('hit')}, {pg_blocks('read')} FROM pg_stat_user_tables t "
                f"JOIN pg_statio_user_tables io USING (relid) WHERE t.relname = ANY(%s)",
                (list(PG_TABLES),),
            )
        }
        hit, read = conn.execute(
            "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        if conn.info.server_version >= 170000:
            checkpoints = conn.execute("SELECT num_timed + num_requested FROM pg_stat_checkpointer").fetchone()[0]
        else:
            checkpoints = conn.execute("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter").fetchone()[0]
        served, per_viewer = conn.execute(
            "SELECT coalesce(sum(n), 0), coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM served GROUP BY user_id) v"
        ).fetchone()
        sessions = conn.execute("SELECT count(*) FROM feed_sessions").fetchone()[0]
    return dict(
        tables=tables,
        hit=hit,
        read=read,
        checkpoints=checkpoints,
        served=served,
        served_per_viewer=per_viewer,
        sessions=sessions,
    )


def print_pg_side(before: dict, after: dict, sent: int) -> None:
    """What PostgreSQL did during the measured window (deltas) and the state it was left in."""
    hit, read = after["hit"] - before["hit"], after["read"] - before["read"]
    print(
        f"  PostgreSQL (window)  blocks hit {hit / sent:.0f}/request, read {read / sent:.2f}/request; "
        f"{after['checkpoints'] - before['checkpoints']} checkpoint(s); served rows {after['served']} "
        f"(most for one viewer {after['served_per_viewer']}), sessions {after['sessions']}"
    )
    print("  table           live rows   dead rows start -> end   autovacuum autoanalyze   blocks hit/req  read/req")
    for name in PG_TABLES:
        if name not in after["tables"]:
            continue
        live, dead, vac, ana, t_hit, t_read = after["tables"][name]
        b = before["tables"].get(name, (0, 0, vac, ana, t_hit, t_read))
        print(
            f"    {name:13s} {live:11d}   {b[1]:10d} -> {dead:<10d}   {vac - b[2]:10d} {ana - b[3]:11d}"
            f"   {(t_hit - b[4]) / sent:14.1f}  {(t_read - b[5]) / sent:8.2f}"
        )


def add_history(conn, viewers, items: int) -> None:
    """`items` posts already served to each viewer (a long history: served a week ago), drawn at
    random from the published posts (a different draw per viewer)."""
    total = conn.execute("SELECT count(*) FROM posts WHERE state = 1").fetchone()[0]
    fraction = min(1.0, 1.5 * items / max(total, 1))
    conn.execute(
        "INSERT INTO served (user_id, post_id, served_at) "
        "SELECT v.id, p.id, now() - interval '7 days' FROM unnest(%s::text[]) AS v(id) "
        "CROSS JOIN LATERAL (SELECT id FROM posts WHERE state = 1 AND random() < %s "
        "AND v.id IS NOT NULL LIMIT %s) p",
        (list(viewers), fraction, items),
    )


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


async def load(
    ports: list[int],
    tokens: list[str],
    rate: float,
    seconds: float,
    page_size: int,
    server_pids: list[int],
    dsn: str,
    profile: str = "",
    gil: bool = False,
    first_contact: bool = False,
    pages_per_session: int = 0,
):
    """Open loop: request i is due at start + i/rate whatever happened before,
    and its latency counts from that due time (so a client or server that falls
    behind shows up as latency, not as a lower send rate)."""
    import grpc

    from kinora.common.v1 import common_pb2
    from kinora.feed.v1 import feed_pb2, feed_pb2_grpc
    from kinora.testing import bearer

    # One channel per server process; a viewer's calls all go to one of them (viewer k to replica
    # k mod N), as the gateway routes a viewer's GetFeed to one replica (kinora.runtime.affinity),
    # where the viewer's kept ranking is.
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for port in ports]
    stubs = [feed_pb2_grpc.FeedServiceStub(channel).GetFeed for channel in channels]
    preferences = [feed_pb2_grpc.FeedServiceStub(channel).GetFeedPreferences for channel in channels]
    request = feed_pb2.GetFeedRequest(page=common_pb2.PageRequest(page_size=page_size))
    metadata = [bearer(t) for t in tokens]
    latencies, stages, errors = [], [], 0

    async def one(k: int, due: float):
        nonlocal errors
        try:
            reply = await stubs[k % len(stubs)](request, metadata=metadata[k], timeout=10)
        except grpc.aio.AioRpcError:
            errors += 1
            return
        latencies.append(time.perf_counter() - due)
        t = reply.timings
        stages.append((t.candidates_ms, t.score_ms, t.policy_ms, t.candidate_count))

    # Warm-up outside the measurement: connections, caches, and one request per viewer, so each
    # token has been verified once (a service sees a user's access token many times in its 15
    # minutes; verification results are cached) as in a service that has been running.
    # --first-contact leaves that out: each viewer's first request falls in the measured window.
    # --pages-per-session N: steady sessions of N pages. `lanes` sessions are open at any moment,
    # each lane running its sessions back to back, the lanes' turns interleaved and their session
    # boundaries staggered, so sessions start evenly over the window and one page in N is a
    # session's first, ranked page. A session already under way when the window opens was ranked
    # before it (a GetFeed in the warm-up); the others' warm-up asks for their preferences, which
    # verifies the token and ranks nothing.
    rng = random.Random(1)
    n = int(rate * seconds)
    if pages_per_session:
        per = pages_per_session
        lanes = max(1, min(100, n // per))
        pool = rng.sample(range(len(tokens)), len(tokens))
        viewer_of: dict[tuple[int, int], int] = {}
        order, ranked_before, fresh = [], set(), set()
        for i in range(n):
            lane, k = i % lanes, i // lanes
            g = k + (lane * per) // lanes  # this lane's page number, counted from its staggered start
            session = (lane, g // per)
            if session not in viewer_of:
                if len(viewer_of) == len(pool):
                    raise SystemExit("--pages-per-session: more sessions than viewers; lower --rate/--seconds")
                viewer_of[session] = pool[len(viewer_of)]
                (ranked_before if k == 0 and g % per else fresh).add(viewer_of[session])
            order.append(viewer_of[session])

        async def warm_one(k: int) -> None:
            await preferences[k % len(preferences)](feed_pb2.GetFeedPreferencesRequest(), metadata=metadata[k])

        for first in range(0, len(fresh), 40):
            await asyncio.gather(*(warm_one(k) for k in list(fresh)[first : first + 40]))
        for first in range(0, len(ranked_before), 40):
            await asyncio.gather(*(one(k, time.perf_counter()) for k in list(ranked_before)[first : first + 40]))
    else:
        order = [rng.randrange(len(tokens)) for _ in range(n)]
        warm = range(40) if first_contact else range(len(tokens))
        for first in range(0, len(warm), 40):
            await asyncio.gather(*(one(k % len(tokens), time.perf_counter()) for k in warm[first : first + 40]))
    latencies.clear(), stages.clear()
    errors = 0
    tasks = []
    spy = None
    if profile:  # py-spy samples the server during the measured window (raw collapsed stacks)
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "-p",
                str(server_pids[0]),
                "-d",
                str(int(seconds)),
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                profile,
                *(["--gil"] if gil else []),
            ],
            stdout=subprocess.DEVNULL,
        )
        await asyncio.sleep(1.0)
    pg_before = pg_side(dsn)
    cpu = (cpu_seconds(), sum(map(cpu_seconds, server_pids)), backends_cpu_seconds(dsn), machine_busy_seconds())
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(order[i], due)))
    offered = n / (time.perf_counter() - start)
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    after = (cpu_seconds(), sum(map(cpu_seconds, server_pids)), backends_cpu_seconds(dsn), machine_busy_seconds())
    cpu = [a - b for a, b in zip(after, cpu)]
    for channel in channels:
        await channel.close()
    if spy is not None:
        spy.wait()
    return latencies, stages, errors, offered, n / elapsed, cpu, n, pg_before


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="kinora_feed_bench")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--viewers", type=int, default=2000)
    ap.add_argument("--page-size", type=int, default=10)
    ap.add_argument(
        "--shared-prefs",
        action="store_true",
        help="give every viewer the very same preference vectors (their preference search is then shared)",
    )
    ap.add_argument("--profile", default="", help="write a py-spy profile of the server (raw) to this file")
    ap.add_argument(
        "--gil",
        action="store_true",
        help="profile only the thread holding the GIL (where the server's Python CPU goes)",
    )
    ap.add_argument("--per-source", type=int, default=300, help="candidates per source (4 sources)")
    ap.add_argument(
        "--first-contact",
        action="store_true",
        help="warm up with 40 requests only, not one per viewer: most viewers' first request "
        "(token not yet verified by that server) falls in the measured window",
    )
    ap.add_argument(
        "--pages-per-session",
        type=int,
        default=0,
        help="sessions of N pages: rate*seconds/N viewers, none with a kept ranking at the start, each asking N "
        "times, so one page in N is ranked (default 0: every viewer asked once before the window)",
    )
    ap.add_argument(
        "--servers",
        type=int,
        default=1,
        help="feed server processes (replicas, each on its own port; a viewer's calls go to one of them)",
    )
    ap.add_argument(
        "--history",
        type=int,
        default=0,
        help="items already served to each viewer before the run (a long history; default none)",
    )
    ap.add_argument(
        "--ranking-ttl",
        type=float,
        default=None,
        help="KINORA_FEED_RANKING_TTL_S for the servers: how long a viewer's ranking serves their "
        "next pages (0: every request ranks all its candidates; default: the service's)",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="request worker threads per server (KINORA_FEED_DB_WORKERS; default: the service's)",
    )
    args = ap.parse_args()

    import psycopg

    from kinora.ml.embeddings import embed
    from kinora.stack.tansu import free_port
    from kinora.testing import LocalIssuer, admin_dsn

    dsn = f"{admin_dsn().rsplit('/', 1)[0]}/{args.database}"
    phrases = [("home cooking", 1), ("pets", 1), ("sports", -1)]
    vectors = embed([p for p, _ in phrases])
    with psycopg.connect(dsn) as conn:
        viewers, handles = zip(
            *conn.execute(  # ties broken by id: the same viewers every run
                "SELECT u.id, u.handle FROM follows f JOIN users u ON u.id = f.follower_id WHERE NOT u.teen "
                "GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT %s",
                (args.viewers,),
            )
        )
        # One stated preference for all, each viewer's vectors nudged apart (unless --shared-prefs), so
        # no viewer reuses another's preference search.
        rng = np.random.default_rng(5)
        noise = 0.0 if args.shared_prefs else 0.01
        # Only rows whose preferences differ are written: rewriting the same 2,000 rows on every run
        # left 2,000 dead versions (and their TOAST) per run where autovacuum is off or behind.
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE users SET prefs_text = %s, prefs_phrases = %s, prefs_vectors = %s WHERE id = %s "
                "AND (prefs_text, prefs_phrases, prefs_vectors) IS DISTINCT FROM (%s, %s, %s)",
                [
                    (*values, v, *values)
                    for v, values in (
                        (
                            v,
                            (
                                "more home cooking and pets, less sports",
                                json.dumps(phrases),
                                (vectors + rng.normal(0, noise, vectors.shape)).astype(np.float32).tobytes(),
                            ),
                        )
                        for v in viewers
                    )
                ],
            )
        conn.execute("TRUNCATE served, daily_counts, feed_sessions")  # every run starts unseen
        if args.history:
            add_history(conn, viewers, args.history)
        conn.commit()
    # Each run starts from the same state whatever autovacuum did or did not do after the last one:
    # no dead users rows (those earlier runs left). The emptied tables are not analyzed: a table
    # analyzed while empty is planned as empty until the next ANALYZE (a sequential scan per
    # request of feed_sessions and daily_counts, growing all run, where autovacuum is off), while
    # TRUNCATE leaves them as never analyzed, as on a new install.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) users")

    issuer = LocalIssuer()
    tokens = [issuer.token(v, h) for v, h in zip(viewers, handles)]  # as identity mints them
    ports = [free_port() for _ in range(args.servers)]
    env = dict(
        os.environ,
        FEED_BENCH_JWKS=json.dumps(issuer.jwks()),
        KINORA_GRPC_HOST="127.0.0.1",
        KINORA_LOG_LEVEL="WARNING",
        KINORA_DATABASE_URL=dsn.replace("postgresql://", "postgresql+psycopg://", 1),
        KINORA_FEED_CANDIDATES_PER_SOURCE=str(args.per_source),
        KINORA_INTERNAL_SECRET="bench",
        OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"),
    )  # as `python -m services.feed`
    if args.workers:
        env["KINORA_FEED_DB_WORKERS"] = str(args.workers)
    if args.ranking_ttl is not None:
        env["KINORA_FEED_RANKING_TTL_S"] = str(args.ranking_ttl)
    servers = [
        subprocess.Popen([sys.executable, __file__, "--serve"], env=dict(env, KINORA_GRPC_PORT=str(port)))
        for port in ports
    ]
    try:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        async def wait_ready(port: int):
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                for _ in range(600):
                    try:
                        r = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
                        if r.status == health_pb2.HealthCheckResponse.SERVING:
                            return
                    except grpc.aio.AioRpcError:
                        pass
                    await asyncio.sleep(0.2)
            raise SystemExit("feed server did not start")

        started = time.perf_counter()
        for port in ports:
            asyncio.run(wait_ready(port))
        ready_s = time.perf_counter() - started
        latencies, stages, errors, offered, achieved, cpu, sent, pg_before = asyncio.run(
            load(
                ports,
                tokens,
                args.rate,
                args.seconds,
                args.page_size,
                [sv.pid for sv in servers],
                dsn,
                args.profile,
                args.gil,
                args.first_contact,
                args.pages_per_session,
            )
        )
        rss = [
            int(
                next(
                    line.split()[1]
                    for line in Path(f"/proc/{sv.pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS:")
                )
            )
            / 1024
            for sv in servers
        ]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(30)
    time.sleep(0.5)  # the servers' backends report their last counters as they exit
    pg_after = pg_side(dsn)
    lat = np.array(latencies) * 1000
    st = np.array(stages)
    print(
        f"GetFeed on {args.database}: {len(lat)} replies, sent at {offered:.0f}/s (target {args.rate:.0f}/s), "
        f"all answered at {achieved:.0f}/s, {errors} errors, page size {args.page_size}, "
        f"{args.servers} server process(es), request workers {args.workers or 'default'}"
    )

    def pcts(values) -> str:
        return "   ".join(f"p{q} {np.percentile(values, q):7.1f} ms" for q in (50, 95, 99))

    print(f"  end-to-end (client)  {pcts(lat)}")
    for k, name in enumerate(("candidates", "score", "policy")):
        print(f"  stage {name:11s}    {pcts(st[:, k])}")
    # A page from the viewer's kept ranking (services/feed/rankings.py) spends no time on candidates
    # nor scoring; its candidate count is that of the ranking it came from.
    reused = (st[:, 0] == 0) & (st[:, 1] == 0)
    print(
        f"  candidates scored    median {np.median(st[:, 3]):.0f}, min {st[:, 3].min():.0f} (by the ranking "
        f"each page came from); pages from a kept ranking {reused.sum()} of {len(st)} ({100 * reused.mean():.0f}%)"
    )
    for name, rows in (("ranked now", ~reused), ("kept ranking", reused)):
        if rows.any():
            print(f"  end-to-end, {name:12s} {pcts(lat[rows])}")
    client, server_cpu, database, machine = (1000 * c / sent for c in cpu)
    print(
        f"  CPU per request      server{'s' if args.servers > 1 else ''} {server_cpu:.1f} ms, "
        f"PostgreSQL backends >= {database:.1f} ms, "
        f"client {client:.1f} ms; whole machine {machine:.1f} ms "
        f"({100 * cpu[3] / (os.cpu_count() * sent / achieved):.0f}% of {os.cpu_count()} cores busy)"
    )
    print(
        f"  server process       serving {ready_s:.1f} s after start (model and in-memory indexes loaded), "
        f"resident memory after the run {', '.join(f'{r:.0f}' for r in rss)} MiB"
    )
    print_pg_side(pg_before, pg_after, sent)


if __name__ == "__main__":
    main()
