"""CheckUse latency at a fixed request rate over a real gRPC client, against
the cameo service running as its own process on PostgreSQL loaded with 100k
cameos and 1M approvals (plus 400k follow edges for mutuals).

    .venv/bin/python benchmarks/cameo_bench.py [--rate 1000] [--seconds 10] [--rounds 3] [--replicas 1 2]
        [--cameos 100000] [--approvals 1000000] [--compare-root ../other-checkout] [--compare-env KEY=VALUE]
        [--modes check client batch8] [--client-in-flight 1] [--profile cameo.prof]

Load is open-loop: request i is sent at t0 + i/rate whether or not earlier
ones have answered, and latency is measured from that scheduled time, so a
server (or client) that falls behind shows up in the figures instead of
silently lowering the rate. The achieved rate is printed too.

Mix: 1 or 2 cameos per check (80/20); requesters are an approved user of the
cameo (40%), a mutual (20%), the owner (10%) or a stranger (30%); policies are
spread evenly. No restrictions in the main run (restriction matching embeds the
prompt with MiniLM, a CPU cost of its own): a second, slower phase measures
checks against cameos that have restrictions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.proc import cpu_seconds  # noqa: E402
from kinora.cameo.v1 import cameo_pb2 as pb  # noqa: E402
from kinora.cameo.v1 import cameo_pb2_grpc  # noqa: E402
from kinora.runtime.auth import mint_service_token  # noqa: E402
from kinora.stack.tansu import free_port, wait_for_port  # noqa: E402
from kinora.testing import temporary_database  # noqa: E402

SECRET = "cameo-benchmark-internal-secret-long-enough"
APPROVALS_PER_CAMEO_MAX = 64


def uid(kind: int, n: int) -> str:
    """Deterministic UUID-shaped ids: fast to make, easy to pick at random later."""
    h = f"{kind:04x}{n:028x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def copy_rows(cur, table: str, columns: str, lines) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buf = io.StringIO()
        for i, line in enumerate(lines):
            buf.write(line)
            if i % 50_000 == 49_999:  # ~5 MB per write
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())


def load(url: str, n_cameos: int, n_approvals: int, n_users: int, n_follows: int, n_restricted: int) -> float:
    """Bulk-load with COPY. Ids are made once per entity and reused, rows are
    single f-strings, and COPY gets ~5 MB chunks: the database, not Python,
    sets the pace."""
    import psycopg

    started = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    users = [uid(2, u) for u in range(n_users)]
    cams = [uid(1, c) for c in range(n_cameos)]
    stamp = "2026-01-01 00:00:00+00"
    per = n_approvals // n_cameos
    per_f = n_follows // (2 * n_cameos)
    others = n_users - n_cameos
    timings = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:

        def timed(table, columns, lines):
            t = time.perf_counter()
            copy_rows(cur, table, columns, lines)
            timings[table] = time.perf_counter() - t

        timed(
            "users",
            "user_id, handle, age_group, updated_at",
            (f"{users[u]}\tu{u}\t1\t{stamp}\n" for u in range(n_users)),
        )
        timed(
            "cameos",
            "id, owner_user_id, owner_handle, display_name, policy, status, verified, "
            "owner_age_group, max_policy, likeness, verification_id, restriction_count, revision, "
            "verified_at, created_at, updated_at",
            (
                f"{cams[c]}\t{users[c]}\tu{c}\tUser {c}\t{1 + c % 4}\t1\tt\t1\t4\t\\\\x\tv{c}\t"
                f"{1 if c < n_restricted else 0}\t1\t{stamp}\t{stamp}\t{stamp}\n"
                for c in range(n_cameos)
            ),
        )
        # Approval j of cameo c goes to user (c + 1 + j) mod users: unique per cameo, cheap to recompute.
        # Constraints are dropped for the load and rebuilt after (one sort each instead of 1M index
        # insertions and FK trigger calls); rebuilding them also proves the data is valid.
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'approvals'::regclass ORDER BY contype = 'f'"
        )
        constraints = cur.fetchall()
        for name, _ in reversed(constraints):
            cur.execute(f"ALTER TABLE approvals DROP CONSTRAINT {name}")
        timed(
            "approvals",
            "id, cameo_id, user_id, user_handle, status, message, requested_at, decided_at",
            (
                f"00030000-0000-4000-{j:04x}-{c:012x}\t{cams[c]}\t{users[(c + 1 + j) % n_users]}\t\t2\t\t"
                f"{stamp}\t{stamp}\n"
                for c in range(n_cameos)
                for j in range(per)
            ),
        )
        t = time.perf_counter()
        for name, definition in constraints:
            cur.execute(f"ALTER TABLE approvals ADD CONSTRAINT {name} {definition}")
        timings["approval constraints"] = time.perf_counter() - t
        # Owner c and user n_cameos + (c * per_f + k) mod others follow each other: mutuals.
        timed(
            "follows",
            "follower_id, followee_id, updated_at",
            (
                line
                for c in range(n_cameos)
                for k in range(per_f)
                for line in (
                    f"{users[c]}\t{users[n_cameos + (c * per_f + k) % others]}\t{stamp}\n",
                    f"{users[n_cameos + (c * per_f + k) % others]}\t{users[c]}\t{stamp}\n",
                )
            ),
        )
        timed(
            "restrictions",
            "id, cameo_id, text, created_at",
            (f"{uid(4, c)}\t{cams[c]}\tnever in political content\t{stamp}\n" for c in range(n_restricted)),
        )
        conn.commit()
        conn.autocommit = True
        t = time.perf_counter()
        # VACUUM too, not only ANALYZE: otherwise autovacuum processes the freshly loaded tables during
        # the first measured round, and index-only scans need the visibility map it writes.
        cur.execute("VACUUM (ANALYZE)")
        timings["vacuum analyze"] = time.perf_counter() - t
    print("  load seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return time.perf_counter() - started


def make_request(
    rng: random.Random, n_cameos: int, n_users: int, per: int, per_f: int, n_restricted: int, restricted: bool = False
):
    """Cameos 0..n_restricted-1 carry a restriction; the main run never picks them."""
    if restricted:
        cameos = [rng.randrange(n_restricted)]
    else:
        cameos = rng.sample(range(n_restricted, n_cameos), 2 if rng.random() < 0.2 else 1)
    c = cameos[0]
    roll = rng.random()
    if roll < 0.4:
        requester = (c + 1 + rng.randrange(per)) % n_users  # approved
    elif roll < 0.6 and per_f:
        requester = n_cameos + (c * per_f + rng.randrange(per_f)) % (n_users - n_cameos)  # mutual
    elif roll < 0.7:
        requester = c  # owner
    else:
        requester = rng.randrange(n_users)  # most likely a stranger
    prompt = "a political rally speech" if restricted and rng.random() < 0.5 else "walking a dog along the river"
    return pb.CheckUseRequest(
        requester_user_id=uid(2, requester),
        cameo_ids=[uid(1, x) for x in cameos],
        prompt=prompt,
        purpose=pb.USE_PURPOSE_GENERATE,
    )


CLIENT_MODE = re.compile(r"(\d*)(?:-p(\d+(?:\.\d+)?))?")


class Mode:
    """How the load reaches cameo: `call(requests)` sends `per_call` checks and returns
    each check's all_allowed (raising on a failed call)."""

    def __init__(self, name: str, per_call: int, call):
        self.name, self.per_call, self.call = name, per_call, call


