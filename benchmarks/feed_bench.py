"""GetFeed latency under load, over real gRPC, with the time per ranking stage.

    .venv/bin/python benchmarks/feed_datagen.py --users 10000 --posts 100000 --follows 1000000 \
        --database kinora_feed_bench_small
    .venv/bin/python benchmarks/feed_bench.py --database kinora_feed_bench_small --rate 200 --seconds 20

The feed server runs in its own process (`--serve`, started by this script)
on the generated database; this process is the client, sending GetFeed at a
fixed rate (open loop: a slow reply does not slow the sender, so queueing shows
up in the latency). Viewers are the users following the most accounts, with
stated preferences, so every request draws candidates from all sources
(about 1,000 scored). Prints client-side p50/p99 and the server's stage times.
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
        return build_context(settings, jwks_fetcher=fetch, db_workers=8)[0].app

    sys.exit(main("feed", lambda: load_settings(FeedSettings), build, argv=["serve"]))


async def load(port: int, tokens: list[str], rate: float, seconds: float, page_size: int):
    import grpc

    from kinora.common.v1 import common_pb2
    from kinora.feed.v1 import feed_pb2, feed_pb2_grpc
    from kinora.testing import bearer

    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = feed_pb2_grpc.FeedServiceStub(channel)
    latencies, stages, errors = [], [], 0

    async def one(token):
        nonlocal errors
        start = time.perf_counter()
        try:
            reply = await stub.GetFeed(feed_pb2.GetFeedRequest(page=common_pb2.PageRequest(page_size=page_size)),
                                       metadata=bearer(token), timeout=10)
        except grpc.aio.AioRpcError:
            errors += 1
            return
        latencies.append(time.perf_counter() - start)
        t = reply.timings
        stages.append((t.candidates_ms, t.score_ms, t.policy_ms, t.candidate_count))

    # Warm-up (model, caches, connections) outside the measurement.
    await asyncio.gather(*(one(tokens[i % len(tokens)]) for i in range(20)))
    latencies.clear(), stages.clear()
    tasks, start = [], time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(random.choice(tokens))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    await channel.close()
    return latencies, stages, errors, n / elapsed


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
    ap.add_argument("--per-source", type=int, default=300, help="candidates per source (4 sources)")
    args = ap.parse_args()

    import psycopg

    from kinora.ml.embeddings import embed
    from kinora.stack.tansu import free_port
    from kinora.testing import PG_ADMIN_DSN, LocalIssuer

    dsn = f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{args.database}"
    phrases = [("home cooking", 1), ("pets", 1), ("sports", -1)]
    vectors = embed([p for p, _ in phrases])
    with psycopg.connect(dsn) as conn:
        viewers = [r[0] for r in conn.execute(
            "SELECT f.follower_id FROM follows f JOIN users u ON u.id = f.follower_id WHERE NOT u.teen "
            "GROUP BY f.follower_id ORDER BY count(*) DESC LIMIT %s", (args.viewers,))]
        conn.execute("UPDATE users SET prefs_text = %s, prefs_phrases = %s, prefs_vectors = %s WHERE id = ANY(%s)",
                      ("more home cooking and pets, less sports", json.dumps(phrases), vectors.tobytes(), viewers))
        conn.execute("TRUNCATE served, daily_counts, feed_sessions")  # every run starts unseen
        conn.commit()

    issuer = LocalIssuer()
    tokens = [issuer.token(v, v) for v in viewers]
    port = free_port()
    env = dict(os.environ, FEED_BENCH_JWKS=json.dumps(issuer.jwks()), KINORA_GRPC_PORT=str(port),
               KINORA_GRPC_HOST="127.0.0.1", KINORA_LOG_LEVEL="WARNING",
               KINORA_DATABASE_URL=dsn.replace("postgresql://", "postgresql+psycopg://", 1),
               KINORA_FEED_CANDIDATES_PER_SOURCE=str(args.per_source), KINORA_INTERNAL_SECRET="bench")
    server = subprocess.Popen([sys.executable, __file__, "--serve"], env=env)
    try:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        async def wait_ready():
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

        asyncio.run(wait_ready())
        latencies, stages, errors, achieved = asyncio.run(load(port, tokens, args.rate, args.seconds, args.page_size))
    finally:
        server.terminate()
        server.wait(30)
    lat = np.array(latencies) * 1000
    st = np.array(stages)
    print(f"GetFeed on {args.database}: {len(lat)} requests at {achieved:.0f}/s offered "
          f"(target {args.rate:.0f}/s), {errors} errors, page size {args.page_size}")
    def pcts(values) -> str:
        return "   ".join(f"p{q} {np.percentile(values, q):7.1f} ms" for q in (50, 95, 99))

    print(f"  end-to-end (client)  {pcts(lat)}")
    for k, name in enumerate(("candidates", "score", "policy")):
        print(f"  stage {name:11s}    {pcts(st[:, k])}")
    print(f"  candidates scored    median {np.median(st[:, 3]):.0f}, min {st[:, 3].min():.0f}")


if __name__ == "__main__":
    main()
