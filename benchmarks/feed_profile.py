"""Where one GetFeed's CPU goes, stage by stage, on the feed server and in PostgreSQL.

    .venv/bin/python benchmarks/feed_profile.py --database kinora_feed_bench [--requests 2000] [--history N]

In-process and on one thread (no gRPC, no other requests): the feed's `Feed` built as the server
builds it, over a database from `feed_datagen.py`, the same viewers, tokens' handles and stated
preferences as `feed_bench.py` (run that first, or pass --prepare). Each stage of
`FeedAssembler.get_feed` is wrapped: the thread's CPU time (`time.thread_time`) and the CPU time
of the request's PostgreSQL backend (`/proc/<pid>/schedstat`, nanoseconds: the backend works
only while the thread waits for it, so the difference over a stage is that stage's statements).
The reply is built and serialised as the server's GetFeed does. Prints the mean per request of
each stage, then `EXPLAIN (ANALYZE, BUFFERS)` of each statement for one viewer (unless --no-explain).
One request per viewer first (as feed_bench.py warms up), then --requests to viewers drawn at
random (4,000: a 20 s run at 200/s). --ranking-ttl 0 ranks every request (no kept rankings).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_local = threading.local()


def backend_ns(pid: int) -> int:
    """CPU time of a process so far, in nanoseconds (first field of /proc/<pid>/schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


class StageClock:
    """Sums thread CPU and backend CPU per stage name."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.pg: dict[str, float] = defaultdict(float)
        self.pid = self.request_start = 0

    def wrap(self, owner, name: str, stage: str, session_arg: int | None = None, request: bool = False) -> None:
        """Time `owner.name` as `stage`. `session_arg`: the position of its Session argument: the
        request's backend is found there (the first statement of each request), and its CPU counted
        from there. `request`: the whole request, whose backend CPU counts from that first statement."""
        inner = getattr(owner, name)
        clock = self

        def timed(*args, **kwargs):
            if session_arg is not None:
                s = args[session_arg]
                clock.pid = s.connection().connection.driver_connection.info.backend_pid
                clock.request_start = backend_ns(clock.pid)
            t0, p0 = time.thread_time(), backend_ns(clock.pid) if clock.pid else 0
            try:
                return inner(*args, **kwargs)
            finally:
                clock.cpu[stage] += time.thread_time() - t0
                if clock.pid:
                    clock.pg[stage] += (backend_ns(clock.pid) - (clock.request_start if request else p0)) / 1e9

        setattr(owner, name, timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default="kinora_feed_bench")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--viewers", type=int, default=2000)
    ap.add_argument("--per-source", type=int, default=300)
    ap.add_argument(
        "--warm",
        type=int,
        default=-1,
        help="requests before the measured ones, to viewers in turn (default: one per viewer, as "
        "feed_bench.py warms up)",
    )
    ap.add_argument(
        "--ranking-ttl",
        type=float,
        default=None,
        help="KINORA_FEED_RANKING_TTL_S (0: rank every request; default: the service's)",
    )
    ap.add_argument("--no-explain", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    import psycopg

    from kinora.feed.v1 import feed_pb2 as pb
    from kinora.runtime.settings import load_settings
    from kinora.testing import admin_dsn
    from services.feed import assembly
    from services.feed.server import build_context, post_message
    from services.feed.settings import FeedSettings

    dsn = f"{admin_dsn().rsplit('/', 1)[0]}/{args.database}"
    with psycopg.connect(dsn) as conn:
        viewers = conn.execute(
            "SELECT u.id, u.handle FROM follows f JOIN users u ON u.id = f.follower_id WHERE NOT u.teen "
            "GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT %s",
            (args.viewers,),
        ).fetchall()
    settings = load_settings(
        FeedSettings,
        {
            "KINORA_DATABASE_URL": dsn.replace("postgresql://", "postgresql+psycopg://", 1),
            "KINORA_INTERNAL_SECRET": "bench",
            "KINORA_FEED_CANDIDATES_PER_SOURCE": str(args.per_source),
            **({"KINORA_FEED_RANKING_TTL_S": str(args.ranking_ttl)} if args.ranking_ttl is not None else {}),
        },
    )

    async def no_keys():
        return {"keys": []}

    ctx, feed = build_context(settings, jwks_fetcher=no_keys)
    feed.sessions = ctx.sessions
    feed.warm_up()
    asm = feed.assembler
    clock = StageClock()
    clock.wrap(asm, "_viewer_state", "viewer state (1 statement)", session_arg=0)
    clock.wrap(asm.recent, "newest", "candidates: followees' newest (memory)")
    clock.wrap(asm, "_preferred", "candidates: preference search (memory)")
    clock.wrap(asm.facts, "lookup", "candidates: facts lookup (memory)")
    clock.wrap(asm.prefs_index, "embeddings", "candidates: embeddings gather (memory)")
    clock.wrap(asm, "_candidates", "candidates (total, incl. the statement)")
    clock.wrap(asm.scorer, "score", "scoring")
    clock.wrap(assembly, "apply_policy", "policy (diversity, blocks)")
    clock.wrap(asm, "_record_page", "page rows + served writes (1 statement)")
    clock.wrap(asm, "get_feed", "get_feed (total, incl. commit)", request=True)

    def reply(page) -> bytes:
        t0 = time.thread_time()
        r = pb.GetFeedResponse(
            next_page_token=page.next_token,
            session_id=page.session_id,
            nudge=page.nudge,
            cap_reached=page.cap_reached,
            cap_message=page.cap_message,
            fallback=page.fallback,
            non_personalized=page.non_personalized,
        )
        for row, source, reason, score in page.items:
            r.items.add(post=post_message(row), source=source, reason=reason, score=score)
        data = r.SerializeToString()
        clock.cpu["reply: protobuf build + serialise"] += time.thread_time() - t0
        return data

    by_kind = {kind: (defaultdict(float), defaultdict(float), [0]) for kind in ("ranked now", "kept ranking")}

    def account(kind: str) -> None:
        """Move this request's stage sums into its kind's (ranked now, or from a kept ranking)."""
        cpu, pg, count = by_kind[kind]
        for source, target in ((clock.cpu, cpu), (clock.pg, pg)):
            for stage, value in source.items():
                target[stage] += value
            source.clear()
        count[0] += 1

    items = reused = 0
    for k in range(len(viewers) if args.warm < 0 else args.warm):
        viewer, handle = viewers[k % len(viewers)]
        asm.get_feed(viewer, handle, False, 10, "", "")
    clock.cpu.clear()
    clock.pg.clear()
    rng = random.Random(1)  # viewers drawn at random, as feed_bench.py does
    start_wall, start_cpu = time.perf_counter(), time.thread_time()
    for _ in range(args.requests):
        viewer, handle = viewers[rng.randrange(len(viewers))]
        page = feed.get_feed(viewer, handle, False, 10, "", "")
        items += len(page.items)
        kept = page.timings is not None and page.timings["candidates_ms"] == 0
        reused += kept
        reply(page)
        account("kept ranking" if kept else "ranked now")
    wall, total = time.perf_counter() - start_wall, time.thread_time() - start_cpu
    n = args.requests
    print(
        f"{n} GetFeed in-process on {args.database}, {items / n:.1f} items per page, "
        f"{n / wall:.0f}/s on one thread; thread CPU {1000 * total / n:.2f} ms per request; "
        f"pages from a kept ranking {reused} ({100 * reused / n:.0f}%)"
    )
    for kind, (cpu, pg, (count,)) in by_kind.items():
        if not count:
            continue
        print(f"  {kind}: {count} requests; {'stage':34s} {'feed CPU':>9s} {'PostgreSQL CPU':>15s}   (ms per request)")
        for stage in cpu:
            db = f"{1000 * pg[stage] / count:15.3f}" if stage in pg else " " * 15
            print(f"    {stage:62s} {1000 * cpu[stage] / count:9.3f} {db}")
    if not args.no_explain:
        explain(feed, dsn, viewers[0][0], viewers[0][1])


def explain(feed, dsn: str, viewer: str, handle: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement one GetFeed runs on the driver's cursor, as it
    runs them: prepared, in a transaction begun by the viewer-state statement (which sets the
    planner settings), so the candidate statement's plan is the generic one. Rolled back."""
    import re
    import uuid
    from datetime import date

    import psycopg

    from services.feed import assembly
    from services.feed.queries import VIEWER_STATE_SQL

    seen: list[tuple[str, dict]] = []

    class Recorder:
        def __init__(self, cur):
            self.cur = cur

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.cur.close()

        def execute(self, sql, params=None, **kw):
            seen.append((sql, dict(params or {})))
            return self.cur.execute(sql, params, **kw)

        def __getattr__(self, name):
            return getattr(self.cur, name)

    asm = feed.assembler
    with feed.sessions() as s:
        raw = s.connection().connection.driver_connection
        cursor = raw.cursor
        raw.cursor = lambda *a, **kw: Recorder(cursor(*a, **kw))
        try:
            user, state = asm._viewer_state(s, viewer, handle, False, str(uuid.uuid4()), date.today())
            asm._rank(s, user, 10, True, assembly.utcnow(), state, str(uuid.uuid4()))
        finally:
            del raw.cursor
        s.rollback()
    with psycopg.connect(dsn) as conn:
        for sql, params in seen:
            names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
            text = re.sub(r"%\((\w+)\)s", lambda match, names=names: f"${names.index(match.group(1)) + 1}", sql)
            conn.execute(VIEWER_STATE_SQL, dict(viewer=viewer, session=str(uuid.uuid4()), day=date.today()))
            conn.execute(f"PREPARE q AS {text}")
            cur = psycopg.ClientCursor(conn)
            cur.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q(" + ", ".join(["%s"] * len(names)) + ")",
                [params[n] for n in names],
            )
            plan = cur.fetchall()
            conn.rollback()
            conn.execute("DEALLOCATE q")
            conn.commit()
            print(f"\n-- {' '.join(sql.split())[:100]} ...")
            for (line,) in plan:
                print(line)


if __name__ == "__main__":
    main()
