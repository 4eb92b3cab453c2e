"""Generation jobs: creating, reading, cancelling, deleting and taking down.

Plain classes over SQLAlchemy; no gRPC or Kafka here. Other services are
reached through two small interfaces, `ConsentChecker` and `Billing`, whose
gRPC implementations live in `services/generator/remote.py`.

Billing is exact across crashes: a terminal transition sets `billing_state` to
`capture_pending` or `release_pending` in the same transaction, then the
call to billing is made and the state settled. Anything left pending (a crash
between the two) is retried by `settle_pending`; billing is idempotent per
generation, so a retry never charges twice.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kinora.generator.v1 import events_pb2
from kinora.media import fingerprint as perceptual
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    KinoraError,
    NotFound,
    PermissionDenied,
)
from kinora.runtime.events import EventTables, emit
from kinora.runtime.paging import page_size as page_size_rule
from kinora.runtime.telemetry import current_trace_id, inject_context
from services.generator import metrics
from services.generator.blobs import BlobStore
from services.generator.likeness import LikenessGuard
from services.generator.models import fingerprints, generations
from services.generator.settings import ModelRoute
from services.generator.topics import DEMAND_TOPIC, GENERATIONS_TOPIC  # noqa: F401 - DEMAND_TOPIC: the chart test reads it here
from services.generator.validation import (
    CreateRequest,
    ValidSpec,
    fit_source,
    kind_of,
    request_fingerprint,
    validate,
)
from services.generator.wakeup import notify_job_queued

if TYPE_CHECKING:
    from kinora.moderation.prompts import ModerationResult


class _Event(Protocol):
    @property
    def occurred_at(self) -> Timestamp: ...


M = TypeVar("M", bound=_Event)


def new_watermark_id() -> int:
    """48 random bits for the invisible mark (kinora/media/invisible_mark.py). Random,
    not derived from the id: the mark says nothing about the user to whoever reads it.
    A collision (unlikely below ~10^6 generations) fails the insert on the unique index,
    and the client's retry with the same idempotency key draws again."""
    return secrets.randbits(48)


log = logging.getLogger("kinora.generator")

DEFAULT_PAGE, MAX_PAGE = 20, 100  # ListGenerations
TERMINAL = ("completed", "failed", "canceled")
ACTIVE = ("queued", "in_progress")


def now() -> datetime:
    return datetime.now(UTC)


# -- interfaces to other services ---------------------------------------------


@dataclass(frozen=True)
class Reservation:
    id: str
    tier: int  # kinora.common.v1.Tier
    expires_at: datetime | None = None  # None: the hold never lapses


class Billing(Protocol):
    """Reserve before queueing, capture on completion, release otherwise.
    Every call is idempotent by generation id. Refusals raise KinoraError."""

    async def reserve(
        self, generation_id: str, user_id: str, model: str, seconds: int, size: str, quote_id: str = ""
    ) -> Reservation: ...
    async def extend(self, generation_id: str) -> datetime | None:
        """Renew a held reservation; returns its new expiry (None: never).
        Raises FailedPrecondition or NotFound when the hold is gone: billing
        never revives it."""
        ...

    async def capture(self, generation_id: str) -> None: ...
    async def release(self, generation_id: str, reason: str) -> None: ...


class ConsentChecker(Protocol):
    """Fully consistent cameo consent. Raises PermissionDenied (code
    "consent_denied") naming the cameo and the reason when any use is refused;
    for cameos in `unnamed` (found by face in an input, not named by the
    caller) the reason names the policy, never the person
    ("likeness_consent_denied")."""

    async def check(
        self,
        requester_user_id: str,
        cameo_ids: list[str],
        prompt: str,
        generation_id: str,
        unnamed: frozenset[str] = frozenset(),
    ) -> None: ...
    async def describe(self, cameo_ids: list[str]) -> list[Any]:
        """The cameos as the model sees them (kinora.models.contract.Cameo:
        name, face crops, voice profile)."""
        ...


class FeedVisibility(Protocol):
    async def can_view(self, user_id: str, generation_id: str) -> bool:
        """Whether the person may see this clip in the feed."""
        ...


class PromptModerator(Protocol):
    def check(self, prompt: str, has_cameo: bool = False, cameo_names: Collection[str] = ()) -> ModerationResult: ...