def modes_for(names: list[str], stub, token: str, target: str, in_flight: int) -> tuple[list[Mode], list]:
    """check: one CheckUse per check (a caller as today); client: kinora.consent.ConsentClient, whose
    checks made at the same time share calls (what the generator and feed use; clientN: with N calls in
    flight instead of --client-in-flight; client-pM: pacing its calls M ms apart while checks queue, instead
    of kinora.consent.PACE_S; client2-p0: both); batchN: BatchCheckUse with N checks per call (a caller with
    many candidates)."""
    from kinora.consent import PACE_S, ConsentClient
    from kinora.runtime.clients import TokenSource

    metadata = [("authorization", f"Bearer {token}")]
    modes, clients = [], []
    for name in names:
        if name == "check":

            async def single(requests):
                return [(await stub.CheckUse(requests[0], metadata=metadata, timeout=5)).all_allowed]

            modes.append(Mode(name, 1, single))
        elif name.startswith("client") and (found := CLIENT_MODE.fullmatch(name[6:])):

            async def mint():
                return token, time.time() + 3600

            slots = int(found[1] or in_flight)
            pace = float(found[2]) / 1000 if found[2] is not None else PACE_S
            client = ConsentClient(target, TokenSource(mint), timeout_s=5, in_flight=slots, pace_s=pace)
            label = f"client (in_flight {slots}, pace {pace * 1000:g} ms)"
            clients.append((label, client))

            async def through_client(requests, client=client):
                r = requests[0]
                return [(await client.check(r.requester_user_id, r.cameo_ids, r.prompt, "bench")).all_allowed]

            modes.append(Mode(label, 1, through_client))
        elif name == "sync":
            continue  # its own server: see start_sync_probe
        elif name.startswith("batch") and name[5:].isdigit():

            async def batch(requests):
                reply = await stub.BatchCheckUse(pb.BatchCheckUseRequest(checks=requests), metadata=metadata, timeout=5)
                return [r.response.all_allowed for r in reply.results]

            modes.append(Mode(f"batch of {int(name[5:])}", int(name[5:]), batch))
        else:
            raise SystemExit(f"unknown mode {name!r}: check, client, clientN, client-pM, batchN (e.g. batch8) or sync")
    return modes, clients


