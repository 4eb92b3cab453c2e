"""Transactional outbox: a state change and its event are written in the same
database transaction (Debezium's table shape). `relay.OutboxRelay` publishes
them to Kafka; consumers de-duplicate by event id (`consumer.EventConsumer`).

Record format on the wire: key = aggregate id, value = the protobuf payload,
headers = event id, type (full protobuf name), source, time and W3C trace
context.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from google.protobuf.message import Message
from sqlalchemy import Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table, Text, func
from sqlalchemy.orm import Session

from kinora.runtime.db import BigId
from kinora.runtime.telemetry import inject_context


@dataclass(frozen=True)
class EventTables:
    outbox: Table
    processed: Table


def define_event_tables(metadata: MetaData) -> EventTables:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("aggregate_type", String(64), nullable=False),
        Column("aggregate_id", String(128), nullable=False),
        Column("event_type", String(160), nullable=False),
        Column("topic", String(160), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),  # JSON object: trace context and extras
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    processed = Table(
        "processed_events", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("topic", String(160), nullable=False),
        Column("status", String(16), nullable=False, server_default="done"),  # done | dead
        Column("attempts", Integer, nullable=False, server_default="1"),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("ix_processed_events_processed_at", "processed_at"),
    )
    return EventTables(outbox, processed)


def event_type_of(message: Message) -> str:
    return message.DESCRIPTOR.full_name


def emit(session: Session, tables: EventTables, topic: str, message: Message,
         aggregate_type: str, aggregate_id: str, event_id: str | None = None) -> str:
    """Add an event to the outbox inside the caller's transaction."""
    event_id = event_id or str(uuid.uuid4())
    headers = inject_context({})
    headers["time_ms"] = str(int(time.time() * 1000))
    session.execute(tables.outbox.insert().values(
        event_id=event_id, aggregate_type=aggregate_type, aggregate_id=str(aggregate_id),
        event_type=event_type_of(message), topic=topic, payload=message.SerializeToString(),
        headers=json.dumps(headers)))
    return event_id