# -- generations ----------------------------------------------------------------


def generation_id_for(user_id: str, idempotency_key: str) -> str:
    """Derived from the idempotency key, so racing retries name the same job
    (and the same billing reservation) instead of making two."""
    if not idempotency_key:
        return "gen_" + uuid.uuid4().hex
    return "gen_" + hashlib.sha256(f"{user_id}\x00{idempotency_key}".encode()).hexdigest()[:32]


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


def queue_position(session: Session, row: Row[Any]) -> int:
    """Jobs ahead of this one in the same model's queue (pro > paid > free, then fair order)."""
    g = generations.c
    ahead = or_(
        g.tier > row.tier,
        and_(
            g.tier == row.tier,
            or_(g.fair_rank < row.fair_rank, and_(g.fair_rank == row.fair_rank, g.created_at < row.created_at)),
        ),
    )
    ahead_count: int = session.execute(
        select(func.count()).select_from(generations).where(g.status == "queued", g.model == row.model, ahead)
    ).scalar_one()
    return ahead_count


@dataclass
class GenerationView:
    """A generation row plus what is computed on read."""

    row: object
    queue_position: int = 0
    media: list[dict[str, Any]] = field(default_factory=list)


class Generations:
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

    # -- create -------------------------------------------------------------------

    async def create(self, request: CreateRequest) -> tuple[GenerationView, bool]:
        """Returns (generation, replayed)."""
        if request.stitch_of:
            from services.generator.stitching import create_stitch  # noqa: PLC0415 - it builds on this module

            return await create_stitch(self, request, generation_id_for(request.user_id, request.idempotency_key))
        spec = await asyncio.to_thread(validate, request, self.routes)
        generation_id = generation_id_for(request.user_id, request.idempotency_key)
        fingerprint = request_fingerprint(request)
        if request.idempotency_key:
            existing = await asyncio.to_thread(self._existing, request.user_id, request.idempotency_key, fingerprint)
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
            existing = await asyncio.to_thread(self._existing, request.user_id, request.idempotency_key, fingerprint)
            if existing is None:
                raise
            return existing, True
        except BaseException:
            await self.billing.release(generation_id, "create_failed")
            raise
        self.wake_relay()
        return view, False

    def _existing(self, user_id: str, key: str, fingerprint: str) -> GenerationView | None:
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
            return self._view(session, row)

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
        from services.generator import takedowns  # noqa: PLC0415 - takedowns imports this module

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
            view = self._view(session, row)
        metrics.GENERATIONS.labels(spec.route.name, "queued").inc()
        return view

    # -- read -----------------------------------------------------------------------

    def _view(self, session: Session, row: Row[Any]) -> GenerationView:
        position = queue_position(session, row) if row.status == "queued" else 0
        return GenerationView(row, position, json.loads(row.media))

    def _owned(self, session: Session, generation_id: str, user_id: str | None, for_update: bool = False) -> Row[Any]:
        query = select(generations).where(generations.c.id == generation_id)
        if for_update:
            query = query.with_for_update()
        row = session.execute(query).first()
        if row is None or row.deleted_at is not None or (user_id is not None and row.user_id != user_id):
            # The same answer for "not yours" and "not there": ids are not an oracle.
            raise NotFound(f"generation {generation_id} not found", "generation_not_found")
        return row

    def find_by_watermark(self, watermark_id: int) -> Row[Any] | None:
        """The row whose invisible mark carries `watermark_id`, deleted ones included
        (they were still made here), or None."""
        with self.sessions() as session:
            return session.execute(select(generations).where(generations.c.watermark_id == watermark_id)).first()

    def get(self, generation_id: str, user_id: str | None) -> GenerationView:
        with self.sessions() as session:
            return self._view(session, self._owned(session, generation_id, user_id))

    def list(
        self, user_id: str, page_size: int, after_id: str = "", ascending: bool = False, status: str | None = None
    ) -> tuple[list[GenerationView], bool]:
        page_size = page_size_rule(page_size, DEFAULT_PAGE, MAX_PAGE)
        g = generations.c
        with self.sessions() as session:
            query = select(generations).where(g.user_id == user_id, g.deleted_at.is_(None))
            if status:
                query = query.where(g.status == status)
            if after_id:
                anchor = session.execute(
                    select(g.created_at, g.id).where(g.id == after_id, g.user_id == user_id)
                ).first()
                if anchor is None:
                    raise InvalidArgument("the page cursor does not name one of your generations", "invalid_cursor")
                if ascending:
                    query = query.where(
                        or_(g.created_at > anchor.created_at, and_(g.created_at == anchor.created_at, g.id > anchor.id))
                    )
                else:
                    query = query.where(
                        or_(g.created_at < anchor.created_at, and_(g.created_at == anchor.created_at, g.id < anchor.id))
                    )
            order = (g.created_at.asc(), g.id.asc()) if ascending else (g.created_at.desc(), g.id.desc())
            rows = session.execute(query.order_by(*order).limit(page_size + 1)).all()
            has_more = len(rows) > page_size
            return [self._view(session, r) for r in rows[:page_size]], has_more

    # -- cancel / delete / takedown -----------------------------------------------

    async def cancel(
        self, generation_id: str, user_id: str | None, canceled_by: str, reason: str = ""
    ) -> GenerationView:
        view = await asyncio.to_thread(self._cancel, generation_id, user_id, canceled_by, reason)
        await settle(self.sessions, self.billing, generation_id)
        self.wake_relay()
        return view

    def _cancel(self, generation_id: str, user_id: str | None, canceled_by: str, reason: str) -> GenerationView:
        with transaction(self.sessions) as session:
            row = self._owned(session, generation_id, user_id, for_update=True)
            if row.status in TERMINAL:
                if row.status == "canceled":
                    return self._view(session, row)
                raise FailedPrecondition(f"generation {generation_id} is already {row.status}", "generation_finished")
            cancel_row(session, self.tables, row, canceled_by, reason)
            return self._view(
                session, session.execute(select(generations).where(generations.c.id == generation_id)).one()
            )

    async def delete(self, generation_id: str, user_id: str) -> None:
        keys = await asyncio.to_thread(self._delete, generation_id, user_id)
        await settle(self.sessions, self.billing, generation_id)
        for key in keys:
            await asyncio.to_thread(self.blobs.delete, key)
        self.wake_relay()

    def _delete(self, generation_id: str, user_id: str) -> builtins.list[str]:  # `list` is a method here
        with transaction(self.sessions) as session:
            row = self._owned(session, generation_id, user_id, for_update=True)
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