async def run_load(mode: Mode, requests, rate: float):
    """`rate` checks per second, `mode.per_call` to a call; latency is per check, from its call's
    scheduled send time."""
    # The client is the measuring instrument: keep the garbage collector from walking everything
    # built so far (the requests included) in the middle of the run, as the services do after start-up.
    gc.collect()
    gc.freeze()
    latencies: list[float] = []
    outcomes = {"allowed": 0, "denied": 0, "error": 0}
    n = mode.per_call

    async def one(reqs, scheduled):
        try:
            for allowed in await mode.call(reqs):
                outcomes["allowed" if allowed else "denied"] += 1
        except Exception:  # noqa: BLE001 - a failed call counts as errors, whatever raised it
            outcomes["error"] += len(reqs)
        latencies.extend([time.perf_counter() - scheduled] * len(reqs))

    tasks = []
    t0 = time.perf_counter()
    for i in range(0, len(requests), n):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(requests[i : i + n], scheduled)))
    sent = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    return latencies, outcomes, len(requests) / sent, time.perf_counter() - t0


def summarize(name: str, latencies, outcomes, achieved, total_s, target):
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=1000, method="inclusive")
    print(
        f"{name}: {len(ms)} checks, target {target:.0f}/s, sent at {achieved:.0f}/s, "
        f"completed at {len(ms) / total_s:.0f}/s"
    )
    print(
        f"  latency ms: median {statistics.median(ms):.2f}  p90 {q[899]:.2f}  p99 {q[989]:.2f}  "
        f"p99.9 {q[998]:.2f}  max {ms[-1]:.2f}"
    )
    print(f"  outcomes: {outcomes}")
    return q[989]


def start_server(root: Path, url: str, args, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "KINORA_DATABASE_URL": url,
        "KINORA_GRPC_PORT": str(port),
        "KINORA_GRPC_HOST": "127.0.0.1",
        "KINORA_INTERNAL_SECRET": SECRET,
        "KINORA_LOG_LEVEL": "WARNING",
        "KINORA_KAFKA_BOOTSTRAP": "",
        "KINORA_IDENTITY_ADDR": "",
        "KINORA_CAMEO_DB_WORKERS": str(args.db_workers),
        "PYTHONPATH": str(root),
    }
    env.update(extra_env or {})
    profile = ["-m", "cProfile", "-o", str(Path(args.profile).resolve())] if args.profile else []
    args.profile = None  # the first server only
    server = subprocess.Popen([sys.executable, *profile, "-m", "services.cameo", "serve"], cwd=root, env=env)
    wait_for_port(port, timeout_s=60)
    return server, port


