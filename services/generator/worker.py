"""Generation worker: `python -m services.generator.worker`, started like a
service (kinora.runtime.bootstrap): gRPC health on KINORA_GRPC_PORT, /metrics
on KINORA_METRICS_PORT, tracing, and the API's wiring to billing and cameo.

Claims jobs of its pool from the queue (see queue.py), runs each on Triton
through `kinora.models.client`, then signs, makes stills, stores, completes and
captures. Before storing, the likeness guard scans the clip's frames: a face of
an enrolled person who is not one of the job's consented cameos fails the job
uncharged (`unconsented_likeness`). `KINORA_WORKER_SLOTS` jobs are held at once (default 2) but only
`KINORA_WORKER_MODEL_CONCURRENCY` model calls (default 1): while one clip is
being finished and stored, the model already works on the next, so it has no
idle gaps between jobs and is never asked to run two clips against each other.

A heartbeat per job renews its lease, persists progress (throttled) and
notices cancellation: when the job stops being ours, the model call is
cancelled, so a canceled generation stops using the GPU.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select

from kinora.media.stitch import StitchError
from kinora.ml import faces
from kinora.models.contract import (
    Cameo,
    ModelCancelled,
    ModelError,
    ModelInputError,
    ModelRequest,
    ModelResult,
    Shot,
)
from kinora.runtime.db import make_engine, session_factory, transaction
from kinora.runtime.errors import NotFound, PermissionDenied, Unavailable
from services.generator import domain, holds, metrics, tracing
from services.generator.blobs import BlobStore, FilesystemBlobStore
from services.generator.domain import Billing, ConsentChecker, now
from services.generator.likeness import LikenessGuard
from services.generator.media import BadModelOutput, decode_clip, finish_media
from services.generator.models import generations, tables
from services.generator.queue import Claim, JobQueue
from services.generator.settings import GeneratorSettings, load_generator_settings
from services.generator.sources import SourceGone, join_extension, source_clip, source_row, source_video
from services.generator.stitch_job import run_stitch
from services.generator.triton_runner import ModelUnavailable
from services.generator.wakeup import JobListener

log = logging.getLogger("kinora.generator.worker")
WORKER_NAME = "generator-worker"

HEARTBEAT_S = 1.0
PROGRESS_EVENT_STEP = 10  # emit GenerationProgress at most every 10 points...
PROGRESS_EVENT_MIN_S = 2.0  # ...and no more than once per 2 s per job


class ModelRunner(Protocol):
    def generate(
        self, model: str, request: ModelRequest, progress, cancel: threading.Event, timeout_s: float
    ) -> ModelResult:
        """Blocking. Raises ModelCancelled once `cancel` is set, other ModelError
        subclasses for model refusals and failures, ModelUnavailable when the
        server can't be reached."""
        ...


@dataclass
class JobProgress:
    percent: float = 0.0
    stage: str = "starting"


