"""Transactional outbox: a state change and its event are written in the same
database transaction (Debezium's table shape). `relay.OutboxRelay` publishes
them to Kafka; consumers de-duplicate by event id (`consumer.EventConsumer`).

Record format on the wire: key = aggregate id, value = the protobuf payload,
headers = event id, type (full protobuf name), source, time and W3C trace
context.

The outbox is also the durable log of what was sent: a published row keeps
its `published_at` for a retention window, and `outbox_acks` remembers, per
topic partition, the broker (cluster id) and the highest offset it
acknowledged. A broker that lost acknowledged records (the embedded broker
after a restart, or Kafka after an unclean leader election) is noticed from
those, and the window is published again (`relay.OutboxRelay`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.message import Message
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Session

from kinora.runtime.db import BigId
from kinora.runtime.telemetry import inject_context

if TYPE_CHECKING:
    from alembic.operations import Operations


@dataclass(frozen=True)
class EventTables:
    outbox: Table
    processed: Table
    acks: Table


def define_event_tables(metadata: MetaData) -> EventTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("aggregate_type", String(64), nullable=False),
        Column("aggregate_id", String(128), nullable=False),
        Column("event_type", String(160), nullable=False),
        Column("topic", String(160), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),  # JSON object: trace context and extras
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),  # NULL: not acknowledged yet
        # The relay's scan: only rows still to publish (a retained row is never read again
        # unless the broker lost it).
        Index("ix_outbox_pending", "id", postgresql_where=text("published_at IS NULL")),
    )
    processed = Table(
        "processed_events",
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("topic", String(160), nullable=False),
        Column("status", String(16), nullable=False, server_default="done"),  # done | dead
        Column("attempts", Integer, nullable=False, server_default="1"),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_processed_events_processed_at", "processed_at"),
    )
    acks = Table(
        "outbox_acks",
        metadata,
        Column("topic", String(160), primary_key=True),
        Column("kafka_partition", Integer, primary_key=True),
        Column("cluster_id", String(128), nullable=False),
        Column("acked_offset", BigInteger, nullable=False),  # highest offset the broker acknowledged
    )
    return EventTables(outbox, processed, acks)


def migrate_outbox_retention(op: Operations) -> None:
    """Migration step shared by every service (each one's migration calls it; never edit,
    add a new step instead): published rows are kept, with what the broker acknowledged."""
    import sqlalchemy as sa

    op.add_column("outbox", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_pending", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "outbox_acks",
        sa.Column("topic", sa.String(length=160), nullable=False),
        sa.Column("kafka_partition", sa.Integer(), nullable=False),
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("acked_offset", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", "kafka_partition"),
    )


def unmigrate_outbox_retention(op: Operations) -> None:
    op.drop_table("outbox_acks")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_column("outbox", "published_at")


def event_type_of(message: Message) -> str:
    return message.DESCRIPTOR.full_name


def emit(
    session: Session,
    tables: EventTables,
    topic: str,
    message: Message,
    aggregate_type: str,
    aggregate_id: str,
    event_id: str | None = None,
) -> str:
    """Add an event to the outbox inside the caller's transaction."""
    event_id = event_id or str(uuid.uuid4())
    headers = inject_context({})
    headers["time_ms"] = str(int(time.time() * 1000))
    session.execute(
        tables.outbox.insert().values(
            event_id=event_id,
            aggregate_type=aggregate_type,
            aggregate_id=str(aggregate_id),
            event_type=event_type_of(message),
            topic=topic,
            payload=message.SerializeToString(),
            headers=json.dumps(headers),
        )
    )
    return event_id
