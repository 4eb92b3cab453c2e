"""Outbox -> relay -> Tansu -> idempotent consumer, on PostgreSQL."""

import threading
import time
import uuid

import grpc
import pytest
from kafka.errors import KafkaError
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.orm import Session

from kinora.runtime.consumer import EventConsumer
from kinora.runtime.db import make_engine
from kinora.runtime.events import define_event_tables, emit
from kinora.runtime.kafka import ensure_topics, make_producer
from kinora.runtime.relay import OutboxRelay
from kinora.runtime.subscriptions import by_event_type
from kinora.runtime.v1.runtime_pb2 import PingRequest

metadata = MetaData()
notes = Table("notes", metadata, Column("id", String(36), primary_key=True), Column("text", String(200)))
applied = Table(
    "applied", metadata, Column("note_id", String(36), primary_key=True), Column("times", Integer, nullable=False)
)
tables = define_event_tables(metadata)


def write_notes(engine, topic, count):
    ids = []
    with Session(engine) as s, s.begin():
        for i in range(count):
            note_id = str(uuid.uuid4())
            s.execute(notes.insert().values(id=note_id, text=f"note {i}"))
            emit(s, tables, topic, PingRequest(payload=note_id.encode()), "note", note_id)
            ids.append(note_id)
    return ids


def apply_note(session, message, meta):
    note_id = message.payload.decode()
    done = session.execute(update(applied).where(applied.c.note_id == note_id).values(times=applied.c.times + 1))
    if done.rowcount == 0:
        session.execute(applied.insert().values(note_id=note_id, times=1))


def drain(relay):
    total = 0
    while n := relay.publish_batch():
        total += n
    return total