class Worker:
    def __init__(
        self,
        settings: GeneratorSettings,
        sessions,
        blobs: BlobStore,
        billing: Billing,
        consent: ConsentChecker | None,
        runner: ModelRunner,
        signer,
        worker_id: str | None = None,
        likeness: LikenessGuard | None = None,
    ):
        self.settings, self.sessions, self.blobs = settings, sessions, blobs
        self.billing, self.consent, self.runner, self.signer = billing, consent, runner, signer
        # Without a face directory nobody can be recognised in an output, so nothing is scanned.
        self.likeness = likeness if settings.scan_outputs and likeness and likeness.directory else None
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.pool = settings.pool_name
        self.models = settings.pool_map().get(self.pool, [])
        if not self.models:
            raise ValueError(f"pool {self.pool!r} serves no models; check KINORA_GENERATOR_POOLS")
        self.routes = settings.routes()
        self.queue = JobQueue(sessions, tables, settings.lease_seconds, settings.max_attempts, settings.outage_seconds)
        self.running: set[asyncio.Task] = set()
        # After a model or consent server could not be reached, claim nothing for a while
        # (1 s, doubling to 30 s; reset by the next job that reaches the model).
        self.backoff_s, self.paused_until = 0.0, 0.0
        self.listener = None
        self.model_calls = asyncio.Semaphore(settings.model_concurrency)

    # -- main loop -----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker %s serving pool %s (%s)", self.worker_id, self.pool, ", ".join(self.models))
        self.listener = await asyncio.to_thread(JobListener.for_url, self.settings.database_url)
        last_maintenance = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() - last_maintenance > min(5.0, self.settings.lease_seconds / 3):
                    last_maintenance = time.monotonic()
                    await self._maintenance()
                claimed = False
                if len(self.running) < self.settings.worker_slots and time.monotonic() >= self.paused_until:
                    claim = await asyncio.to_thread(self.queue.claim, self.worker_id, self.pool, self.models)
                    if claim is not None:
                        claimed = True
                        task = asyncio.create_task(self.process(claim))
                        self.running.add(task)
                        task.add_done_callback(self.running.discard)
                if not claimed:
                    await self._wait(stop)
        finally:
            # Finish what we hold (a SIGTERM during a rollout should not waste GPU work).
            if self.running:
                await asyncio.gather(*self.running, return_exceptions=True)
            await asyncio.to_thread(self.queue.forget_worker, self.worker_id)
            if self.listener is not None:
                self.listener.close()

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until there may be work: a job queued (NOTIFY) while a slot is free, a
        slot freed while all are busy, or the poll interval passed."""
        timeout = max(self.settings.poll_seconds or 0.2, self.paused_until - time.monotonic())
        waits = [asyncio.ensure_future(stop.wait())]
        if len(self.running) >= self.settings.worker_slots:
            waits.extend(asyncio.ensure_future(asyncio.shield(t)) for t in self.running)
        elif self.listener is not None:
            waits.append(asyncio.ensure_future(asyncio.to_thread(self.listener.wait, timeout)))
        _, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _maintenance(self) -> None:
        try:
            await asyncio.to_thread(
                self.queue.record_worker, self.worker_id, self.pool, self.settings.worker_slots, len(self.running)
            )
            await asyncio.to_thread(self.queue.requeue_expired)
            await domain.settle_pending(self.sessions, self.billing)
            await holds.renew_due(self.sessions, tables, self.billing, self.settings.hold_renew_margin_seconds)
        except Exception:  # noqa: BLE001 - retried next round
            log.warning("worker maintenance failed", exc_info=True)

    # -- one job -------------------------------------------------------------------

    async def process(self, claim: Claim) -> None:
        row = claim.row
        # One trace from CreateGeneration: this span, the model call and the events emitted under it.
        with tracing.job_span(row, claim.attempt, self.worker_id) as span:
            try:
                await self._process(claim)
            except Exception as exc:  # noqa: BLE001 - an unexpected bug fails the job rather than hanging it
                log.exception("job %s crashed the worker slot", row.id)
                span.record_exception(exc)
                status = await asyncio.to_thread(
                    self.queue.fail, claim, "internal", "the generator hit an unexpected error", False
                )
                if status == "failed":
                    await self._settle(row.id)

    async def _process(self, claim: Claim) -> None:
        row = claim.row
        if row.hold_expires_at is not None:
            # A full hold TTL for the run; a job whose hold lapsed is failed uncharged, never run free.
            try:
                if not await holds.renew(self.sessions, tables, self.billing, row.id):
                    return
            except Unavailable as exc:
                await self._fail(claim, "billing_unavailable", exc.message, True, outage=True)
                return
        if json.loads(row.stitch_of):  # no model: the sources are joined (stitch_job.py)
            await run_stitch(self, claim)
            return
        cameo_ids = json.loads(row.cameo_ids)
        cameos = []
        if cameo_ids:
            # Consent again, now: it may have been withdrawn while the job was queued.
            try:
                if self.consent is None:
                    raise PermissionDenied("cameos can't be checked: the consent service is not configured")
                for text in (row.prompt, *(shot["prompt"] for shot in json.loads(row.shots))):
                    await self.consent.check(row.user_id, cameo_ids, text, row.id)
                cameos = await self.consent.describe(cameo_ids)
            except (PermissionDenied, NotFound) as exc:
                await asyncio.to_thread(self._cancel_for_consent, claim, exc.message)
                await self._settle(row.id)
                return
            except Unavailable as exc:
                await self._fail(claim, "consent_unavailable", exc.message, True, outage=True)
                return
        try:
            request, source, source_mp4 = await asyncio.to_thread(self._model_request, row)
        except SourceGone as exc:
            what = "extended" if row.extend_of else "edited"
            await self._fail(claim, "source_unavailable", f"the clip to be {what} can't be used any more: {exc}", False)
            return
        if cameos:
            request.cameos = cameos
        route = self.routes.get(row.model)
        if route is None:
            await self._fail(claim, "model_unavailable", f"model {row.model!r} is no longer served", False)
            return

        progress = JobProgress()
        cancel = threading.Event()

        def on_progress(percent: float, stage: str) -> None:
            progress.percent, progress.stage = percent, stage

        started = time.perf_counter()
        call = asyncio.create_task(self._call_model(route.triton_model, request, on_progress, cancel, row.id))
        lost = await self._heartbeat_until(call, claim, progress, cancel)
        try:
            result: ModelResult = await call
        except ModelCancelled:
            log.info("job %s stopped: %s", row.id, "lease lost" if lost else "canceled")
            return
        except ModelInputError as exc:
            await self._fail(claim, "model_refused", exc.message, False)
            return
        except ModelUnavailable as exc:
            await self._fail(claim, "model_unavailable", f"the model server is unavailable: {exc}", True, outage=True)
            return
        except ModelError as exc:
            await self._fail(claim, f"model_{exc.code}", exc.message, False)
            return
        self.backoff_s = 0.0  # the model server answered
        if lost or cancel.is_set():
            return  # someone else owns the job now, or it was canceled: discard the result
        timings = result.report.get("timings_s") or {}
        compute_s = float(timings.get("total") or (time.perf_counter() - started))
        ingredients: tuple[tuple[str, bytes], ...] = ()
        if source is not None and source_mp4 is not None:
            ingredients = ((source.id, source_mp4),)
            if row.extend_of:  # the continuation joins its source: the extended clip is the whole
                joined = await self._join(claim, progress, cancel, source, source_mp4, result)
                if joined is None:
                    return
                result = joined
        await self._finish(claim, result, compute_s, ingredients)

    async def _join(
        self,
        claim: Claim,
        progress: JobProgress,
        cancel: threading.Event,
        source,
        source_mp4: bytes,
        result: ModelResult,
    ) -> ModelResult | None:
        row = claim.row
        call = asyncio.create_task(
            asyncio.to_thread(join_extension, row, source, source_mp4, result.mp4, progress, cancel)
        )
        lost = await self._heartbeat_until(call, claim, progress, cancel)
        try:
            mp4 = await call
        except ModelCancelled:
            return None
        except StitchError as exc:
            await self._fail(
                claim, "bad_model_output", f"the extension can't be joined to its source: {exc.message}", False
            )
            return None
        if lost or cancel.is_set():
            return None
        report = {
            **result.report,
            "extension_of": source.id,
            "source_seconds": source.seconds,
            "extension_seconds": row.model_seconds,
        }
        return ModelResult(mp4, b"", report)

    async def _call_model(
        self, triton_model: str, request: ModelRequest, on_progress, cancel, generation_id: str
    ) -> ModelResult:
        async with self.model_calls:  # the lease is renewed while a job waits here too
            if cancel.is_set():
                raise ModelCancelled()
            with tracing.model_span(triton_model, generation_id):
                return await asyncio.to_thread(
                    self.runner.generate,
                    triton_model,
                    request,
                    on_progress,
                    cancel,
                    self.settings.model_timeout_seconds,
                )

    async def _heartbeat_until(
        self, call: asyncio.Task, claim: Claim, progress: JobProgress, cancel: threading.Event
    ) -> bool:
        """Renew the lease while the model works. Returns True if the job was lost."""
        last_event_percent, last_event_at = -PROGRESS_EVENT_STEP, 0.0
        while not call.done():
            await asyncio.wait({call}, timeout=HEARTBEAT_S)
            if call.done():
                break
            percent = int(progress.percent)
            emit = (
                percent - last_event_percent >= PROGRESS_EVENT_STEP
                and time.monotonic() - last_event_at >= PROGRESS_EVENT_MIN_S
            )
            if emit:
                last_event_percent, last_event_at = percent, time.monotonic()
            still_ours = await asyncio.to_thread(self.queue.heartbeat, claim, min(percent, 99), progress.stage, emit)
            if not still_ours:
                cancel.set()
                return True
        return False

    def _model_request(self, row) -> tuple[ModelRequest, object | None, bytes | None]:
        """The model's request, and for an extension or an edit the source row and its MP4."""
        image = self.blobs.get(row.input_image_key) if row.input_image_key else None
        remix_plan = None
        if row.remix_of:
            with self.sessions() as session:
                report = session.execute(
                    select(generations.c.scene_report).where(generations.c.id == row.remix_of)
                ).scalar()
            plan = json.loads(report).get("plan") if report else None
            remix_plan = plan if isinstance(plan, dict) else None
        route = self.routes.get(row.model)
        request = ModelRequest(
            prompt=row.prompt,
            seconds=row.model_seconds or row.seconds,
            width=row.width,
            height=row.height,
            seed=int(row.seed) & 0x7FFFFFFF,
            quality=route.quality if route else "standard",
            watermark=f"@{row.user_handle}" if row.user_handle else "Kinora",
            watermark_id=row.watermark_id,
            cameos=[Cameo(name=c) for c in json.loads(row.cameo_ids)],
            image=image,
            remix_plan=remix_plan,
            shots=[
                Shot(
                    shot["prompt"],
                    shot["seconds"],
                    self.blobs.get(shot["image_key"]) if shot.get("image_key") else None,
                    shot["camera"],
                )
                for shot in json.loads(row.shots)
            ],
        )
        source_id = row.extend_of or row.edit_of
        if not source_id:
            return request, None, None
        source = source_row(self.sessions, source_id)
        video = source_video(self.blobs, source)
        if row.edit_of:  # the model remakes the source's scene as the instruction (this row's prompt) says
            request.prompt = source.prompt
            request.source = source_clip("edit", source, video, row.prompt)
        else:
            request.source = source_clip("extend", source, video)
        return request, source, video

    async def _finish(
        self, claim: Claim, result: ModelResult, compute_s: float, ingredients: tuple[tuple[str, bytes], ...] = ()
    ) -> None:
        row = claim.row
        try:  # the clip's one decoding pass: facts, keyframes (scan, spritesheet) and fingerprint
            clip = await asyncio.to_thread(decode_clip, result.mp4)
        except BadModelOutput as exc:
            await self._fail(claim, "bad_model_output", str(exc), False)
            return
        if self.likeness is not None:
            try:
                scan = await self.likeness.check_output(result.mp4, json.loads(row.cameo_ids), clip.keyframes)
            except Unavailable as exc:
                await self._fail(
                    claim,
                    "likeness_unavailable",
                    f"the generated video can't be checked: {exc.message}",
                    True,
                    outage=True,
                )
                return
            if scan.refusal:
                await self._fail(claim, "unconsented_likeness", scan.refusal, False)
                return
        try:
            stored = await asyncio.to_thread(
                finish_media,
                result.mp4,
                generation_id=row.id,
                attempt=claim.attempt,
                model=row.model,
                creator_handle=row.user_handle,
                expected=(row.width, row.height),
                signer=self.signer,
                blobs=self.blobs,
                decoded=clip,
                thumbnail_jpeg=result.thumbnail_jpeg,
                ingredients=ingredients,
            )
        except BadModelOutput as exc:
            await self._fail(claim, "bad_model_output", str(exc), False)
            return
        ttl = self.settings.media_ttl_days
        expires = now() + timedelta(days=ttl) if ttl else None
        report = dict(result.report)
        if await asyncio.to_thread(
            self.queue.complete, claim, stored.records, report, compute_s, expires, stored.refs(), stored.frame_hashes
        ):
            metrics.GENERATION_SECONDS.labels(row.model).observe(time.perf_counter() - claim.claimed_at)
            await self._settle(row.id)
        else:
            # Lost the job while finishing: the winner's files are under another attempt prefix.
            for record in stored.records:
                await asyncio.to_thread(self.blobs.delete, record["key"])

    def _cancel_for_consent(self, claim: Claim, reason: str) -> None:
        with transaction(self.sessions) as session:
            row = session.execute(
                select(generations).where(generations.c.id == claim.generation_id).with_for_update()
            ).first()
            if row is not None and row.status == "in_progress" and row.lease_owner == self.worker_id:
                domain.cancel_row(session, tables, row, "system", f"consent withdrawn before start: {reason}")

    async def _fail(self, claim: Claim, code: str, message: str, retryable: bool, outage: bool = False) -> None:
        if outage:
            self.backoff_s = min(30.0, max(1.0, self.backoff_s * 2))
            self.paused_until = time.monotonic() + self.backoff_s
            log.warning("%s: claiming nothing for %.0f s", message, self.backoff_s)
        status = await asyncio.to_thread(self.queue.fail, claim, code, message, retryable, outage)
        log.info("job %s: %s (%s) -> %s", claim.generation_id, code, message, status)
        if status == "failed":
            await self._settle(claim.generation_id)

    async def _settle(self, generation_id: str) -> None:
        try:
            await domain.settle(self.sessions, self.billing, generation_id)
        except Exception:  # noqa: BLE001 - left pending; maintenance retries it
            log.warning("settlement for %s deferred", generation_id, exc_info=True)


