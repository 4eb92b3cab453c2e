"""How a generation ends other than by the worker: cancelled by its owner or an
operator, deleted, taken down, or its media expired. Each terminal transition
schedules the reservation's settlement (settlement.py) in the same transaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session, sessionmaker

from kinora.generator.v1 import events_pb2
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition
from kinora.runtime.events import EventTables
from services.generator import metrics
from services.generator.blobs import BlobStore
from services.generator.common import ACTIVE, TERMINAL, GenerationView, emit_generation, facts, now, stamp
from services.generator.models import generations
from services.generator.ports import Billing
from services.generator.reads import Reads
from services.generator.settlement import settle


class Endings:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        blobs: BlobStore,
        billing: Billing,
        wake_relay: Callable[[], None],
        reads: Reads,
    ) -> None:
        self.sessions, self.tables, self.blobs, self.billing = sessions, tables, blobs, billing
        self.wake_relay = wake_relay
        self.reads = reads

    async def cancel(
        self, generation_id: str, user_id: str | None, canceled_by: str, reason: str = ""
    ) -> GenerationView:
        view = await asyncio.to_thread(self._cancel, generation_id, user_id, canceled_by, reason)
        await settle(self.sessions, self.billing, generation_id)
        self.wake_relay()
        return view

    def _cancel(self, generation_id: str, user_id: str | None, canceled_by: str, reason: str) -> GenerationView:
        with transaction(self.sessions) as session:
            row = self.reads.owned(session, generation_id, user_id, for_update=True)
            if row.status in TERMINAL:
                if row.status == "canceled":
                    return self.reads.view(session, row)
                raise FailedPrecondition(f"generation {generation_id} is already {row.status}", "generation_finished")
            cancel_row(session, self.tables, row, canceled_by, reason)
            return self.reads.view(
                session, session.execute(select(generations).where(generations.c.id == generation_id)).one()
            )

    async def delete(self, generation_id: str, user_id: str) -> None:
        keys = await asyncio.to_thread(self._delete, generation_id, user_id)
        await settle(self.sessions, self.billing, generation_id)
        for key in keys:
            await asyncio.to_thread(self.blobs.delete, key)
        self.wake_relay()

    def _delete(self, generation_id: str, user_id: str) -> list[str]:
        with transaction(self.sessions) as session:
            row = self.reads.owned(session, generation_id, user_id, for_update=True)
            if row.status in ACTIVE:
                cancel_row(session, self.tables, row, "owner", "deleted")
            stamp_at = now()
            session.execute(
                update(generations)
                .where(generations.c.id == generation_id)
                .values(deleted_at=stamp_at, updated_at=stamp_at, media="[]")
            )
            emit_generation(
                session, self.tables, generation_id, stamp(events_pb2.GenerationDeleted(facts=facts(row)), stamp_at)
            )
            return blob_keys(row)


def blob_keys(row: Row[Any]) -> list[str]:
    keys = [m["key"] for m in json.loads(row.media)]
    if row.input_image_key:
        keys.append(row.input_image_key)
    keys += [shot["image_key"] for shot in json.loads(row.shots) if shot.get("image_key")]
    return keys


def cancel_row(session: Session, tables: EventTables, row: Row[Any], canceled_by: str, reason: str) -> None:
    """Mark an active job canceled (a running worker sees it on its next
    heartbeat and stops the model) and schedule the reservation's release."""
    stamp_at = now()
    session.execute(
        update(generations)
        .where(generations.c.id == row.id)
        .values(
            status="canceled",
            stage="canceled",
            canceled_by=canceled_by,
            billing_state="release_pending",
            error_code="canceled" if reason else "",
            error_message=reason,
            lease_owner="",
            lease_expires_at=None,
            completed_at=stamp_at,
            updated_at=stamp_at,
        )
    )
    emit_generation(
        session,
        tables,
        row.id,
        stamp(events_pb2.GenerationCanceled(facts=facts(row), canceled_by=canceled_by), stamp_at),
    )
    metrics.GENERATIONS.labels(row.model, "canceled").inc()


def take_down(
    session: Session,
    tables: EventTables,
    blobs: BlobStore,
    generation_id: str,
    takedown_id: str,
    reason: str = "a cameo in this video was withdrawn",
) -> bool:
    """Delete a generation's media after a cameo takedown or an approved takedown
    request (services/generator/takedowns.py); idempotent."""
    row = session.execute(select(generations).where(generations.c.id == generation_id).with_for_update()).first()
    if row is None or row.taken_down:
        return False
    if row.status in ACTIVE:
        cancel_row(session, tables, row, "system", reason)
    for key in blob_keys(row):
        blobs.delete(key)
    stamp_at = now()
    session.execute(
        update(generations)
        .where(generations.c.id == generation_id)
        .values(taken_down=True, media="[]", updated_at=stamp_at)
    )
    emit_generation(
        session,
        tables,
        generation_id,
        stamp(events_pb2.GenerationTakenDown(facts=facts(row), takedown_id=takedown_id), stamp_at),
    )
    return True


def expire_media(sessions: sessionmaker[Session], tables: EventTables, blobs: BlobStore, limit: int = 100) -> int:
    """Delete media past its expiry (KINORA_MEDIA_TTL_DAYS); the generation stays."""
    g = generations.c
    with transaction(sessions) as session:
        rows = session.execute(
            select(generations)
            .where(g.expires_at < now(), g.media != "[]")
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            session.execute(update(generations).where(g.id == row.id).values(media="[]", updated_at=now()))
    for row in rows:  # after commit: a crash leaves orphan files, never rows pointing at nothing
        for key in blob_keys(row):
            blobs.delete(key)
    return len(rows)
