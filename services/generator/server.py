"""gRPC servicers (GeneratorService, PoolAdminService) and the service assembly."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import generator_pb2 as pb
from kinora.generator.v1 import generator_pb2_grpc as pb_grpc
from kinora.identity.tokens import verifier_fetchers
from kinora.ml import faces
from kinora.runtime import auth
from kinora.runtime.convert import set_epoch_seconds, set_timestamp
from kinora.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from kinora.runtime.paging import PageTokens
from kinora.runtime.service import create_service
from kinora.runtime.subscriptions import by_event_type
from services.generator import domain, handlers, holds
from services.generator.blobs import BlobNotFound, FilesystemBlobStore
from services.generator.domain import Generations, GenerationView
from services.generator.likeness import LikenessGuard
from services.generator.models import tables
from services.generator.pools import PoolAdmin, PoolStats
from services.generator.queue import JobQueue
from services.generator.settings import GeneratorSettings
from services.generator.takedown_rpc import TakedownServicer
from services.generator.takedowns import Takedowns
from services.generator.tokens import DownloadTokens
from services.generator.topics import CONSUMES, TOPICS
from services.generator.validation import CreateRequest, ShotInput
from services.generator.wiring import connect, consent_checker, service_tokens

log = logging.getLogger("kinora.generator")

MIGRATIONS = Path(__file__).parent / "migrations"
_PAGE_TOKENS = PageTokens()  # ListGenerations: the id of the last generation a page showed
STATUS_TO_PB = {
    "queued": pb.GENERATION_STATUS_QUEUED,
    "in_progress": pb.GENERATION_STATUS_IN_PROGRESS,
    "completed": pb.GENERATION_STATUS_COMPLETED,
    "failed": pb.GENERATION_STATUS_FAILED,
    "canceled": pb.GENERATION_STATUS_CANCELED,
}
PB_TO_STATUS = {v: k for k, v in STATUS_TO_PB.items()}
VARIANT_NAMES = {
    pb.MEDIA_VARIANT_VIDEO: "video",
    pb.MEDIA_VARIANT_THUMBNAIL: "thumbnail",
    pb.MEDIA_VARIANT_SPRITESHEET: "spritesheet",
}
POOL_STATES = {"active": pb.POOL_STATE_ACTIVE, "draining": pb.POOL_STATE_DRAINING, "drained": pb.POOL_STATE_DRAINED}
STREAM_POLL_S = 0.1
MAX_CHUNK = 1024 * 1024
DEFAULT_CHUNK = 256 * 1024


def media_ref(record: dict) -> pb.MediaRef:
    return pb.MediaRef(
        variant=record["variant"],
        content_type=record["content_type"],
        size_bytes=record["size_bytes"],
        sha256=record["sha256"],
        width=record.get("width", 0),
        height=record.get("height", 0),
        duration_ms=record.get("duration_ms", 0),
    )


def to_proto(view: GenerationView) -> pb.Generation:
    row = view.row
    message = pb.Generation(
        id=row.id,
        user_id=row.user_id,
        status=STATUS_TO_PB[row.status],
        progress=row.progress,
        stage=row.stage,
        prompt=row.prompt,
        model=row.model,
        seconds=row.seconds,
        size=f"{row.width}x{row.height}",
        seed=row.seed,
        cameo_ids=json.loads(row.cameo_ids),
        remix_of=row.remix_of,
        extend_of=row.extend_of,
        has_input_image=bool(row.input_image_key),
        tier=row.tier,
        reservation_id=row.reservation_id,
        media=[media_ref(m) for m in view.media],
        scene_report_json=row.scene_report,
        taken_down=row.taken_down,
        queue_position=view.queue_position,
        stitch_of=json.loads(row.stitch_of),
        crossfade_seconds=row.crossfade_seconds,
        edit_of=row.edit_of,
        kind=domain.kind(row),
        extension_seconds=row.model_seconds if row.extend_of else 0,
        shots=[
            pb.Shot(
                prompt=shot["prompt"],
                seconds=shot["seconds"],
                camera=shot["camera"],
                start_seconds=shot["start"],
                has_image=bool(shot.get("image_key")),
            )
            for shot in json.loads(row.shots)
        ],
    )
    if row.error_code or row.error_message:
        message.error.CopyFrom(common_pb2.Error(code=row.error_code, message=row.error_message))
    for name in ("expires_at", "created_at", "started_at", "completed_at", "updated_at"):
        set_timestamp(getattr(message, name), getattr(row, name))
    return message


def _signature(view: GenerationView) -> tuple:
    row = view.row
    return row.status, row.progress, row.stage, row.updated_at, view.queue_position, row.taken_down


class GeneratorServicer(pb_grpc.GeneratorServiceServicer):
    def __init__(self, generations: Generations, blobs, tokens: DownloadTokens):
        self.generations, self.blobs, self.tokens = generations, blobs, tokens

    async def CreateGeneration(self, request, context):
        caller = auth.require_user()
        view, replayed = await self.generations.create(
            CreateRequest(
                user_id=caller.subject,
                user_handle=caller.handle,
                prompt=request.prompt,
                idempotency_key=request.idempotency_key,
                input_image=request.input_image,
                cameo_ids=list(request.cameo_ids),
                seconds=request.seconds,
                size=request.size,
                model=request.model,
                seed=request.seed if request.HasField("seed") else None,
                remix_of=request.remix_of,
                extend_of=request.extend_of,
                quote_id=request.quote_id,
                stitch_of=list(request.stitch_of),
                crossfade_seconds=request.crossfade_seconds,
                edit_of=request.edit_of,
                shots=[ShotInput(shot.prompt, shot.seconds, shot.image, shot.camera) for shot in request.shots],
            )
        )
        return pb.CreateGenerationResponse(generation=to_proto(view), replayed=replayed)

    def _reader(self) -> str | None:
        """The owner to scope reads to; None for internal services (feed, gateway jobs)."""
        caller = auth.require_user_or_service()
        return None if caller.is_service else caller.subject

    async def GetGeneration(self, request, context):
        view = await asyncio.to_thread(self.generations.get, request.generation_id, self._reader())
        return pb.GetGenerationResponse(generation=to_proto(view))

    async def ListGenerations(self, request, context):
        caller = auth.require_user()
        cursor = _PAGE_TOKENS.decode(request.page.page_token, str)
        after = request.after_generation_id or (str(cursor[0]) if cursor else "")
        views, has_more = await asyncio.to_thread(
            self.generations.list,
            caller.subject,
            request.page.page_size,
            after,
            request.order == common_pb2.SORT_ORDER_ASC,
            PB_TO_STATUS.get(request.status),
        )
        return pb.ListGenerationsResponse(
            generations=[to_proto(v) for v in views],
            has_more=has_more,
            next_page_token=_PAGE_TOKENS.encode(views[-1].row.id) if has_more and views else "",
        )

    async def CancelGeneration(self, request, context):
        caller = auth.require_user()
        view = await self.generations.cancel(request.generation_id, caller.subject, "owner")
        return pb.CancelGenerationResponse(generation=to_proto(view))

    async def DeleteGeneration(self, request, context):
        caller = auth.require_user()
        await self.generations.delete(request.generation_id, caller.subject)
        return pb.DeleteGenerationResponse()

    async def StreamGeneration(self, request, context):
        reader = self._reader()
        last = None
        while True:
            view = await asyncio.to_thread(self.generations.get, request.generation_id, reader)
            signature = _signature(view)
            if signature != last:
                last = signature
                yield pb.StreamGenerationResponse(generation=to_proto(view))
            if view.row.status in domain.TERMINAL:
                return
            await asyncio.sleep(STREAM_POLL_S)

    async def CreateMediaDownloadToken(self, request, context):
        reader = self._reader()
        view = await asyncio.to_thread(self.generations.get, request.generation_id, reader)
        self._media_record(view, request.variant)
        token, expires = self.tokens.issue(request.generation_id, request.variant, request.ttl_seconds)
        reply = pb.CreateMediaDownloadTokenResponse(token=token)
        set_epoch_seconds(reply.expires_at, expires)
        return reply

    def _media_record(self, view: GenerationView, variant: int) -> dict:
        if variant not in VARIANT_NAMES:
            raise InvalidArgument("choose a media variant: video, thumbnail or spritesheet", "invalid_variant")
        if view.row.taken_down:
            raise NotFound("this video was taken down after a cameo owner withdrew consent", "taken_down")
        if view.row.status != "completed":
            raise NotFound(f"no media yet: the generation is {view.row.status}", "media_not_ready")
        for record in view.media:
            if record["variant"] == variant:
                return record
        raise NotFound(f"this generation has no {VARIANT_NAMES[variant]}", "media_not_found")

    async def FindByWatermark(self, request, context):
        auth.require_service("gateway")
        row = await asyncio.to_thread(self.generations.find_by_watermark, int(request.watermark_id))
        if row is None:
            return pb.FindByWatermarkResponse(found=False)
        reply = pb.FindByWatermarkResponse(
            found=True,
            generation_id=row.id,
            user_id=row.user_id,
            deleted=row.deleted_at is not None,
            taken_down=bool(row.taken_down),
            model=row.model,
        )
        set_timestamp(reply.created_at, row.created_at)
        return reply

    async def GetMedia(self, request, context):
        if request.download_token:
            self.tokens.verify(request.download_token, request.generation_id, request.variant)
            reader = None
        else:
            reader = self._reader()
        view = await asyncio.to_thread(self.generations.get, request.generation_id, reader)
        record = self._media_record(view, request.variant)
        chunk_size = max(16 * 1024, min(request.chunk_size or DEFAULT_CHUNK, MAX_CHUNK))
        if request.offset < 0 or request.length < 0 or (request.offset and request.offset >= record["size_bytes"]):
            raise InvalidArgument(
                f"the file has {record['size_bytes']} bytes; that range is outside it", "range_not_satisfiable"
            )
        offset = first = request.offset
        chunks = self.blobs.read_chunks(record["key"], chunk_size, offset=request.offset, length=request.length)
        try:
            while True:
                chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    break
                reply = pb.GetMediaResponse(offset=offset, chunk=chunk)
                if offset == first:
                    reply.media.CopyFrom(media_ref(record))
                yield reply
                offset += len(chunk)
        except BlobNotFound:
            raise NotFound("the media file is missing; it may have expired", "media_not_found") from None


def pool_proto(stats: PoolStats) -> pb.Pool:
    return pb.Pool(
        name=stats.name,
        models=stats.models,
        state=POOL_STATES[stats.state],
        instances_ready=stats.instances_ready,
        instances_total=stats.instances_total,
        jobs_running=stats.jobs_running,
        drain_reason=stats.drain_reason,
        p50_generation_seconds=stats.p50_generation_seconds,
        p95_generation_seconds=stats.p95_generation_seconds,
        queues=[
            pb.TierQueue(tier=t.tier, depth=t.depth, oldest_wait_seconds=t.oldest_wait_seconds) for t in stats.tiers
        ],
    )


def require_admin() -> None:
    caller = auth.require_user_or_service()
    if not caller.is_service and "admin" not in caller.scopes:
        raise PermissionDenied("pool administration needs the admin scope", "admin_required")


class PoolAdminServicer(pb_grpc.PoolAdminServiceServicer):
    def __init__(self, admin: PoolAdmin):
        self.admin = admin

    async def ListPools(self, request, context):
        require_admin()
        return pb.ListPoolsResponse(pools=[pool_proto(s) for s in await asyncio.to_thread(self.admin.list)])

    async def DrainPool(self, request, context):
        require_admin()
        stats = await asyncio.to_thread(
            self.admin.set_state, request.pool_name, "draining", request.reason or "drained by an operator"
        )
        return pb.DrainPoolResponse(pool=pool_proto(stats))

    async def ResumePool(self, request, context):
        require_admin()
        stats = await asyncio.to_thread(self.admin.set_state, request.pool_name, "active", "")
        return pb.ResumePoolResponse(pool=pool_proto(stats))


def download_secret(settings: GeneratorSettings) -> bytes:
    if settings.download_secret:
        return settings.download_secret.encode()
    if settings.internal_secret:
        # Derived, so replicas agree without another secret to distribute.
        return hashlib.sha256(b"kinora-download-tokens\x00" + settings.internal_secret.encode()).digest()
    path = Path(settings.data_dir) / "generator-download-secret"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def make_consent(settings: GeneratorSettings, ctx=None):
    """The consent checker the API and the workers use (None without KINORA_CAMEO_ADDR)."""
    return consent_checker(settings, service_tokens(settings))


def make_likeness_guard(settings: GeneratorSettings, ctx, directory) -> LikenessGuard:
    if not settings.identity_addr:
        log.warning(
            "KINORA_IDENTITY_ADDR is unset: faces in image inputs can't be matched to cameos, so every "
            "face counts as unknown%s",
            "" if settings.allow_unknown_faces else " and is refused",
        )
    ctx.warm_up(faces.load)  # the face models load in ~0.4 s: not on the first image input
    return LikenessGuard(directory, settings.allow_unknown_faces)


async def build(settings: GeneratorSettings, *, jwks_fetcher=None, billing=None, moderator=None):
    blobs = FilesystemBlobStore(settings.blob_root())
    ctx = create_service(
        "generator",
        settings,
        tables,
        MIGRATIONS,
        topics=TOPICS,
        subscription=by_event_type(handlers.consumed_events(tables, blobs), CONSUMES),
        **verifier_fetchers(settings.identity_addr, jwks_fetcher),
    )
    remotes = connect(settings, billing)  # billing, consent, faces and feed, as the workers reach them
    billing = remotes.billing
    if moderator is None:
        from kinora.moderation import Moderator

        moderator = Moderator()
    ctx.warm_up(lambda: moderator.check("warm up the moderation model"))  # not on the first request
    generations = Generations(
        ctx.sessions,
        tables,
        blobs,
        billing,
        remotes.consent,
        moderator,
        settings.routes(),
        ctx.wake_relay,
        likeness=make_likeness_guard(settings, ctx, remotes.faces),
        feed=remotes.feed,
    )
    admin = PoolAdmin(ctx.sessions, tables, settings.pool_map(), worker_timeout_s=max(settings.lease_seconds, 5.0))
    ctx.app.add_servicer(
        pb_grpc.add_GeneratorServiceServicer_to_server,
        GeneratorServicer(generations, blobs, DownloadTokens(download_secret(settings), settings.download_ttl_seconds)),
        pb.DESCRIPTOR.services_by_name["GeneratorService"].full_name,
    )
    ctx.app.add_servicer(
        pb_grpc.add_PoolAdminServiceServicer_to_server,
        PoolAdminServicer(admin),
        pb.DESCRIPTOR.services_by_name["PoolAdminService"].full_name,
    )
    ctx.app.add_servicer(
        pb_grpc.add_TakedownServiceServicer_to_server,
        TakedownServicer(Takedowns(ctx.sessions, tables, blobs, ctx.wake_relay)),
        pb.DESCRIPTOR.services_by_name["TakedownService"].full_name,
    )

    tasks: list[asyncio.Task] = []

    queue = JobQueue(ctx.sessions, tables, settings.lease_seconds, settings.max_attempts, settings.outage_seconds)

    async def maintenance():
        # Demand for billing, queue gauges, jobs of dead workers (in case no worker is left to
        # notice), billing settlements a crash left pending, holds of waiting jobs, and expired media.
        while True:
            try:
                await asyncio.to_thread(admin.publish_demand)
                await asyncio.to_thread(queue.requeue_expired)
                await domain.settle_pending(ctx.sessions, billing)
                await holds.renew_due(ctx.sessions, tables, billing, settings.hold_renew_margin_seconds)
                await asyncio.to_thread(domain.expire_media, ctx.sessions, tables, blobs)
                ctx.wake_relay()
            except Exception:  # noqa: BLE001 - retried next round
                log.warning("generator maintenance round failed", exc_info=True)
            await asyncio.sleep(settings.demand_interval_seconds or 15.0)

    async def start_maintenance():
        tasks.append(asyncio.create_task(maintenance()))

    async def stop_maintenance():
        for task in tasks:
            task.cancel()

    ctx.app.on_startup(start_maintenance)
    ctx.app.on_shutdown(stop_maintenance)
    ctx.app.generations = generations  # for in-process tests and tools
    ctx.app.billing = billing
    ctx.app.context = ctx
    return ctx.app