# -- process entry -------------------------------------------------------------


def make_runner(settings: GeneratorSettings) -> ModelRunner:
    from services.generator.triton_runner import TritonRunner

    return TritonRunner(settings.triton_addr)


async def build(settings: GeneratorSettings, *, billing=None, runner: ModelRunner | None = None):
    """The worker as a service process (kinora.runtime.server.ServiceApp): gRPC
    health (SERVING once migrated and looping; NOT_SERVING if the loop dies or
    on SIGTERM), /metrics, tracing, and the other services reached through the
    same wiring as the API. The job loop runs from start-up to shutdown, and on
    shutdown finishes the jobs it holds."""
    from kinora.media.c2pa_sign import ProvenanceSigner, load_identity
    from kinora.runtime.migrations import upgrade
    from kinora.runtime.server import ServiceApp
    from services.generator.server import MIGRATIONS
    from services.generator.wiring import connect

    app = ServiceApp(WORKER_NAME, settings)
    engine = make_engine(settings.database_url, pool_size=settings.worker_slots + 2)
    sessions = session_factory(engine)
    remotes = connect(settings, billing)
    signer = ProvenanceSigner(load_identity(settings.data_dir)) if settings.sign_c2pa else None
    likeness = None
    if settings.scan_outputs:
        if remotes.faces is not None:
            likeness = LikenessGuard(remotes.faces)
        else:
            log.warning(
                "KINORA_IDENTITY_ADDR is unset: finished clips can't be scanned for the faces of "
                "people who did not consent"
            )
    worker = Worker(
        settings,
        sessions,
        FilesystemBlobStore(settings.blob_root()),
        remotes.billing,
        remotes.consent,
        runner or make_runner(settings),
        signer,
        likeness=likeness,
    )
    stop = asyncio.Event()
    loop_task: list[asyncio.Task] = []

    async def prepare():
        await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
        if likeness is not None:
            await asyncio.to_thread(faces.load)  # not on the first clip

    async def start_loop():
        task = asyncio.create_task(worker.run(stop), name="generator-worker-loop")
        task.add_done_callback(lambda t: None if stop.is_set() else asyncio.ensure_future(_loop_ended(app, t)))
        loop_task.append(task)

    async def finish():
        stop.set()
        for task in loop_task:
            await asyncio.gather(task, return_exceptions=True)
        engine.dispose()

    app.on_startup(prepare)
    app.on_startup(start_loop)
    app.on_shutdown(finish)
    app.worker = worker  # for tests and tools
    return app


async def _loop_ended(app, task: asyncio.Task) -> None:
    """The job loop ended without being asked to: the process is no longer healthy."""
    from grpc_health.v1 import health_pb2

    if not task.cancelled() and task.exception() is not None:
        log.error("the job loop crashed", exc_info=task.exception())
    await app.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)


def main(argv: list[str] | None = None) -> int:
    from kinora.runtime import bootstrap

    return bootstrap.main(WORKER_NAME, load_generator_settings, build, argv=argv)


if __name__ == "__main__":
    sys.exit(main())
