"""Billing benchmarks (real PostgreSQL, real Tansu, real gRPC).

    .venv/bin/python benchmarks/billing_bench.py metering [--events 20000]
    .venv/bin/python benchmarks/billing_bench.py reserve [--rate 500 --seconds 10]

metering: GenerationCompleted/Failed events on a Tansu topic (3 partitions),
consumed by runtime EventConsumers (poll -> handle_batch with de-duplication
-> commit) with billing's handlers into PostgreSQL, by 1 and by 2 members of
one consumer group (threads of one process, as KINORA_CONSUMER_THREADS runs
them; the group settles on the empty topic first, then the events are
published). Measures events/s from the first poll to the last batch
committed, and, side by side on a smaller run, settling each event on its own.
Checks afterwards that every hold was settled and reconciliation finds zero drift.

reserve: the billing service as its own process; an open-loop client sends
Reserve at a fixed rate over gRPC (each with a new generation id) and reports
latency percentiles, measured from the scheduled send time, after one warm-up
Reserve per user (the day's first one grants the allowance). Prints the
client's and the server's CPU time per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sqlalchemy import func, select  # noqa: E402

from benchmarks.proc import cpu_seconds  # noqa: E402
from kinora.runtime.db import make_engine, session_factory, transaction  # noqa: E402
from kinora.runtime.migrations import upgrade  # noqa: E402
from kinora.testing import temporary_database  # noqa: E402
from services.billing.core import utc_day  # noqa: E402
from services.billing.domain import Billing  # noqa: E402
from services.billing.ledger import ALLOWANCE, USER_ALLOWANCE, USER_HELD, Posting  # noqa: E402
from services.billing.models import reservations, tables  # noqa: E402
from services.billing.payments import LocalTestProvider  # noqa: E402
from services.billing.server import MIGRATIONS  # noqa: E402
from services.billing.settings import BillingSettings  # noqa: E402


def billing_for(url: str, **overrides) -> Billing:
    settings = BillingSettings(
        database_url=url,
        kafka_bootstrap=None,
        free_daily=1_000_000,
        sweep_interval_seconds=0,
        reconcile_interval_seconds=0,
        dev_payments=True,
        test_provider_secret="billing-bench",
        **overrides,
    )
    upgrade(MIGRATIONS, url)
    billing = Billing(
        settings,
        session_factory(make_engine(url, pool_size=4)),
        tables,
        LocalTestProvider(settings.test_provider_secret),
    )
    billing.prepare()
    return billing


def seed_holds(billing: Billing, users: int, per_user: int) -> list[tuple[str, str]]:
    """Open users and hold one allowance unit per generation, in bulk but
    through the ledger (one posting per user), so the books stay exact."""
    now = datetime.now(UTC)
    gens = []
    with transaction(billing.sessions) as s:
        rows, postings = [], []
        for u in range(users):
            uid = f"bench-user-{u}"
            billing.open_user(s, uid)
            user = billing.core.lock_user(s, uid)
            billing.rules.ensure_day(s, user, billing.plans["free"], now)
            for i in range(per_user):
                gen = f"{uid}-gen-{i}"
                gens.append((gen, uid))
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "generation_id": gen,
                        "user_id": uid,
                        "status": "held",
                        "rule": 1,
                        "tier": 1,
                        "allowance_units": 1,
                        "credits": 0,
                        "model": "standard",
                        "seconds": 10,
                        "size": "720x1280",
                        "day": utc_day(now),
                        "created_at": now,
                        "expires_at": now + timedelta(hours=1),
                    }
                )
            postings.append(
                Posting(
                    "reserve",
                    [((uid, USER_ALLOWANCE, ALLOWANCE), -per_user), ((uid, USER_HELD, ALLOWANCE), per_user)],
                    user_id=uid,
                )
            )
        s.execute(reservations.insert(), rows)
        billing.ledger.post(s, postings, now)
    return gens


def join_group(billing: Billing, bootstrap: str, topic: str, handlers: dict, members: int) -> list:
    """`members` runtime EventConsumers in one new group, polled until the
    group is stable (every member holds partitions, together all of them)
    while the topic is still empty; returns (consumer, kafka consumer) pairs."""
    from kinora.runtime.consumer import EventConsumer

    group = f"bench-{uuid.uuid4().hex[:6]}"
    pairs = []
    for _ in range(members):
        consumer = EventConsumer(billing.sessions.kw["bind"], tables, [bootstrap], group, handlers, [topic])
        pairs.append((consumer, consumer._connect()))
    deadline = time.monotonic() + 60
    while True:
        for _, kc in pairs:
            assert not kc.poll(timeout_ms=50), "the topic should still be empty"
        held = [kc.assignment() for _, kc in pairs]
        partitions = pairs[0][1].partitions_for_topic(topic) or set()
        if all(held) and len(set().union(*held)) == len(partitions) and sum(map(len, held)) == len(partitions):
            return pairs
        if time.monotonic() > deadline:
            raise RuntimeError(f"the consumer group did not settle: {held}")


def consume(pairs: list, expected: int) -> float:
    """Each member runs the runtime consumer's own loop body (poll ->
    handle_batch -> commit) on its own thread until `expected` events are
    recorded in all; returns seconds from the start to the last commit."""
    import threading

    lock, done, failures = threading.Lock(), [0], []

    def member(consumer, kc) -> None:
        try:
            while True:
                with lock:
                    if done[0] >= expected:
                        return
                polled = kc.poll(timeout_ms=100, max_records=consumer.max_records)
                records = [r for part in polled.values() for r in part]
                if records:
                    consumer.handle_batch(records)
                    kc.commit()
                    with lock:
                        done[0] += len(records)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)
            with lock:
                done[0] = expected

    threads = [threading.Thread(target=member, args=pair) for pair in pairs]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    for _, kc in pairs:
        kc.close(autocommit=False)
    if failures:
        raise failures[0]
    return seconds


def per_event_handlers(billing: Billing) -> dict:
    """The obvious handler: settle each event as it comes (for comparison)."""
    from kinora.generator.v1 import events_pb2 as g

    def one(outcome):
        return lambda session, message, meta: billing.meter(
            session, [(message.facts.generation_id, message.facts.user_id, outcome)]
        )

    return {g.GenerationCompleted: one("completed"), g.GenerationFailed: one("failed")}


def metering_run(bootstrap: str, events: int, batched: bool, members: int = 1) -> tuple[float, int]:
    sys.path.insert(0, str(ROOT / "tests" / "billing"))
    from billing_support import outcome_event, publish

    from kinora.runtime.kafka import ensure_topics
    from services.billing.handlers import make_handlers

    with temporary_database("billbench") as url:
        billing = billing_for(url)
        gens = seed_holds(billing, users=100, per_user=events // 100)
        topic = f"kinora.generator.generations.bench{uuid.uuid4().hex[:6]}.v1"
        ensure_topics([bootstrap], [topic], partitions=3)  # the runtime's default for every topic
        handlers = make_handlers(billing) if batched else per_event_handlers(billing)
        pairs = join_group(billing, bootstrap, topic, handlers, members)
        publish(
            bootstrap,
            topic,
            [
                (str(uuid.uuid4()), outcome_event("completed" if i % 5 else "failed", gen, uid), gen)
                for i, (gen, uid) in enumerate(gens)
            ],
        )
        seconds = consume(pairs, len(gens))
        with billing.sessions() as s:
            held = s.execute(
                select(func.count()).select_from(reservations).where(reservations.c.status == "held")
            ).scalar_one()
        drift = billing.reconcile(grace_seconds=0).drift
        assert held == 0 and drift == 0, (held, drift)
        billing.sessions.kw["bind"].dispose()
        return len(gens) / seconds, drift


def bench_metering(args) -> None:
    from kinora.stack.tansu import TansuBroker, free_port

    if args.python_crc:  # what kafka-python costs without the crc32c C extension
        from kafka.record import _crc32c, default_records

        default_records.calc_crc32c = _crc32c.crc

    broker = TansuBroker(free_port()).start()
    runs: dict[int, list[float]] = {m: [] for m in args.members}
    try:
        for _ in range(args.repeat):  # interleaved, so both member counts see the same machine
            for m in args.members:
                runs[m].append(metering_run(broker.bootstrap, args.events, True, m)[0])
        naive = [metering_run(broker.bootstrap, args.events // 4, False)[0] for _ in range(args.repeat)]
    finally:
        broker.stop()
    n = statistics.median(naive)
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; record CRCs checked in "
        f"{'pure Python' if args.python_crc else 'C (crc32c)'}; topic of 3 partitions"
    )
    for m, rates in runs.items():
        b = statistics.median(rates)
        print(
            f"metering, batched handler, {m} consumer member{'s' if m > 1 else ' '}: median {b:,.0f} events/s "
            f"over {args.repeat} runs of {args.events} ({', '.join(f'{x:,.0f}' for x in rates)}); "
            f"{b / n:.1f}x per-event"
        )
    print(
        f"metering, per-event settle, 1 member : median {n:,.0f} events/s over {args.repeat} runs of "
        f"{args.events // 4} ({', '.join(f'{x:,.0f}' for x in naive)})"
    )
    print("drift after every run: 0")


def reserve_load(
    port: int, users: int, rate: float, seconds: float, token: str, run: int, server_pid: int
) -> list[float]:
    """Open loop: call i is due at start + i / rate whatever earlier calls do;
    its latency runs from that due time to its answer. The client is grpc's
    own (C core) with future callbacks, ~0.4 ms of CPU per call (grpc.aio
    measured the same); it shares the machine's two cores with the server
    and PostgreSQL, so both processes' CPU per call is printed."""
    import threading

    import grpc

    from kinora.billing.v1 import billing_pb2 as bpb
    from kinora.billing.v1 import billing_pb2_grpc

    metadata = [("authorization", f"Bearer {token}")]

    def request(gen: str, i: int):
        return bpb.ReserveRequest(
            generation_id=gen, user_id=f"load-user-{i % users}", model="standard", seconds=10, size="720x1280"
        )

    latencies: list[float] = []
    errors: list[str] = []
    total = int(rate * seconds)
    finished = threading.Semaphore(0)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        reserve = billing_pb2_grpc.BillingServiceStub(ch).Reserve
        # Warm-up: every user's first Reserve of the (UTC) day grants the
        # day's allowance through the general path; measure the steady state.
        warm = [reserve.future(request(f"warm-{run}-{i}", i), metadata=metadata, timeout=30) for i in range(users)]
        for f in warm:
            f.result()
        requests = [request(f"load-{run}-{i}", i) for i in range(total)]

        def done(future, scheduled: float) -> None:
            if future.exception() is None:
                latencies.append(time.perf_counter() - scheduled)
            else:
                errors.append(future.code().name)
            finished.release()

        cpu, server_cpu = time.process_time(), cpu_seconds(server_pid)
        start = time.perf_counter()
        for i, req in enumerate(requests):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            reserve.future(req, metadata=metadata, timeout=5).add_done_callback(lambda f, t=scheduled: done(f, t))
        for _ in range(total):
            finished.acquire()
        cpu, server_cpu = time.process_time() - cpu, cpu_seconds(server_pid) - server_cpu
    print(f"  CPU per call: client {cpu / total * 1000:.2f} ms, server {server_cpu / total * 1000:.2f} ms")
    if errors:
        print(f"  {len(errors)} calls failed: {', '.join(sorted(set(errors)))}")
    return latencies


