"""Stitches: one clip made of 2 to 10 of the caller's own completed clips, in
order, with an optional crossfade at each join (kinora/media/stitch.py).

A stitch is a generation like any other (same row, queue, events, media and
provenance), with `stitch_of` naming its sources. It is made by a worker of
the first source's model pool (services/generator/stitch_job.py), not in the
API call: ten 25 s 720x1280 sources are minutes of decoding and encoding.

Rules, checked here before anything is written:
- each source is the caller's own, completed, not deleted, not taken down,
  its video still stored (another person's clip reads as missing: ids are
  not an oracle); all share one size;
- its cameos are the union of the sources', and each cameo's owner must still
  allow the caller to use it: consent is checked per source, with the prompt
  that source was made from (so each check names at most two cameos, as a
  generation does), and again by the worker before it starts;
- free: no model runs and nothing new is imagined, so no reservation is made
  (reservation_id is empty and settling records "free").
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import events_pb2
from kinora.generator.v1 import generator_pb2 as pb
from kinora.media.stitch import MAX_CROSSFADE_S, MAX_SOURCES
from kinora.models.contract import MAX_PROMPT_CHARS
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from kinora.runtime.telemetry import current_trace_id, inject_context
from services.generator import metrics
from services.generator.domain import Generations, GenerationView, emit_generation, facts, new_watermark_id, now, stamp
from services.generator.models import generations
from services.generator.validation import MAX_IDEMPOTENCY_KEY, CreateRequest, request_fingerprint
from services.generator.wakeup import notify_job_queued

FREE = "free"  # billing_state of a job that holds no reservation
SOURCE_CODE = "stitch_source_invalid"


@dataclass(frozen=True)
class StitchSpec:
    sources: tuple[str, ...]
    crossfade_seconds: float
    title: str


def validate_stitch(request: CreateRequest) -> StitchSpec:
    ids = [s.strip() for s in request.stitch_of]
    if not 2 <= len(ids) <= MAX_SOURCES:
        raise InvalidArgument(f"a stitch joins 2 to {MAX_SOURCES} of your clips; got {len(ids)}", "stitch_source_count")
    if any(not s for s in ids):
        raise InvalidArgument("stitch_of holds an empty generation id", SOURCE_CODE)
    fade = float(request.crossfade_seconds)
    if not math.isfinite(fade) or not 0.0 <= fade <= MAX_CROSSFADE_S:
        raise InvalidArgument(f"crossfade_seconds must be 0 to {MAX_CROSSFADE_S:g}", "invalid_crossfade")
    extra = [
        name
        for name, value in (
            ("input_image", request.input_image),
            ("cameo_ids", request.cameo_ids),
            ("seconds", request.seconds),
            ("size", request.size),
            ("model", request.model),
            ("seed", request.seed is not None),
            ("remix_of", request.remix_of),
            ("extend_of", request.extend_of),
            ("edit_of", request.edit_of),
            ("shots", request.shots),
            ("quote_id", request.quote_id),
        )
        if value
    ]
    if extra:
        raise InvalidArgument(
            f"a stitch takes its {', '.join(extra)} from its sources; leave "
            f"{'it' if len(extra) == 1 else 'them'} unset",
            "stitch_exclusive",
        )
    title = (request.prompt or "").strip() or f"Stitch of {len(ids)} clips"
    if len(title) > MAX_PROMPT_CHARS:
        raise InvalidArgument(
            f"the title is {len(title)} characters; the limit is {MAX_PROMPT_CHARS}", "prompt_too_long"
        )
    if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument(
            f"the idempotency key is longer than {MAX_IDEMPOTENCY_KEY} characters", "invalid_idempotency_key"
        )
    return StitchSpec(tuple(ids), fade, title)


def video_record(row) -> dict | None:
    return next((m for m in json.loads(row.media) if m.get("variant") == pb.MEDIA_VARIANT_VIDEO), None)


def usable_sources(session, user_id: str, ids: tuple[str, ...]) -> list:
    """The source rows in order; InvalidArgument naming the first that can't be used."""
    found = {r.id: r for r in session.execute(select(generations).where(generations.c.id.in_(set(ids)))).all()}
    rows = []
    for source_id in ids:
        row = found.get(source_id)
        if row is None or row.deleted_at is not None or row.user_id != user_id:
            raise InvalidArgument(f"can't stitch {source_id}: you have no such generation", SOURCE_CODE)
        if row.status != "completed" or row.taken_down:
            raise InvalidArgument(
                f"can't stitch {source_id}: it is {'taken down' if row.taken_down else row.status}; "
                "only completed clips that are still available can be stitched",
                SOURCE_CODE,
            )
        if video_record(row) is None:
            raise InvalidArgument(f"can't stitch {source_id}: its video is no longer stored", SOURCE_CODE)
        rows.append(row)
    first = rows[0]
    for row in rows[1:]:
        if (row.width, row.height) != (first.width, first.height):
            raise InvalidArgument(
                f"can't stitch {row.id} ({row.width}x{row.height}) after {first.id} "
                f"({first.width}x{first.height}): stitched clips must share one size",
                "stitch_mismatch",
            )
    return rows


