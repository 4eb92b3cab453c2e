"""What every generations room shares: the clock, the status groups, the view
of a generation, and the event facts and outbox write of a generation's events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row
from sqlalchemy.orm import Session

from kinora.generator.v1 import events_pb2
from kinora.runtime.convert import set_timestamp
from kinora.runtime.events import EventTables, emit
from services.generator.topics import GENERATIONS_TOPIC
from services.generator.validation import kind_of


class _Event(Protocol):
    @property
    def occurred_at(self) -> Timestamp: ...


M = TypeVar("M", bound=_Event)

TERMINAL = ("completed", "failed", "canceled")
ACTIVE = ("queued", "in_progress")


def now() -> datetime:
    return datetime.now(UTC)


def kind(row: Row[Any]) -> str:
    """Generation.kind of a row: clip | remix | storyboard | extension | edit | stitch."""
    return kind_of(row.remix_of, row.extend_of, row.edit_of, row.shots != "[]", row.stitch_of != "[]")


def facts(row: Row[Any]) -> events_pb2.GenerationFacts:
    return events_pb2.GenerationFacts(
        generation_id=row.id,
        user_id=row.user_id,
        tier=row.tier,
        model=row.model,
        seconds=row.seconds,
        size=f"{row.width}x{row.height}",
        cameo_ids=json.loads(row.cameo_ids),
        reservation_id=row.reservation_id,
        remix_of=row.remix_of,
        extend_of=row.extend_of,
        edit_of=row.edit_of,
        kind=kind(row),
    )


def stamp(message: M, when: datetime | None = None) -> M:
    set_timestamp(message.occurred_at, when or now())
    return message


def emit_generation(session: Session, tables: EventTables, generation_id: str, message: Message) -> None:
    emit(session, tables, GENERATIONS_TOPIC, message, "generation", generation_id)


@dataclass
class GenerationView:
    """A generation row plus what is computed on read."""

    row: object
    queue_position: int = 0
    media: list[dict[str, Any]] = field(default_factory=list)
