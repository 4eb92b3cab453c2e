"""Generation jobs: creating, reading, cancelling, deleting and taking down.

`Generations` is the public front the server calls; each rule lives in its room
(docs/generator.md, "Where each concept lives"):

- ports.py: the interfaces to other services (`Billing`, `ConsentChecker`,
  `FeedVisibility`, `PromptModerator`) and `Reservation`;
- common.py: the clock, the status groups, `GenerationView`, event facts and
  the outbox write every room uses;
- creation.py: validation, the id the idempotency key decides, sources,
  blocked inputs, moderation, consent, the reservation and the insert;
- reads.py: one generation, a user's pages, the one a watermark names;
- endings.py: cancel, delete, take down, media expiry;
- settlement.py: the crash-safe capture or release that follows each ending.

Plain classes over SQLAlchemy; no gRPC or Kafka here. Other services are
reached through the interfaces in ports.py, whose gRPC implementations live in
`services/generator/remote.py`.

Billing is exact across crashes: a terminal transition sets `billing_state` to
`capture_pending` or `release_pending` in the same transaction, then the
call to billing is made and the state settled. Anything left pending (a crash
between the two) is retried by `settle_pending`; billing is idempotent per
generation, so a retry never charges twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime.events import EventTables
from services.generator.blobs import BlobStore
from services.generator.common import (
    ACTIVE,
    TERMINAL,
    GenerationView,
    emit_generation,
    facts,
    kind,
    now,
    stamp,
)
from services.generator.creation import Creation, generation_id_for, new_watermark_id
from services.generator.endings import Endings, blob_keys, cancel_row, expire_media, take_down
from services.generator.likeness import LikenessGuard
from services.generator.ports import Billing, ConsentChecker, FeedVisibility, PromptModerator, Reservation
from services.generator.reads import DEFAULT_PAGE, MAX_PAGE, Reads, queue_position
from services.generator.settings import ModelRoute
from services.generator.settlement import settle, settle_pending
from services.generator.validation import CreateRequest

# Names other modules and tests import from here.
__all__ = [
    "ACTIVE",
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "TERMINAL",
    "Billing",
    "ConsentChecker",
    "FeedVisibility",
    "GenerationView",
    "Generations",
    "PromptModerator",
    "Reservation",
    "blob_keys",
    "cancel_row",
    "emit_generation",
    "expire_media",
    "facts",
    "generation_id_for",
    "kind",
    "new_watermark_id",
    "now",
    "queue_position",
    "settle",
    "settle_pending",
    "stamp",
    "take_down",
]


class Generations:
    """The rooms, built over the same database, outbox, blob store and services. Each
    method hands over to the room that owns it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        blobs: BlobStore,
        billing: Billing,
        consent: ConsentChecker | None,
        moderator: PromptModerator | None,
        routes: dict[str, ModelRoute],
        wake_relay: Callable[[], None] = lambda: None,
        likeness: LikenessGuard | None = None,
        feed: FeedVisibility | None = None,
    ) -> None:
        self.sessions, self.tables, self.blobs = sessions, tables, blobs
        self.billing, self.consent, self.moderator = billing, consent, moderator
        # Without a face directory every face in an input counts as unknown: refused unless allowed.
        self.likeness = likeness or LikenessGuard(None)
        self.feed = feed
        self.routes = routes
        self.wake_relay = wake_relay
        self.reads = Reads(sessions)
        self.creation = Creation(
            sessions, tables, blobs, billing, consent, moderator, routes, wake_relay, self.likeness, feed, self.reads
        )
        self.endings = Endings(sessions, tables, blobs, billing, wake_relay, self.reads)

    # -- create (creation.py; a stitch: stitching.py) ------------------------------

    async def create(self, request: CreateRequest) -> tuple[GenerationView, bool]:
        """Returns (generation, replayed)."""
        if request.stitch_of:
            from services.generator.stitching import create_stitch  # noqa: PLC0415 - it builds on this module

            return await create_stitch(self, request, generation_id_for(request.user_id, request.idempotency_key))
        return await self.creation.create(request)

    def _existing(self, user_id: str, key: str, fingerprint: str) -> GenerationView | None:
        return self.creation.existing(user_id, key, fingerprint)

    # -- read (reads.py) -------------------------------------------------------------

    def _view(self, session: Session, row: Row[Any]) -> GenerationView:
        return self.reads.view(session, row)

    def find_by_watermark(self, watermark_id: int) -> Row[Any] | None:
        return self.reads.find_by_watermark(watermark_id)

    def get(self, generation_id: str, user_id: str | None) -> GenerationView:
        return self.reads.get(generation_id, user_id)

    def list(
        self, user_id: str, page_size: int, after_id: str = "", ascending: bool = False, status: str | None = None
    ) -> tuple[list[GenerationView], bool]:
        return self.reads.list(user_id, page_size, after_id, ascending, status)

    # -- cancel / delete (endings.py) -----------------------------------------------

    async def cancel(
        self, generation_id: str, user_id: str | None, canceled_by: str, reason: str = ""
    ) -> GenerationView:
        return await self.endings.cancel(generation_id, user_id, canceled_by, reason)

    async def delete(self, generation_id: str, user_id: str) -> None:
        await self.endings.delete(generation_id, user_id)
