"""Creating a generation: validation, the id its idempotency key decides, the
source a remix, extension or edit starts from, inputs blocked after a takedown,
moderation and cameo consent, the billing reservation, then the row and its
GenerationRequested event in one transaction. (A stitch is made in stitching.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kinora.generator.v1 import events_pb2
from kinora.media import fingerprint as perceptual
from kinora.runtime.db import transaction
from kinora.runtime.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    KinoraError,
    NotFound,
    PermissionDenied,
)
from kinora.runtime.events import EventTables
from kinora.runtime.telemetry import current_trace_id, inject_context
from services.generator import metrics
from services.generator.blobs import BlobStore
from services.generator.common import GenerationView, emit_generation, facts, now, stamp
from services.generator.likeness import LikenessGuard
from services.generator.models import fingerprints, generations
from services.generator.ports import Billing, ConsentChecker, FeedVisibility, PromptModerator, Reservation
from services.generator.reads import Reads
from services.generator.settings import ModelRoute
from services.generator.validation import CreateRequest, ValidSpec, fit_source, request_fingerprint, validate
from services.generator.wakeup import notify_job_queued


def new_watermark_id() -> int:
    """48 random bits for the invisible mark (kinora/media/invisible_mark.py). Random,
    not derived from the id: the mark says nothing about the user to whoever reads it.
    A collision (unlikely below ~10^6 generations) fails the insert on the unique index,
    and the client's retry with the same idempotency key draws again."""
    return secrets.randbits(48)


def generation_id_for(user_id: str, idempotency_key: str) -> str:
    """Derived from the idempotency key, so racing retries name the same job
    (and the same billing reservation) instead of making two."""
    if not idempotency_key:
        return "gen_" + uuid.uuid4().hex
    return "gen_" + hashlib.sha256(f"{user_id}\x00{idempotency_key}".encode()).hexdigest()[:32]


