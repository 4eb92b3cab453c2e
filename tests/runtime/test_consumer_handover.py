"""A service's consumer group changes hands: the members of one process stop (a deploy, or a
test module's platform ending), the next process's members join the same group on the same
broker, get every partition and receive new events within seconds: whichever member led the
group and whichever was stopped first, and when a member is stopped in the middle of joining.
On Tansu 0.6.0 a leader that left after the other members, or left while its join was being
answered, stayed the group's leader, and the next members never got a partition (after
test_gateway.py's short-lived platform, the next module's generator never received
TakedownRequested). See kinora.runtime.consumer.GroupMembers."""

import asyncio
import time
import uuid

import pytest
from kafka.structs import MemberState
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.orm import Session

from kinora.runtime.consumer import STOP_WITHIN_S, EventConsumer
from kinora.runtime.db import make_engine
from kinora.runtime.events import define_event_tables, emit
from kinora.runtime.kafka import ensure_topics, make_producer
from kinora.runtime.relay import OutboxRelay
from kinora.runtime.server import BackgroundWorker, stop_workers
from kinora.runtime.service import create_service
from kinora.runtime.settings import DatabaseSettings
from kinora.runtime.subscriptions import by_event_type
from kinora.runtime.v1.runtime_pb2 import PingRequest

metadata = MetaData()
seen = Table("handover_seen", metadata, Column("payload", String(64), primary_key=True))
tables = define_event_tables(metadata)
PARTITIONS = 3  # ensure_topics' default


@pytest.fixture(autouse=True)
def current_event_loop():
    """create_service builds a grpc.aio server, which binds to the thread's current event loop. After
    async tests earlier in the session the main thread has none (the clean-clone CI failed so), so
    each test here gets its own."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def note_seen(session, message, meta):
    session.execute(seen.insert().values(payload=message.payload.decode()))


def wait_until(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what() if callable(what) else what} within {timeout_s:.0f} s")


def leads(consumer):
    """Whether the member assigns the group's partitions (kafka-python's coordinator knows)."""
    return bool(getattr(getattr(consumer._consumer, "_coordinator", None), "_is_leader", False))


class Process:
    """One service process's consumer group members (KINORA_CONSUMER_THREADS=2), each on a
    BackgroundWorker as ServiceApp runs them."""

    def __init__(self, group, pg_url, broker, topic, threads=2):
        settings = DatabaseSettings(database_url=pg_url, kafka_bootstrap=[broker.bootstrap], consumer_threads=threads)
        self.ctx = create_service(
            group, settings, tables, None, subscription=by_event_type({PingRequest: note_seen}, {topic: (PingRequest,)})
        )
        self.workers = [BackgroundWorker(f"{group}-consumer-{i}", c.run) for i, c in enumerate(self.ctx.consumers)]
        for worker in self.workers:
            worker.start()

    def held(self):
        return [c._consumer.assignment() if c._consumer else set() for c in self.ctx.consumers]

    def has_every_partition(self):
        held = self.held()
        return all(held) and sum(map(len, held)) == PARTITIONS

    def stop(self, leader: str | None = None):
        """Stop the members one after another, the group's leader `leader` ("first" or "last"),
        or in the order they started; "together": all asked at once, as ServiceApp.stop does."""
        if leader == "together":
            assert stop_workers(self.workers, STOP_WITHIN_S) == []
            assert all(w.error is None for w in self.workers)
            self.ctx.engine.dispose()
            return
        pairs = list(zip(self.ctx.consumers, self.workers))
        if leader is not None:
            pairs.sort(key=lambda pair: leads(pair[0]), reverse=leader == "first")
            assert [leads(c) for c, _ in pairs] == ([True, False] if leader == "first" else [False, True])
        for _, worker in pairs:
            worker.stop()
            assert not worker.thread.is_alive()
        assert all(w.error is None for w in self.workers)
        self.ctx.engine.dispose()


@pytest.fixture
def setup(pg_url, broker):
    engine = make_engine(pg_url)
    metadata.create_all(engine)
    topic = f"kinora.test.handover{uuid.uuid4().hex[:6]}.v1"
    ensure_topics([broker.bootstrap], [topic])
    yield engine, topic
    engine.dispose()


def publish(engine, broker, topic, payloads):
    with Session(engine) as s, s.begin():
        for payload in payloads:
            emit(s, tables, topic, PingRequest(payload=payload.encode()), "note", payload)
    relay = OutboxRelay(engine, tables, make_producer([broker.bootstrap], "handover"), "handover")
    while relay.publish_batch():
        pass


def count_seen(engine, prefix):
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(seen).where(seen.c.payload.startswith(prefix))).scalar_one()


def next_members_get_the_events(new, engine, broker, topic, who):
    """`new` holds every partition within 30 s, and receives the events published then."""
    wait_until(new.has_every_partition, 30, lambda: f"{who} got no partitions (held: {new.held()})")
    publish(engine, broker, topic, [f"new-{i}" for i in range(6)])
    wait_until(lambda: count_seen(engine, "new-") == 6, 20, f"{who} did not receive the new events")


@pytest.mark.parametrize("leader", ["first", "last", "together"])
def test_the_next_process_gets_the_group_and_its_events_whichever_member_led(setup, pg_url, broker, leader):
    engine, topic = setup
    group = f"handover-{uuid.uuid4().hex[:6]}"
    old = Process(group, pg_url, broker, topic)
    try:
        wait_until(old.has_every_partition, 60, "the first process's members did not share the partitions")
        publish(engine, broker, topic, [f"old-{i}" for i in range(6)])
        wait_until(lambda: count_seen(engine, "old-") == 6, 30, "the first process did not get its events")
    finally:
        old.stop(leader)

    new = Process(group, pg_url, broker, topic)
    try:
        # A join on Tansu takes about 5 s (it waits for more members); stuck, it never completes.
        next_members_get_the_events(new, engine, broker, topic, "the next members")
    finally:
        new.stop()


def test_a_member_stopped_while_it_joins_leaves_the_group_to_the_next_one(setup, pg_url, broker):
    """The generator of a platform that lived a few seconds: stopped while the broker was still
    answering its JoinGroup."""
    engine, topic = setup
    group = f"handover-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(engine, tables, [broker.bootstrap], group, {PingRequest: note_seen}, [topic])
    worker = BackgroundWorker(f"{group}-consumer-0", consumer.run)
    worker.start()

    def joining():
        coordinator = getattr(consumer._consumer, "_coordinator", None)
        return (
            coordinator is not None
            and coordinator.state is MemberState.REBALANCING
            and coordinator._generation.has_member_id()  # its second JoinGroup, with its member id, is out
        )

    try:
        wait_until(joining, 30, "the member did not start joining")
    finally:
        worker.stop()
    assert not worker.thread.is_alive() and worker.error is None

    new = Process(group, pg_url, broker, topic, threads=1)
    try:
        next_members_get_the_events(new, engine, broker, topic, "the next member")
    finally:
        new.stop()
