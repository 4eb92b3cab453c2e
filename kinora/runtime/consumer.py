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
    ):
        self.engine, self.tables, self.group_id = engine, tables, group_id
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
        try:
            while not stop.is_set():
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
            consumer.close(autocommit=False)

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


__all__ = ["EventConsumer", "EventMeta", "Handler", "TopicPartition"]
