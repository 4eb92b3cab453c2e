"""Outbox relay throughput: events written to PostgreSQL's outbox, published
to a real Tansu broker by OutboxRelay, rows marked published and kept for the
retention window (so each round runs over the rows every earlier round left).
Reports events/s and the relay process's CPU per 1,000 events per round, and
the medians; the target is >= 5,000 events/s.

    .venv/bin/python benchmarks/outbox_bench.py [--events 20000] [--rounds 3]
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import MetaData, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from kinora.runtime.db import make_engine  # noqa: E402
from kinora.runtime.events import define_event_tables, emit  # noqa: E402
from kinora.runtime.kafka import ensure_topics, make_producer  # noqa: E402
from kinora.runtime.relay import OutboxRelay  # noqa: E402
from kinora.runtime.v1.runtime_pb2 import PingRequest  # noqa: E402
from kinora.stack.tansu import TansuBroker, free_port  # noqa: E402
from kinora.testing import temporary_database  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    metadata = MetaData()
    tables = define_event_tables(metadata)
    broker = TansuBroker(free_port()).start()
    topic = "kinora.bench.outbox.v1"
    with temporary_database("bench") as url:
        engine = make_engine(url)
        metadata.create_all(engine)
        ensure_topics([broker.bootstrap], [topic])
        relay = OutboxRelay(engine, tables, make_producer([broker.bootstrap], "bench"), "bench")
        rates, cpus = [], []
        for _ in range(args.rounds):
            with Session(engine) as s, s.begin():
                for i in range(args.events):
                    emit(s, tables, topic, PingRequest(payload=uuid.uuid4().bytes * 4), "bench", str(i % 97))
            with engine.connect() as c:
                retained = c.execute(
                    select(func.count()).select_from(tables.outbox).where(tables.outbox.c.published_at.is_not(None))
                ).scalar_one()
            start, cpu = time.perf_counter(), time.process_time()
            total = 0
            while n := relay.publish_batch():
                total += n
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert total == args.events and relay.pending() == 0
            rates.append(total / elapsed)
            cpus.append(cpu / total * 1000 * 1000)
            print(
                f"round over {retained:,} retained rows: {total} events in {elapsed:.2f}s = "
                f"{total / elapsed:,.0f} events/s, relay CPU {cpus[-1]:.1f} ms per 1,000 events"
            )
        print(
            f"median: {statistics.median(rates):,.0f} events/s (target >= 5,000), "
            f"relay CPU {statistics.median(cpus):.1f} ms per 1,000 events"
        )
        engine.dispose()
    broker.stop()


if __name__ == "__main__":
    main()