async def ready(stub, token, target: str) -> None:
    """Wait until migrations ran, the model loaded (health SERVING: the server answers calls while it
    loads the model, seconds of CPU that would land in the measured rounds) and the service answers."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(1200):
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.1)
    for _ in range(600):
        try:
            await stub.CheckUse(
                pb.CheckUseRequest(requester_user_id=uid(2, 0), cameo_ids=[uid(1, 0)], prompt="hello"),
                metadata=[("authorization", f"Bearer {token}")],
                timeout=2,
            )
            return
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.1)


ROUND_ROBIN = '{"loadBalancingConfig": [{"round_robin": {}}]}'


def start_sync_probe(url: str) -> tuple[subprocess.Popen, int]:
    """benchmarks/cameo_sync_server.py: CheckUse on the synchronous gRPC server (option (b))."""
    port = free_port()
    env = {**os.environ, "KINORA_DATABASE_URL": url, "KINORA_INTERNAL_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "cameo_sync_server.py"), str(port)], cwd=ROOT, env=env
    )
    wait_for_port(port, timeout_s=60)
    return server, port


async def bench(args, url):
    roots = {"this checkout": ROOT, **({"compare": Path(args.compare_root).resolve()} if args.compare_root else {})}
    servers: dict[str, list[tuple[subprocess.Popen, int]]] = {}
    try:
        for label, root in roots.items():
            for n in args.replicas:
                extra = dict(kv.split("=", 1) for kv in args.compare_env) if label == "compare" else {}
                servers[f"{label}, {n} replica(s)"] = [start_server(root, url, args, extra) for _ in range(n)]
        token = mint_service_token("generator", SECRET)[0]
        variants: dict[str, tuple[Mode, list[int]]] = {}  # "server config, mode" -> (mode, server pids)
        clients = []
        for name, replicas in servers.items():
            # Replicas behind one channel, round robin: what kinora.runtime.clients.channel does with the
            # chart's headless Service (here the addresses are listed instead of resolved by DNS).
            target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for _, port in replicas)
            stub = cameo_pb2_grpc.CameoServiceStub(
                grpc.aio.insecure_channel(target, options=[("grpc.service_config", ROUND_ROBIN)])
            )
            for _, port in replicas:
                await ready(stub, token, f"127.0.0.1:{port}")
            modes, made = modes_for(args.modes, stub, token, target, args.client_in_flight)
            clients += made
            for mode in modes:
                variants[f"{name}, {mode.name}"] = (mode, [server.pid for server, _ in replicas])
        if "sync" in args.modes:
            probe = start_sync_probe(url)
            servers["sync probe"] = [probe]
            sync_stub = cameo_pb2_grpc.CameoServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{probe[1]}"))
            sync_metadata = [("authorization", f"Bearer {token}")]

            async def sync_call(requests):
                return [(await sync_stub.CheckUse(requests[0], metadata=sync_metadata, timeout=5)).all_allowed]

            variants["synchronous gRPC server (probe, own process), check"] = (
                Mode("sync", 1, sync_call),
                [probe[0].pid],
            )
        rng = random.Random(7)
        per, per_f = args.approvals // args.cameos, args.follows // (2 * args.cameos)

        def gen(n, restricted=False):
            return [
                make_request(rng, args.cameos, args.users, per, per_f, args.restricted, restricted) for _ in range(n)
            ]

        for mode, _ in variants.values():
            await run_load(mode, gen(int(args.rate * 2)), args.rate)  # warm-up: connections, caches
        first = next(iter(variants))
        for rate in args.also_rates:
            summarize(
                f"[{first}] CheckUse (no restrictions)",
                *await run_load(variants[first][0], gen(int(rate * args.seconds)), rate),
                rate,
            )
        # Main phase: variants alternate round by round (same load, same machine state).
        p99s: dict[str, list[float]] = {name: [] for name in variants}
        cpus: dict[str, list[float]] = {name: [] for name in variants}
        client_cpus: dict[str, list[float]] = {name: [] for name in variants}
        loads: list[float] = []
        for round_ in range(args.rounds):
            for name, (mode, pids) in variants.items():
                cpu_before, n = sum(map(cpu_seconds, pids)), int(args.rate * args.seconds)
                requests = gen(n)
                mine_before = time.process_time()
                result = await run_load(mode, requests, args.rate)
                p99s[name].append(
                    summarize(f"[{name}, round {round_ + 1}] CheckUse (no restrictions)", *result, args.rate)
                )
                if result[1]["error"]:
                    print(
                        f"  {result[1]['error']} checks failed (timed out): this round's CPU per check is not "
                        f"comparable"
                    )
                cpu_ms = 1000 * (sum(map(cpu_seconds, pids)) - cpu_before) / n
                cpus[name].append(cpu_ms)
                client_cpus[name].append(1000 * (time.process_time() - mine_before) / n)
                loads.append(os.getloadavg()[0])
                print(
                    f"  cameo server CPU per check ({len(pids)} replica(s)): {cpu_ms:.3f} ms (PostgreSQL and "
                    f"client CPU not included; machine load average {os.getloadavg()[0]:.1f} "
                    f"on {os.cpu_count()} cores); benchmark client CPU per check {client_cpus[name][-1]:.3f} ms"
                )
        for mode_name, client in clients:
            if client.checks:
                calls = client.calls + client.checks - client.batched_checks
                print(
                    f"  ConsentClient [{mode_name}]: {client.checks} checks in {calls} calls "
                    f"({client.checks / calls:.1f} per call; {client.batched_checks} of them in {client.calls} "
                    f"BatchCheckUse calls, the rest alone as CheckUse; warm-up included)"
                )
        mode = variants[first][0]
        await run_load(mode, gen(20, True), 20)  # restriction parsing caches
        summarize(
            f"[{first}] CheckUse (cameo with a restriction: MiniLM prompt embedding)",
            *await run_load(mode, gen(int(args.restricted_rate * 5), True), args.restricted_rate),
            args.restricted_rate,
        )
        print()
        for name, values in p99s.items():
            p99 = statistics.median(values)
            print(
                f"[{name}] CheckUse p99 at {args.rate:.0f}/s, median of "
                f"{len(values)} rounds: {p99:.2f} ms (rounds: {', '.join(f'{v:.2f}' for v in values)}; "
                f"target <= 5 ms): {'met' if p99 <= 5 else 'NOT met'}"
            )
            print(
                f"[{name}] cameo server CPU per check, median of {len(cpus[name])} rounds: "
                f"{statistics.median(cpus[name]):.3f} ms (rounds: {', '.join(f'{v:.3f}' for v in cpus[name])}; "
                f"target <= 0.4 ms); client CPU per check {statistics.median(client_cpus[name]):.3f} ms"
            )
        if loads:
            print(
                f"machine load average (1 min) at the end of each round: {min(loads):.1f} to {max(loads):.1f} "
                f"on {os.cpu_count()} cores"
            )
        for _, client in clients:
            await client.close()
    finally:
        for server, _ in (r for replicas in servers.values() for r in replicas):
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--cameos", type=int, default=100_000)
    parser.add_argument("--approvals", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=300_000)
    parser.add_argument("--follows", type=int, default=400_000)
    parser.add_argument("--restricted", type=int, default=1000, help="cameos that carry a restriction")
    parser.add_argument("--restricted-rate", type=float, default=50)
    parser.add_argument("--db-workers", type=int, default=6)
    parser.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[1],
        help="cameo server processes called round robin; several values are measured side by side",
    )
    parser.add_argument("--rounds", type=int, default=1, help="main-phase rounds (servers and modes alternate)")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["check"],
        metavar="MODE",
        help="how checks reach cameo, measured side by side: check (one CheckUse per check), "
        "client (kinora.consent.ConsentClient: checks made at the same time share calls; "
        "clientN: with N calls in flight; client-pM: its calls paced M ms apart while checks queue), "
        "batchN (BatchCheckUse with N checks per call, e.g. batch8), sync (CheckUse on "
        "benchmarks/cameo_sync_server.py: the synchronous gRPC server, a floor for it)",
    )
    parser.add_argument(
        "--client-in-flight",
        type=int,
        default=1,
        help="ConsentClient's calls in flight in the client mode (its default: 1)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="run the (first) cameo server under cProfile and write its main thread's profile "
        "to FILE when the benchmark ends (slows the server: CPU figures are then not comparable)",
    )
    parser.add_argument(
        "--compare-root",
        help="another checkout whose cameo service runs side by side "
        "against the same database (e.g. a git worktree of the previous "
        "commit)",
    )
    parser.add_argument(
        "--compare-env",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the --compare-root servers only, e.g. a setting to compare "
        "(--compare-root . --compare-env KINORA_CAMEO_CHECK_STATEMENTS=1)",
    )
    parser.add_argument(
        "--also-rates",
        type=float,
        nargs="*",
        default=[250, 500],
        help="lower rates measured first, to show where latency bends",
    )
    args = parser.parse_args()
    assert args.approvals // args.cameos <= APPROVALS_PER_CAMEO_MAX and args.users > args.cameos
    with temporary_database("cameobench") as url:
        from kinora.runtime.migrations import upgrade
        from services.cameo.server import MIGRATIONS

        upgrade(MIGRATIONS, url)
        seconds = load(url, args.cameos, args.approvals, args.users, args.follows, args.restricted)
        print(
            f"loaded {args.cameos} cameos, {args.approvals} approvals, {args.follows} follow edges, "
            f"{args.users} users, {args.restricted} restrictions in {seconds:.1f} s (COPY)"
        )
        asyncio.run(bench(args, url))


if __name__ == "__main__":
    main()
