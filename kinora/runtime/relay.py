"""Outbox relay: publish outbox rows to Kafka, then delete them.

Every replica runs a relay, but on PostgreSQL only one publishes at a time:
a batch is published inside a transaction that holds an advisory lock
(`pg_try_advisory_xact_lock`), and the others skip their turn while it is
held. Batches therefore go out one after another in outbox order, so events
of one aggregate (one Kafka key) reach their partition in the order they were
written, whichever replica publishes them (the producer keeps one request in
flight, so retries cannot reorder either). Rows are also claimed FOR UPDATE
SKIP LOCKED. A row is deleted only after the broker acknowledged it, so a
crash anywhere re-publishes rather than loses (consumers de-duplicate by
event id)."""

from __future__ import annotations

import json
import logging
import threading

from kafka import KafkaProducer
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine

from kinora.runtime.events import EventTables
from kinora.runtime.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SOURCE, ensure_topics
from kinora.runtime.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED

log = logging.getLogger("kinora.relay")
# One publisher at a time per service database (released when the batch's transaction ends).
_TAKE_TURN = text("SELECT pg_try_advisory_xact_lock(hashtext('kinora.outbox.relay'))")


class OutboxRelay:
    def __init__(self, engine: Engine, tables: EventTables, producer: KafkaProducer, source: str,
                 batch_size: int = 2000, idle_wait_s: float = 0.05, bootstrap: list[str] | None = None,
                 producer_factory=None):
        self.engine, self.tables, self.producer, self.source = engine, tables, producer, source
        self.producer_factory = producer_factory  # a fresh client after a failure, if given
        self.bootstrap = bootstrap  # lets the relay re-create topics a restarted broker lost
        self.batch_size, self.idle_wait_s = batch_size, idle_wait_s
        self.wake = threading.Event()  # set by writers to cut latency; polling still covers misses
        self._published = OUTBOX_PUBLISHED.labels(source)
        self._pending = OUTBOX_PENDING.labels(source)

    def publish_batch(self) -> int | None:
        """Publish up to `batch_size` rows; returns how many were published, or
        None when another replica's relay has the turn."""
        outbox = self.tables.outbox
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql" and not conn.execute(_TAKE_TURN).scalar():
                return None  # another replica is publishing a batch; the next one waits for it
            rows = conn.execute(
                select(outbox.c.id, outbox.c.event_id, outbox.c.aggregate_id, outbox.c.event_type,
                       outbox.c.topic, outbox.c.payload, outbox.c.headers)
                .order_by(outbox.c.id).limit(self.batch_size).with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [(HEADER_EVENT_ID, row.event_id.encode()), (HEADER_EVENT_TYPE, row.event_type.encode()),
                           (HEADER_SOURCE, self.source.encode())]
                headers += [(k, str(v).encode()) for k, v in json.loads(row.headers).items()]
                futures.append(self.producer.send(row.topic, key=row.aggregate_id.encode(),
                                                  value=bytes(row.payload), headers=headers))
            self.producer.flush(timeout=self.producer.config["delivery_timeout_ms"] / 1000)
            for future in futures:
                future.get(timeout=1)  # raises if the broker refused; the transaction rolls back
            conn.execute(delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
        self._published.inc(len(rows))
        return len(rows)

    def _reconnect(self) -> None:
        """Drop a producer that failed: its state may be unusable after a broker restart."""
        if self.producer_factory is None:
            return
        try:
            self.producer.close(timeout=0)
        except Exception:  # noqa: BLE001 - it is being replaced
            pass
        try:
            self.producer = self.producer_factory()
        except Exception:  # noqa: BLE001 - broker still down: keep trying
            log.warning("could not reconnect to Kafka yet", exc_info=True)

    def _recreate_topics(self) -> None:
        """A broker that lost its state (e.g. the embedded in-memory one after a
        restart) no longer has our topics; sends to them would time out forever."""
        if not self.bootstrap:
            return
        outbox = self.tables.outbox
        try:
            with self.engine.connect() as conn:
                topics = list(conn.execute(select(outbox.c.topic).distinct()).scalars())
            if topics:
                ensure_topics(self.bootstrap, topics, timeout_s=5)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.warning("could not check the outbox topics", exc_info=True)

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.tables.outbox)).scalar_one()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                published = self.publish_batch()
            except Exception:  # noqa: BLE001 - broker or database hiccup: retry after a pause
                log.exception("outbox relay failed; retrying")
                self._reconnect()
                self._recreate_topics()
                stop.wait(1.0)
                continue
            if published is None or published < self.batch_size:
                if published is not None:
                    self._pending.set(0 if published == 0 else self.pending())
                self.wake.wait(self.idle_wait_s)
                self.wake.clear()
        self.producer.flush(timeout=5)
        self.producer.close(timeout=5)
