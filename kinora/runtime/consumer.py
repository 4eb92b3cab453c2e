"""Idempotent Kafka consumers.

Each service is one consumer group. A polled batch is handled in one database
transaction that also records every event id in `processed_events`; ids seen
before are skipped. Offsets are committed only after that transaction commits,
so a crash re-delivers, and re-delivery has no second effect. If the batch
fails, events are retried one by one so a single poison event cannot block the
rest; after `max_attempts` it is recorded as dead (logged, counted) and skipped.
A broker that comes back with a new cluster id remembers nothing, and this
consumer's position in its old log means nothing in the new one (the outbox
relays publish their retained events again there): the consumer then reads
its partitions from the start, de-duplication skipping what it had.
A stopping consumer leaves its group cleanly for whoever joins next: it finishes a join
in progress first, and the members of one group in a process (KINORA_CONSUMER_THREADS)
stop together, the group's leader leaving first. Tansu (0.6.0) otherwise keeps a leader
that has left as the group's leader, and the next members, waiting for its assignment,
never receive an event (see `GroupMembers`).
An event's handler runs in a span that continues the producer's trace when that
trace is sampled; other events are handled without one (at 10,000 events/s a
span per event would start 10,000 traces a second that nobody sampled).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from google.protobuf.message import Message
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import MemberState
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kinora.runtime.bulk import insert_rows
from kinora.runtime.events import EventTables
from kinora.runtime.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, header_map, security
from kinora.runtime.metrics import CONSUMER_LAG, EVENTS_CONSUMED
from kinora.runtime.telemetry import extract_context

log = logging.getLogger("kinora.consumer")
_tracer = trace.get_tracer("kinora.kafka")


@dataclass(frozen=True)
class EventMeta:
    event_id: str
    event_type: str
    topic: str
    key: str
    headers: dict[str, str]


Handler = Callable[[Session, Message, EventMeta], None]

# How long a stopping member may take to finish a join in progress, and to wait for the group's
# leader to leave before it; with closing (one LeaveGroup), at most `STOP_WITHIN_S`, which the
# runtime's KINORA_WORKER_STOP_SECONDS must cover.
JOIN_FINISH_S = 8.0
LEADER_WAIT_S = 5.0
STOP_WITHIN_S = JOIN_FINISH_S + LEADER_WAIT_S + 2.0


class GroupMembers:
    """The members of one consumer group in one process. They stop together (stopping one
    stops the others), and the group's leader leaves first.

    Why the order: Tansu 0.6.0 (our development and test broker) moves a group to a new
    rebalance when one member leaves, keeping the leader; when the leader then leaves too,
    it stays the group's leader (`Inner<Forming>::leave` does not clear it). The next
    members to join are all told that a member that is gone leads the group: none
    assigns partitions, their SyncGroup requests fail with REBALANCE_IN_PROGRESS, and they
    read nothing until the broker drops the group from memory (minutes). A leader that
    leaves while the others are still members makes no such trap: Tansu drops a leader
    that is no longer a member, and the next member to join leads. Kafka itself is not
    affected either way."""

    def __init__(self, leader_wait_s: float = LEADER_WAIT_S) -> None:
        self.stop = threading.Event()
        self.leader_wait_s = leader_wait_s
        self._open: list[EventConsumer] = []
        self._changed = threading.Condition()

    def joined(self, member: EventConsumer) -> None:
        with self._changed:
            self._open.append(member)

    def left(self, member: EventConsumer) -> None:
        with self._changed:
            if member in self._open:
                self._open.remove(member)
            self._changed.notify_all()

    def wait_for_leader(self, member: EventConsumer) -> None:
        """Return once no other open member of this process leads the group (bounded: a
        leader stuck in a long batch does not hold this member's stop for ever)."""
        deadline = time.monotonic() + self.leader_wait_s
        with self._changed:
            while any(m is not member and m.is_leader() for m in self._open):
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("%s: the group's leader has not left yet; leaving before it", member.group_id)
                    return
                self._changed.wait(min(left, 0.1))


class EventConsumer:
    def __init__(
        self,
        engine: Engine,
        tables: EventTables,
        bootstrap: list[str],
        group_id: str,
        handlers: dict[type[Message], Handler],
        topics: list[str],
        max_attempts: int = 3,
        max_records: int = 1000,
        members: GroupMembers | None = None,
    ):
        self.engine, self.tables, self.group_id = engine, tables, group_id
        self.members = members
        self.bootstrap, self.topics, self.max_attempts, self.max_records = bootstrap, topics, max_attempts, max_records
        self.handlers = {cls.DESCRIPTOR.full_name: (cls, fn) for cls, fn in handlers.items()}
        self._consumer: KafkaConsumer | None = None
        self._lag_checked = 0.0
        self._cluster_id: str | None = None

    def _connect(self) -> KafkaConsumer:
        return KafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.group_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Short timeouts make group (re)joins take seconds, not tens of seconds.
            max_poll_interval_ms=30_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            # Notice topics (re)created after we subscribed within seconds, not minutes.
            metadata_max_age_ms=10_000,
            **security(),
        )

    # -- handling -------------------------------------------------------------

    def _meta(self, record: ConsumerRecord) -> EventMeta:
        headers = header_map(record.headers)
        return EventMeta(
            event_id=headers.get(HEADER_EVENT_ID, f"{record.topic}:{record.partition}:{record.offset}"),
            event_type=headers.get(HEADER_EVENT_TYPE, ""),
            topic=record.topic,
            key=(record.key or b"").decode(errors="replace"),
            headers=headers,
        )

    def _claim(self, session: Session, metas: list[EventMeta]) -> set[str]:
        """Record event ids as processed, in one statement; return those not
        processed before (the insert skips ids already present)."""
        rows = list({m.event_id: {"event_id": m.event_id, "topic": m.topic} for m in metas}.values())
        return set(insert_rows(session, self.tables.processed, rows, ignore_conflicts=True, returning="event_id") or ())

    def _apply(self, session: Session, record: ConsumerRecord, meta: EventMeta) -> None:
        entry = self.handlers.get(meta.event_type)
        if entry is None:
            return  # an event this service does not care about: recorded, skipped
        cls, fn = entry
        message = cls.FromString(record.value)
        if "traceparent" not in meta.headers:
            fn(session, message, meta)  # no trace to continue: a consumer does not start one per event
            return
        parent = extract_context(meta.headers)
        span_ctx = trace.get_current_span(parent).get_span_context()
        if not span_ctx.trace_flags.sampled:
            fn(session, message, meta)  # its trace was not sampled: a span here would record nothing
            return
        with _tracer.start_as_current_span(
            f"consume {meta.event_type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=[Link(span_ctx)] if span_ctx.is_valid else None,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": meta.topic,
                "messaging.consumer.group.name": self.group_id,  # which service applied it
                "messaging.message.id": meta.event_id,
            },
        ):
            fn(session, message, meta)

    def handle_batch(self, records: list[ConsumerRecord]) -> None:
        metas = [self._meta(r) for r in records]
        try:
            with Session(self.engine) as session, session.begin():
                fresh = self._claim(session, metas)
                for record, meta in zip(records, metas):
                    if meta.event_id in fresh:
                        fresh.discard(meta.event_id)  # a duplicate inside one batch applies once
                        self._apply(session, record, meta)
            for topic, count in Counter(meta.topic for meta in metas).items():
                EVENTS_CONSUMED.labels(self.group_id, topic, "ok").inc(count)
            return
        except Exception:  # noqa: BLE001 - isolate the failing event below
            log.warning("batch of %d failed; retrying events one by one", len(records), exc_info=True)
        for record, meta in zip(records, metas):
            self._handle_one(record, meta)

    def _handle_one(self, record: ConsumerRecord, meta: EventMeta) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                with Session(self.engine) as session, session.begin():
                    if self._claim(session, [meta]):
                        self._apply(session, record, meta)
                EVENTS_CONSUMED.labels(self.group_id, meta.topic, "ok").inc()
                return
            except Exception:  # noqa: BLE001
                log.exception("event %s (%s) failed, attempt %d", meta.event_id, meta.event_type, attempt)
        with Session(self.engine) as session, session.begin():
            if self._claim(session, [meta]):
                session.execute(
                    self.tables.processed.update()
                    .where(self.tables.processed.c.event_id == meta.event_id)
                    .values(status="dead", attempts=self.max_attempts)
                )
        EVENTS_CONSUMED.labels(self.group_id, meta.topic, "dead").inc()
        log.error("event %s (%s) recorded as dead after %d attempts", meta.event_id, meta.event_type, self.max_attempts)

    # -- loop -----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        consumer = self._consumer = self._connect()
        if self.members is not None:
            self.members.joined(self)
        try:
            while not (stop.is_set() or (self.members is not None and self.members.stop.is_set())):
                polled = consumer.poll(timeout_ms=200, max_records=self.max_records)
                records = [r for batch in polled.values() for r in batch]
                if records:
                    self.handle_batch(records)
                if self._broker_changed(consumer):
                    # Positions refer to the old log: start over, and commit nothing read at them.
                    # (Partitions not held now start from the new group's committed offsets,
                    # of which there are none: from the start as well.)
                    if consumer.assignment():
                        consumer.seek_to_beginning()
                    continue
                if not records:
                    continue
                try:
                    consumer.commit()  # only after the effects are durable
                except CommitFailedError:
                    # The group rebalanced (or its coordinator restarted) under us: these records
                    # come again to whoever owns the partitions now, and de-duplicate there.
                    log.warning("%s: offset commit refused after a rebalance; records will be re-read", self.group_id)
                if time.monotonic() - self._lag_checked > 5.0:  # a broker round trip: not every batch
                    self._lag_checked = time.monotonic()
                    self._report_lag(consumer, consumer.assignment())
        finally:
            self._close(consumer, stopping=stop.is_set())

    def is_leader(self) -> bool:
        """Whether this member assigns the group's partitions (the broker chose it at the last join)."""
        coordinator = getattr(self._consumer, "_coordinator", None)  # kafka-python has no public getter
        return bool(getattr(coordinator, "_is_leader", False))

    def _close(self, consumer: KafkaConsumer, stopping: bool) -> None:
        """Leave the group and close. Asked to stop, the other members of this process stop as
        well, and a member that is not the group's leader leaves after the leader has left.
        (A member that crashed just leaves.)"""
        members = self.members
        if members is None:
            self._finish_joining(consumer)
            consumer.close(autocommit=False)
            return
        try:
            if stopping:
                members.stop.set()
            self._finish_joining(consumer)
            if members.stop.is_set() and not self.is_leader():
                members.wait_for_leader(self)
            consumer.close(autocommit=False)
        finally:
            members.left(self)

    def _finish_joining(self, consumer: KafkaConsumer, timeout_s: float = JOIN_FINISH_S) -> None:
        """A member stopped while it joins the group completes the join before it leaves.
        Tansu (0.6.0) answers the join, making this member the new generation's leader, and
        then takes the LeaveGroup without clearing that leader (see `GroupMembers`): the next
        members would never get a partition. Records polled meanwhile are dropped uncommitted;
        whoever holds their partitions next reads them again."""
        coordinator = getattr(consumer, "_coordinator", None)  # kafka-python has no public getter
        deadline = time.monotonic() + timeout_s
        while getattr(coordinator, "state", None) is MemberState.REBALANCING and time.monotonic() < deadline:
            consumer.poll(timeout_ms=100, max_records=1)

    def _broker_changed(self, consumer: KafkaConsumer) -> bool:
        # kafka-python keeps the id from the last metadata response; it has no public getter.
        cluster = getattr(getattr(consumer, "_client", None), "cluster", None)
        current = getattr(cluster, "cluster_id", None)
        if not current:
            return False
        changed = self._cluster_id is not None and current != self._cluster_id
        if changed:
            log.warning(
                "%s: the broker is a new cluster (%s, was %s); reading from the start",
                self.group_id,
                current,
                self._cluster_id,
            )
        self._cluster_id = current
        return changed

    def _report_lag(self, consumer: KafkaConsumer, partitions: Iterable[TopicPartition]) -> None:
        try:
            ends = consumer.end_offsets(list(partitions))
        except Exception:  # noqa: BLE001 - lag is best effort
            return
        by_topic: dict[str, int] = {}
        for tp in partitions:
            position = consumer.position(tp)
            by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(0, ends.get(tp, position) - position)
        for topic, lag in by_topic.items():
            CONSUMER_LAG.labels(self.group_id, topic).set(lag)


__all__ = ["EventConsumer", "EventMeta", "GroupMembers", "Handler", "TopicPartition"]
