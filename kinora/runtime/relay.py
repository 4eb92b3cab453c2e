"""Outbox relay: publish outbox rows to Kafka, keep them for a retention
window, and publish the window again when the broker lost it.

Every replica runs a relay, but only one publishes at a time: a batch is
published inside a transaction that holds an advisory lock
(`pg_try_advisory_xact_lock`), and the others skip their turn while it is
held. Batches therefore go out one after another in outbox order, so events
of one aggregate (one Kafka key) reach their partition in the order they were
written, whichever replica publishes them (the producer keeps one request in
flight, so retries cannot reorder either). A row is marked published only
after the broker acknowledged it, so a crash anywhere re-publishes rather than
loses (consumers de-duplicate by event id).

Published rows stay `retention_s`; `outbox_acks` records, per topic
partition, which broker (cluster id) acknowledged up to which offset. Every
`check_every_s`, and after any failure, the relay compares that with the
broker: a new cluster id, or a partition that ends before an offset it
acknowledged, means acknowledged records are gone (the embedded in-memory
broker restarted; a Kafka cluster lost a leader uncleanly). The retained rows
of those topics are then marked unpublished, and go out again in their
original order."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, Engine

from kinora.runtime.events import EventTables
from kinora.runtime.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SOURCE, ensure_topics, security
from kinora.runtime.metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED, OUTBOX_REPUBLISHED

log = logging.getLogger("kinora.relay")
# One publisher at a time per service database (released when the batch's transaction ends).
_TAKE_TURN = text("SELECT pg_try_advisory_xact_lock(hashtext('kinora.outbox.relay'))")
_PRUNE_BATCH = 10_000


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        tables: EventTables,
        producer: KafkaProducer,
        source: str,
        batch_size: int = 2000,
        idle_wait_s: float = 0.05,
        bootstrap: list[str] | None = None,
        producer_factory: Callable[[], KafkaProducer] | None = None,
        retention_s: float = 3600.0,
        check_every_s: float = 10.0,
    ):
        self.engine, self.tables, self.producer, self.source = engine, tables, producer, source
        self.producer_factory = producer_factory  # a fresh client after a failure, if given
        self.bootstrap = bootstrap  # lets the relay check the broker's log and re-create lost topics
        self.batch_size, self.idle_wait_s = batch_size, idle_wait_s
        self.retention_s, self.check_every_s = retention_s, check_every_s
        self.wake = threading.Event()  # set by writers to cut latency; polling still covers misses
        self._published = OUTBOX_PUBLISHED.labels(source)
        self._republished = OUTBOX_REPUBLISHED.labels(source)
        self._pending = OUTBOX_PENDING.labels(source)
        self._admin: KafkaAdminClient | None = None
        self._checked = self._pruned = 0.0

    # -- publishing ---------------------------------------------------------------

    def publish_batch(self) -> int | None:
        """Publish up to `batch_size` rows; returns how many were published, or
        None when another replica's relay has the turn."""
        outbox = self.tables.outbox
        with self.engine.begin() as conn:
            if not conn.execute(_TAKE_TURN).scalar():
                return None  # another replica is publishing a batch; the next one waits for it
            rows = conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.event_id,
                    outbox.c.aggregate_id,
                    outbox.c.event_type,
                    outbox.c.topic,
                    outbox.c.payload,
                    outbox.c.headers,
                )
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [
                    (HEADER_EVENT_ID, row.event_id.encode()),
                    (HEADER_EVENT_TYPE, row.event_type.encode()),
                    (HEADER_SOURCE, self.source.encode()),
                ]
                headers += [(k, str(v).encode()) for k, v in json.loads(row.headers).items()]
                futures.append(
                    self.producer.send(
                        row.topic, key=row.aggregate_id.encode(), value=bytes(row.payload), headers=headers
                    )
                )
            self.producer.flush(timeout=self.producer.config["delivery_timeout_ms"] / 1000)
            acked: dict[tuple[str, int], int] = {}
            for future in futures:
                meta = future.get(timeout=1)  # raises if the broker refused; the transaction rolls back
                key = (meta.topic, meta.partition)
                acked[key] = max(acked.get(key, -1), meta.offset)
            conn.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows])).values(published_at=func.now()))
            self._record_acks(conn, acked)
        self._published.inc(len(rows))
        return len(rows)

    def _record_acks(self, conn: Connection, acked: dict[tuple[str, int], int]) -> None:
        cluster = self._producer_cluster_id()
        if not cluster:
            return  # a broker that names no cluster: only the offsets check can apply, and it needs one
        acks = self.tables.acks
        stmt = insert(acks).values(
            [
                {"topic": t, "kafka_partition": p, "cluster_id": cluster, "acked_offset": o}
                for (t, p), o in sorted(acked.items())
            ]
        )
        # A mark from another cluster is left as it is: it is the evidence check_log needs (the
        # rows that broker acknowledged are gone). Within a cluster the highest offset stays, so a
        # log cut short and then written past its old end before a check is still noticed.
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[acks.c.topic, acks.c.kafka_partition],
                set_={"acked_offset": func.greatest(acks.c.acked_offset, stmt.excluded.acked_offset)},
                where=acks.c.cluster_id == stmt.excluded.cluster_id,
            )
        )

    def _producer_cluster_id(self) -> str:
        # kafka-python keeps the id from the last metadata response; it has no public getter.
        return getattr(getattr(self.producer, "_metadata", None), "cluster_id", None) or ""

    # -- the broker's log -----------------------------------------------------------

    def check_log(self) -> int:
        """Compare what brokers acknowledged with what the broker holds now; mark the
        retained rows of every topic that lost records as unpublished. Returns how many."""
        if not self.bootstrap:
            return 0
        acks, outbox = self.tables.acks, self.tables.outbox
        with self.engine.begin() as conn:
            if not conn.execute(_TAKE_TURN).scalar():
                return 0
            marks = conn.execute(select(acks)).all()
            if not marks:
                return 0
            admin = self._admin_client()
            cluster = admin.describe_cluster()["cluster_id"]
            lost = {m.topic for m in marks if m.cluster_id != cluster}
            known = [m for m in marks if m.topic not in lost]
            if known:
                ends = self._end_offsets(admin, [TopicPartition(m.topic, m.kafka_partition) for m in known])
                lost |= {
                    m.topic for m in known if ends.get(TopicPartition(m.topic, m.kafka_partition), 0) <= m.acked_offset
                }
            if not lost:
                return 0
            ensure_topics(self.bootstrap, sorted(lost), timeout_s=5)
            again = conn.execute(
                update(outbox)
                .where(outbox.c.published_at.is_not(None), outbox.c.topic.in_(sorted(lost)))
                .values(published_at=None)
            ).rowcount
            conn.execute(delete(acks).where(acks.c.topic.in_(sorted(lost))))
        log.warning(
            "the broker lost acknowledged events of %s (cluster %s); publishing the %d retained again",
            ", ".join(sorted(lost)),
            cluster,
            again,
        )
        self._republished.inc(again)
        self.wake.set()
        return again

    def _admin_client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id=f"{self.source}-relay-check",
                request_timeout_ms=5_000,
                **security(),
            )
        return self._admin

    @staticmethod
    def _end_offsets(admin: KafkaAdminClient, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Each partition's end offset; a partition the broker does not know ends at 0."""
        ends: dict[TopicPartition, int] = {}
        for tp in partitions:  # one at a time: an unknown topic fails only its own lookup
            try:
                ends[tp] = admin.list_partition_offsets({tp: OffsetSpec.LATEST})[tp].offset
            except Exception as exc:  # noqa: BLE001 - decided below by its kind
                if type(exc).__name__ != "UnknownTopicOrPartitionError":
                    raise
                ends[tp] = 0
        return ends

    def prune(self) -> int:
        """Delete published rows older than the retention window, a bounded batch at a time."""
        outbox = self.tables.outbox
        cutoff = func.now() - timedelta(seconds=self.retention_s)
        oldest = (
            select(outbox.c.id)
            .where(outbox.c.published_at < cutoff)
            .order_by(outbox.c.id)
            .limit(_PRUNE_BATCH)
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            return conn.execute(delete(outbox).where(outbox.c.id.in_(oldest))).rowcount

    def pending(self) -> int:
        outbox = self.tables.outbox
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar_one()

    # -- recovery -----------------------------------------------------------------

    def _reconnect(self) -> None:
        """Drop clients that failed: their state may be unusable after a broker restart."""
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # noqa: BLE001 - it is being replaced
                pass
            self._admin = None
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
                topics = list(
                    conn.execute(select(outbox.c.topic).where(outbox.c.published_at.is_(None)).distinct()).scalars()
                )
            if topics:
                ensure_topics(self.bootstrap, topics, timeout_s=5)
        except Exception:  # noqa: BLE001 - the next round tries again
            log.warning("could not check the outbox topics", exc_info=True)

    def _housekeeping(self, now: float) -> None:
        if now - self._checked >= self.check_every_s:
            self._checked = now
            self.check_log()
        if now - self._pruned >= 60.0:
            self._pruned = now
            while self.prune() == _PRUNE_BATCH:
                pass

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._housekeeping(time.monotonic())
                published = self.publish_batch()
            except Exception:  # noqa: BLE001 - broker or database hiccup: retry after a pause
                log.exception("outbox relay failed; retrying")
                self._reconnect()
                self._recreate_topics()
                self._checked = 0.0  # a failure may be a broker that lost its log: check first
                stop.wait(1.0)
                continue
            if published is None or published < self.batch_size:
                if published is not None:
                    self._pending.set(0 if published == 0 else self.pending())
                self.wake.wait(self.idle_wait_s)
                self.wake.clear()
        self.producer.flush(timeout=5)
        self.producer.close(timeout=5)
        if self._admin is not None:
            self._admin.close()