class Running:
    """An EventConsumer on its own thread."""

    def __init__(self, consumer):
        self.consumer, self.stop = consumer, threading.Event()
        self.thread = threading.Thread(target=consumer.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.thread.join(15)


def wait_applied(engine, expected, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as c:
            if c.execute(select(func.count()).select_from(applied)).scalar_one() >= expected:
                return
        time.sleep(0.1)
    raise AssertionError("events did not all arrive")


@pytest.fixture
def setup(pg_url, broker):
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    topic = f"kinora.test.notes{uuid.uuid4().hex[:6]}.v1"
    ensure_topics([broker.bootstrap], [topic])
    yield engine, topic
    engine.dispose()


def consumer_for(engine, broker, topic, group):
    return EventConsumer(engine, tables, [broker.bootstrap], group, {PingRequest: apply_note}, [topic])


def test_every_event_arrives_once_even_when_replayed(setup, broker):
    engine, topic = setup
    write_notes(engine, topic, 300)
    relay = OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test")
    assert drain(relay) == 300
    assert relay.pending() == 0

    replay = OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t2"), "test")
    running = Running(consumer_for(engine, broker, topic, f"g-{uuid.uuid4().hex[:6]}"))
    try:
        wait_applied(engine, 300)
        # Publish a third of them again, as a relay does when the broker lost them.
        with engine.begin() as c:
            first = select(tables.outbox.c.id).order_by(tables.outbox.c.id).limit(100).scalar_subquery()
            c.execute(update(tables.outbox).where(tables.outbox.c.id.in_(first)).values(published_at=None))
        assert drain(replay) == 100
        time.sleep(3)
        with engine.connect() as c:
            times = c.execute(select(applied.c.times)).scalars().all()
        assert len(times) == 300 and set(times) == {1}
    finally:
        running.close()


def test_published_events_are_kept_for_the_retention_window(setup, broker):
    engine, topic = setup
    write_notes(engine, topic, 50)
    relay = OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test", retention_s=3600)
    assert drain(relay) == 50 and relay.pending() == 0
    with engine.connect() as c:
        assert (
            c.execute(
                select(func.count()).select_from(tables.outbox).where(tables.outbox.c.published_at.is_not(None))
            ).scalar_one()
            == 50
        )
        marks = c.execute(select(tables.acks)).all()
    # What the broker acknowledged, per partition: its cluster and highest offset.
    assert {m.cluster_id for m in marks} == {broker.cluster_id}
    assert sum(m.acked_offset + 1 for m in marks) >= 50
    assert relay.prune() == 0  # all inside the window
    relay.retention_s = 0
    time.sleep(0.01)
    assert relay.prune() == 50
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(tables.outbox)).scalar_one() == 0


def test_no_event_is_lost_when_the_broker_is_killed_mid_stream(setup, tmp_path):
    """kill -9 of the in-memory broker while events flow: the relay notices the new
    cluster, publishes its retained window again, and the consumer reads the new log
    from its start; every event applies exactly once."""
    from kinora.stack.tansu import TansuBroker, free_port

    engine, _ = setup
    port = free_port()
    own = TansuBroker(port, tmp_path / "broker.log").start()
    topic = f"kinora.test.chaos{uuid.uuid4().hex[:6]}.v1"
    bootstrap = [own.bootstrap]
    ensure_topics(bootstrap, [topic])
    relay = OutboxRelay(
        engine,
        tables,
        make_producer(bootstrap, "chaos", timeout_ms=3000),
        "test",
        bootstrap=bootstrap,
        producer_factory=lambda: make_producer(bootstrap, "chaos", timeout_ms=3000),
        check_every_s=0.5,
    )
    stop = threading.Event()
    relaying = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    relaying.start()
    group = f"g-{uuid.uuid4().hex[:6]}"

    def consume():
        return Running(EventConsumer(engine, tables, bootstrap, group, {PingRequest: apply_note}, [topic]))

    running = consume()
    try:
        write_notes(engine, topic, 300)
        wait_applied(engine, 300, timeout=90)  # a group join can take long on a loaded machine
        running.close()  # the consumer is down (a deploy) while the broker takes more events
        write_notes(engine, topic, 300)
        deadline = time.monotonic() + 20
        while relay.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert relay.pending() == 0  # acknowledged, never read
        own.process.kill()  # kill -9: the log, offsets and groups are gone
        own.process.wait()
        write_notes(engine, topic, 200)  # written while the broker is down
        old_cluster = own.cluster_id
        own.start()
        assert own.cluster_id != old_cluster
        running = consume()
        for _ in range(2):
            write_notes(engine, topic, 100)
            time.sleep(0.2)
        wait_applied(engine, 1000, timeout=90)
        time.sleep(2)  # anything applied twice would show by now
    finally:
        running.close()
        stop.set()
        relaying.join(15)
        own.stop()
    with engine.connect() as c:
        times = c.execute(select(applied.c.times)).scalars().all()
    assert len(times) == 1000 and set(times) == {1}, (len(times), set(times))


def test_consumer_restart_before_commit_applies_once(setup, broker):
    engine, topic = setup
    write_notes(engine, topic, 200)
    drain(OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test"))
    group = f"g-{uuid.uuid4().hex[:6]}"

    # First consumer handles a batch but "crashes" before committing offsets.
    crashing = consumer_for(engine, broker, topic, group)
    kc = crashing._connect()
    handled = 0
    deadline = time.monotonic() + 30
    while handled == 0 and time.monotonic() < deadline:
        polled = kc.poll(timeout_ms=500, max_records=150)
        records = [r for batch in polled.values() for r in batch]
        if records:
            crashing.handle_batch(records)
            handled = len(records)
    kc.close(autocommit=False)
    assert handled > 0

    running = Running(consumer_for(engine, broker, topic, group))
    try:
        wait_applied(engine, 200)
        time.sleep(1.5)
        with engine.connect() as c:
            times = c.execute(select(applied.c.times)).scalars().all()
        assert len(times) == 200 and set(times) == {1}
    finally:
        running.close()


def test_crash_between_state_change_and_relay_loses_nothing(setup, broker):
    engine, topic = setup
    write_notes(engine, topic, 120)
    # The relay dies mid-publish: its broker connection is gone.
    from kinora.stack.tansu import TansuBroker, free_port

    doomed = TansuBroker(free_port()).start()
    dead_relay = OutboxRelay(engine, tables, make_producer([doomed.bootstrap], "doomed", timeout_ms=3000), "test")
    doomed.stop()
    with pytest.raises(KafkaError):
        dead_relay.publish_batch()
    assert dead_relay.pending() == 120  # nothing marked sent

    assert drain(OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test")) == 120
    running = Running(consumer_for(engine, broker, topic, f"g-{uuid.uuid4().hex[:6]}"))
    try:
        wait_applied(engine, 120)
    finally:
        running.close()


async def test_one_trace_spans_grpc_kafka_and_consumer(setup, broker):
    import asyncio

    from kinora.runtime import telemetry
    from kinora.runtime.server import ServiceApp
    from kinora.runtime.settings import RuntimeSettings
    from kinora.stack.tansu import free_port

    engine, topic = setup
    exporter = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(exporter))

    async def create_note(request: bytes, context) -> bytes:
        ids = await asyncio.to_thread(write_notes, engine, topic, 1)
        return ids[0].encode()

    app = ServiceApp("tracetest", RuntimeSettings(grpc_host="127.0.0.1", grpc_port=free_port()))
    app.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "kinora.test.v1.Notes", {"Create": grpc.unary_unary_rpc_method_handler(create_note)}
            )
        ]
    )
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
            note_id = (await ch.unary_unary("/kinora.test.v1.Notes/Create")(b"", timeout=10)).decode()
    finally:
        await app.stop()
    drain(OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test"))
    running = Running(consumer_for(engine, broker, topic, f"g-{uuid.uuid4().hex[:6]}"))
    try:
        wait_applied(engine, 1)
    finally:
        running.close()
    spans = exporter.get_finished_spans()
    server = next(s for s in spans if s.name == "kinora.test.v1.Notes/Create")
    consume = next(
        s for s in spans if s.name.startswith("consume ") and s.attributes.get("messaging.destination.name") == topic
    )
    assert consume.context.trace_id == server.context.trace_id
    assert consume.parent is not None and consume.parent.span_id == server.context.span_id
    assert note_id


def test_relay_replicas_take_turns_so_each_key_keeps_its_order(setup, broker):
    """Every replica runs a relay; one publishes at a time (advisory lock), so
    events of one aggregate reach Kafka in the order they were written even
    when several relays race over small batches."""
    from kafka import KafkaConsumer
    from sqlalchemy import text

    engine, topic = setup
    keys = [f"agg-{k}" for k in range(3)]
    with Session(engine) as s, s.begin():
        for i in range(60):  # interleaved: agg-0 #0, agg-1 #0, agg-2 #0, agg-0 #1, ...
            key = keys[i % 3]
            emit(s, tables, topic, PingRequest(payload=f"{key}:{i // 3}".encode()), "note", key)
    relays = [
        OutboxRelay(engine, tables, make_producer([broker.bootstrap], f"r{n}"), "test", batch_size=4) for n in range(3)
    ]

    # While another replica holds the turn, a relay publishes nothing.
    with engine.connect() as other:
        with other.begin():
            assert other.execute(text("SELECT pg_try_advisory_xact_lock(hashtext('kinora.outbox.relay'))")).scalar()
            assert relays[0].publish_batch() is None and relays[0].pending() == 60

    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,), daemon=True) for r in relays]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while relays[0].pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(10)
    assert relays[0].pending() == 0

    reader = KafkaConsumer(
        topic,
        bootstrap_servers=[broker.bootstrap],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    seen: dict[str, list[int]] = {k: [] for k in keys}
    for record in reader:
        key, n = PingRequest.FromString(record.value).payload.decode().split(":")
        seen[key].append(int(n))
    reader.close()
    assert all(seen[k] == list(range(20)) for k in keys), seen


async def test_a_process_runs_consumer_threads_members_that_share_the_partitions(setup, broker, pg_url):
    """KINORA_CONSUMER_THREADS=2: two members of the service's group in one
    process; together they hold every partition, and each event applies once."""
    from kinora.runtime.service import create_service
    from kinora.runtime.settings import DatabaseSettings

    engine, topic = setup
    settings = DatabaseSettings(database_url=pg_url, kafka_bootstrap=[broker.bootstrap], consumer_threads=2)
    ctx = create_service(
        f"g-{uuid.uuid4().hex[:6]}",
        settings,
        tables,
        None,
        subscription=by_event_type({PingRequest: apply_note}, {topic: (PingRequest,)}),
    )
    assert len(ctx.consumers) == 2
    members = [Running(c) for c in ctx.consumers]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both joined: the group's partitions are split between them
            held = [c._consumer.assignment() if c._consumer else set() for c in ctx.consumers]
            if all(held) and sum(map(len, held)) == 3:
                break
            time.sleep(0.2)
        assert all(held) and sum(map(len, held)) == 3, held
        write_notes(engine, topic, 200)
        drain(OutboxRelay(engine, tables, make_producer([broker.bootstrap], "t"), "test"))
        wait_applied(engine, 200)
    finally:
        for m in members:
            m.close()
        ctx.engine.dispose()
    with engine.connect() as c:
        assert c.execute(select(func.max(applied.c.times))).scalar_one() == 1