def union_cameos(rows) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for cameo_id in json.loads(row.cameo_ids):
            seen.setdefault(cameo_id, None)
    return list(seen)


async def check_consent(consent, user_id: str, rows, generation_id: str) -> None:
    """Every cameo of every source, for this caller, now: PermissionDenied or
    NotFound when one is refused or gone."""
    cameo_rows = [r for r in rows if json.loads(r.cameo_ids)]
    if not cameo_rows:
        return
    if consent is None:
        raise FailedPrecondition(
            "cameos can't be used right now: the consent service is not configured", "consent_unavailable"
        )
    for row in cameo_rows:
        await consent.check(user_id, json.loads(row.cameo_ids), row.prompt, generation_id)


def stitch_seconds(rows, crossfade: float) -> int:
    total = sum(video_record(r).get("duration_ms", r.seconds * 1000) for r in rows) / 1000.0
    return max(1, int(round(total - crossfade * (len(rows) - 1))))


async def create_stitch(gens: Generations, request: CreateRequest, generation_id: str) -> tuple[GenerationView, bool]:
    """Generations.create for a request with stitch_of. Returns (generation, replayed)."""
    from services.generator import takedowns  # noqa: PLC0415 - takedowns imports domain

    spec = validate_stitch(request)
    fingerprint = request_fingerprint(request)
    if request.idempotency_key:
        existing = await asyncio.to_thread(gens._existing, request.user_id, request.idempotency_key, fingerprint)
        if existing is not None:
            return existing, True

    def load():
        with gens.sessions() as session:
            rows = usable_sources(session, request.user_id, spec.sources)
            blocked = any(takedowns.blocked_generation(session, r.id) for r in rows)
            return rows, blocked

    rows, blocked = await asyncio.to_thread(load)
    if blocked:
        raise PermissionDenied(
            "a clip in this stitch was removed from Kinora after a takedown request and can't be used to make a video",
            "blocked_content",
        )
    await check_consent(gens.consent, request.user_id, rows, generation_id)
    try:
        view = await asyncio.to_thread(_insert, gens, generation_id, request, spec, fingerprint, rows)
    except IntegrityError:
        existing = await asyncio.to_thread(gens._existing, request.user_id, request.idempotency_key, fingerprint)
        if existing is None:
            raise
        return existing, True
    gens.wake_relay()
    return view, False


def _insert(
    gens: Generations, generation_id: str, request: CreateRequest, spec: StitchSpec, fingerprint: str, rows
) -> GenerationView:
    created = now()
    first = rows[0]
    tier = common_pb2.TIER_FREE
    with transaction(gens.sessions) as session:
        fair_rank = session.execute(
            select(func.count())
            .select_from(generations)
            .where(
                generations.c.user_id == request.user_id, generations.c.status == "queued", generations.c.tier == tier
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
                prompt=spec.title,
                model=first.model,
                seconds=stitch_seconds(rows, spec.crossfade_seconds),
                width=first.width,
                height=first.height,
                seed=0,
                cameo_ids=json.dumps(union_cameos(rows)),
                tier=tier,
                fair_rank=fair_rank,
                reservation_id="",
                billing_state=FREE,
                hold_expires_at=None,
                watermark_id=new_watermark_id(),
                stitch_of=json.dumps(list(spec.sources)),
                crossfade_seconds=spec.crossfade_seconds,
                trace_context=json.dumps(inject_context({})) if current_trace_id() else None,
                created_at=created,
                updated_at=created,
            )
        )
        row = session.execute(select(generations).where(generations.c.id == generation_id)).one()
        emit_generation(
            session,
            gens.tables,
            generation_id,
            stamp(events_pb2.GenerationRequested(facts=facts(row), prompt=spec.title), created),
        )
        notify_job_queued(session)
        view = gens._view(session, row)
    metrics.GENERATIONS.labels(first.model, "queued").inc()
    return view