def db_round_trip_ms(url: str) -> float:
    """Median SELECT 1 round trip: the floor under every statement here."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        times = []
        for _ in range(200):
            t = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def bench_reserve(args) -> None:
    from kinora.runtime.auth import mint_service_token
    from kinora.stack.tansu import free_port, wait_for_port

    secret = "bench-internal-secret-0123456789abcdef"
    with temporary_database("billbench") as url:
        billing = billing_for(url)
        with transaction(billing.sessions) as s:
            for u in range(args.users):
                billing.open_user(s, f"load-user-{u}")
        billing.sessions.kw["bind"].dispose()
        print(
            f"PostgreSQL SELECT 1 round trip: median {db_round_trip_ms(url):.3f} ms; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        port = free_port()
        env = {
            **os.environ,
            "KINORA_DATABASE_URL": url,
            "KINORA_GRPC_PORT": str(port),
            "KINORA_GRPC_HOST": "127.0.0.1",
            "KINORA_INTERNAL_SECRET": secret,
            "KINORA_BILLING_FREE_DAILY": "1000000",
            "KINORA_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen([sys.executable, "-m", "services.billing", "serve"], cwd=ROOT, env=env)
        try:
            wait_for_port(port, timeout_s=30)
            time.sleep(1.0)  # migrations and start-up hooks
            token = mint_service_token("generator", secret)[0]
            runs = []
            for run in range(args.repeat):
                lat = sorted(reserve_load(port, args.users, args.rate, args.seconds, token, run, server.pid))
                runs.append((statistics.median(lat), lat[int(len(lat) * 0.99) - 1], len(lat)))
        finally:
            server.terminate()
            server.wait(15)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs after the runs")
    for median, p99, n in runs:
        print(
            f"Reserve at {args.rate:.0f}/s over gRPC: {n} calls, median {median * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="which", required=True)
    m = sub.add_parser("metering")
    m.add_argument("--events", type=int, default=20_000)
    m.add_argument("--repeat", type=int, default=3)
    m.add_argument(
        "--members",
        type=int,
        nargs="+",
        default=[1, 2],
        help="consumer group members (threads, as KINORA_CONSUMER_THREADS runs them) to compare",
    )
    m.add_argument(
        "--python-crc",
        action="store_true",
        help="check record CRCs in pure Python, as kafka-python does without the crc32c package",
    )
    r = sub.add_parser("reserve")
    r.add_argument("--rate", type=float, default=500)
    r.add_argument("--seconds", type=float, default=10)
    r.add_argument("--users", type=int, default=500)
    r.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    bench_metering(args) if args.which == "metering" else bench_reserve(args)


if __name__ == "__main__":
    main()