class Creation:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        blobs: BlobStore,
        billing: Billing,
        consent: ConsentChecker | None,
        moderator: PromptModerator | None,
        routes: dict[str, ModelRoute],
        wake_relay: Callable[[], None],
        likeness: LikenessGuard,
        feed: FeedVisibility | None,
        reads: Reads,
    ) -> None:
        self.sessions, self.tables, self.blobs = sessions, tables, blobs
        self.billing, self.consent, self.moderator = billing, consent, moderator
        self.likeness, self.feed, self.routes, self.wake_relay = likeness, feed, routes, wake_relay
        self.reads = reads

    async def create(self, request: CreateRequest) -> tuple[GenerationView, bool]:
        """Returns (generation, replayed)."""
        spec = await asyncio.to_thread(validate, request, self.routes)
        generation_id = generation_id_for(request.user_id, request.idempotency_key)
        fingerprint = request_fingerprint(request)
        if request.idempotency_key:
            existing = await asyncio.to_thread(self.existing, request.user_id, request.idempotency_key, fingerprint)
            if existing is not None:
                return existing, True
        source = await self._source(request.user_id, spec)
        if source is not None:  # an extension's or an edit's length, size and model are its source's
            spec = fit_source(request, spec, source, self.routes)
        input_hashes = await self._refuse_blocked(spec, source)
        cameos = await self.likeness.request_cameos(
            spec.cameo_ids, spec.image, source, [shot.image for shot in spec.shots]
        )
        texts = spec.texts()  # the prompt and a storyboard's every shot: each is moderated and consented to
        if self.moderator is not None:
            for text in texts:
                verdict = await asyncio.to_thread(self.moderator.check, text, bool(cameos.cameo_ids))
                if not verdict.allowed:
                    raise InvalidArgument(
                        f"this prompt can't be made into a video: {verdict.reason} [category: {verdict.category}]",
                        f"moderation_{verdict.category}",
                    )
        if cameos.cameo_ids:
            if self.consent is None:
                raise FailedPrecondition(
                    "cameos can't be used right now: the consent service is not configured", "consent_unavailable"
                )
            for text in texts:
                await self.consent.check(
                    request.user_id, list(cameos.cameo_ids), text, generation_id, unnamed=cameos.from_image
                )
        # Priced by what the model makes: a clip's or a storyboard's seconds, an extension's new
        # part, an edit's source length.
        reservation = await self.billing.reserve(
            generation_id, request.user_id, spec.route.name, spec.billed_seconds, spec.size, request.quote_id
        )
        try:
            view = await asyncio.to_thread(
                self._insert, generation_id, request, spec, fingerprint, reservation, cameos.cameo_ids, input_hashes
            )
        except IntegrityError:
            # A concurrent retry with the same key won the insert; it holds the same reservation.
            existing = await asyncio.to_thread(self.existing, request.user_id, request.idempotency_key, fingerprint)
            if existing is None:
                raise
            return existing, True
        except BaseException:
            await self.billing.release(generation_id, "create_failed")
            raise
        self.wake_relay()
        return view, False

    def existing(self, user_id: str, key: str, fingerprint: str) -> GenerationView | None:
        with self.sessions() as session:
            row = session.execute(
                select(generations).where(generations.c.user_id == user_id, generations.c.idempotency_key == key)
            ).first()
            if row is None:
                return None
            if row.request_hash != fingerprint:
                raise Conflict(
                    "this idempotency key was already used for a different request; use a new key for a new video",
                    "idempotency_key_reused",
                )
            return self.reads.view(session, row)

    async def _source(self, user_id: str, spec: ValidSpec) -> Row[Any] | None:
        """The clip a remix, extension or edit starts from. Someone else's clip is a
        source only if the caller can see it in the feed (remix's rule, for all three);
        otherwise the answer is the one for a missing clip (ids are not an oracle): a
        400 for a remix, as it always was, a 404 for an extension or an edit."""
        source_id = spec.source_id
        if not source_id:
            return None
        row = await asyncio.to_thread(self._generation_row, source_id)
        what = "remix" if spec.remix_of else "extend" if spec.extend_of else "edit"
        code = f"{what}_source_invalid"
        missing: KinoraError = (
            InvalidArgument(f"can't remix {source_id}: no such generation", code)
            if spec.remix_of
            else NotFound(f"can't {what} {source_id}: no such generation", "generation_not_found")
        )
        if row is None or row.deleted_at is not None:
            raise missing
        if row.user_id != user_id and (self.feed is None or not await self.feed.can_view(user_id, source_id)):
            raise missing
        if row.status != "completed" or row.taken_down:
            raise InvalidArgument(
                f"can't {what} {source_id}: only completed videos that are still available can be used", code
            )
        return row

    async def _refuse_blocked(self, spec: ValidSpec, source: Row[Any] | None) -> list[tuple[int, int]]:
        """Frames of clips taken down after a takedown request can't come back as an
        input image (a storyboard's shot images included) or through a remix, extension or
        edit source. Returns the inputs' (position, hash): 0 the input image, n shot n."""
        from services.generator import takedowns  # noqa: PLC0415 - takedowns imports domain, which imports this module

        images = [(0, spec.image)] + [(n, shot.image) for n, shot in enumerate(spec.shots, 1)]
        hashes = [
            (position, await asyncio.to_thread(perceptual.image_hash, image)) for position, image in images if image
        ]

        def check() -> bool:
            with self.sessions() as session:
                return any(takedowns.is_blocked(session, h) for _, h in hashes) or (
                    source is not None and takedowns.blocked_generation(session, source.id)
                )

        if await asyncio.to_thread(check):
            raise PermissionDenied(
                "this image or clip was removed from Kinora after a takedown request and can't be used to make a video",
                "blocked_content",
            )
        return hashes

    def _generation_row(self, generation_id: str) -> Row[Any] | None:
        with self.sessions() as session:
            return session.execute(select(generations).where(generations.c.id == generation_id)).first()

    def _insert(
        self,
        generation_id: str,
        request: CreateRequest,
        spec: ValidSpec,
        fingerprint: str,
        reservation: Reservation,
        cameo_ids: tuple[str, ...],
        input_hashes: Collection[tuple[int, int]] = (),
    ) -> GenerationView:
        image_key = ""
        if spec.image:
            image_key = f"{generation_id}/input"
            self.blobs.put(image_key, spec.image)
        shots = []
        for number, shot in enumerate(spec.shots, 1):
            shot_key = f"{generation_id}/shot{number}" if shot.image else ""
            if shot.image:
                self.blobs.put(shot_key, shot.image)
            shots.append(
                {
                    "prompt": shot.prompt,
                    "seconds": shot.seconds,
                    "camera": shot.camera,
                    "start": shot.start,
                    "image_key": shot_key,
                }
            )
        created = now()
        with transaction(self.sessions) as session:
            fair_rank = session.execute(
                select(func.count())
                .select_from(generations)
                .where(
                    generations.c.user_id == request.user_id,
                    generations.c.status == "queued",
                    generations.c.tier == reservation.tier,
                )
            ).scalar_one()
            session.execute(
                generations.insert().values(
                    id=generation_id,
                    user_id=request.user_id,
                    user_handle=request.user_handle,
                    idempotency_key=request.idempotency_key or None,
                    request_hash=fingerprint,
                    status="queued",
                    progress=0,
                    stage="queued",
                    prompt=spec.prompt,
                    model=spec.route.name,
                    seconds=spec.seconds,
                    width=spec.width,
                    height=spec.height,
                    seed=spec.seed,
                    cameo_ids=json.dumps(list(cameo_ids)),
                    remix_of=spec.remix_of,
                    extend_of=spec.extend_of,
                    edit_of=spec.edit_of,
                    shots=json.dumps(shots),
                    model_seconds=spec.model_seconds,
                    input_image_key=image_key,
                    tier=reservation.tier,
                    fair_rank=fair_rank,
                    reservation_id=reservation.id,
                    billing_state="held",
                    hold_expires_at=reservation.expires_at,
                    watermark_id=new_watermark_id(),
                    trace_context=json.dumps(inject_context({})) if current_trace_id() else None,
                    created_at=created,
                    updated_at=created,
                )
            )
            for position, input_hash in input_hashes:
                # Found again if a clip this image is a frame of is taken down.
                session.execute(
                    fingerprints.insert().values(
                        generation_id=generation_id, kind="input", position=position, hash=input_hash
                    )
                )
            row = session.execute(select(generations).where(generations.c.id == generation_id)).one()
            emit_generation(
                session,
                self.tables,
                generation_id,
                stamp(events_pb2.GenerationRequested(facts=facts(row), prompt=spec.prompt), created),
            )
            notify_job_queued(session)
            view = self.reads.view(session, row)
        metrics.GENERATIONS.labels(spec.route.name, "queued").inc()
        return view