async def settle(sessions: sessionmaker[Session], billing: Billing, generation_id: str) -> None:
    """Carry out a pending capture or release, then record it."""
    with sessions() as session:
        row = session.execute(
            select(generations.c.billing_state, generations.c.status, generations.c.reservation_id).where(
                generations.c.id == generation_id
            )
        ).first()
    if row is None or row.billing_state not in ("capture_pending", "release_pending"):
        return
    final = "captured" if row.billing_state == "capture_pending" else "released"
    try:
        if not row.reservation_id:  # a stitch: free, nothing was reserved
            final = "free"
        elif final == "captured":
            await billing.capture(generation_id)
        else:
            await billing.release(generation_id, row.status)
    except FailedPrecondition as exc:
        # Billing settled the hold another way: retrying can't change that, so record
        # it for an operator instead of looping forever. (Holds of waiting jobs are
        # renewed, and a job whose hold lapsed fails uncharged: see holds.py.)
        log.error("billing refused to settle %s as %s: %s", generation_id, final, exc.message)
        final = "settle_conflict"
    with transaction(sessions) as session:
        session.execute(
            update(generations)
            .where(generations.c.id == generation_id, generations.c.billing_state == row.billing_state)
            .values(billing_state=final)
        )


async def settle_pending(sessions: sessionmaker[Session], billing: Billing, limit: int = 100) -> int:
    """Retry settlements a crash left behind; returns how many were settled."""
    with sessions() as session:
        ids = (
            session.execute(
                select(generations.c.id)
                .where(generations.c.billing_state.in_(("capture_pending", "release_pending")))
                .limit(limit)
            )
            .scalars()
            .all()
        )
    done = 0
    for generation_id in ids:
        try:
            await settle(sessions, billing, generation_id)
            done += 1
        except Exception:  # noqa: BLE001 - billing may be briefly down; retried next round
            log.warning("settlement for %s failed; will retry", generation_id, exc_info=True)
    return done


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
