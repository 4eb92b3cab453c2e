"""The whole generation path against a real Triton serving worldsim:
create → queue → worker → Triton → media stored → completed, and what goes
wrong on the way (cancel, a killed worker, a failing model). 4 s clips at
720x1280, the smallest the product offers."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import signal
import time

import grpc
import numpy as np
import pytest
from generator_harness import TritonHarness, generator_settings, running_api, running_worker, start_worker, stop_worker
from PIL import Image
from sqlalchemy import select

from kinora.generator.v1 import events_pb2
from kinora.generator.v1 import generator_pb2 as pb
from kinora.media.c2pa_sign import read_manifest
from kinora.media.probe import probe_mp4
from kinora.models.contract import ModelRequest
from kinora.runtime.errors import error_code_of
from services.generator.models import generations, outbox_rows
from services.generator.settings import model_routes

ROUTES = model_routes("standard=worldsim:standard,pro=worldsim:pro,broken=failing:standard")


@pytest.fixture(scope="module")
def triton():
    with TritonHarness(with_failing_model=True) as harness:
        yield harness


@pytest.fixture
def settings(pg_url, tmp_path, triton, billing):
    return generator_settings(pg_url, tmp_path, billing, triton_addr=triton.grpc_address, models=ROUTES)


def in_process_worker(settings, api, slots: int = 1, consent=None):
    """A worker on this event loop, sharing the API's database and billing."""
    import dataclasses

    return running_worker(
        dataclasses.replace(settings, worker_slots=slots), api.app.context.sessions, api.app.billing, consent
    )


async def follow(api, generation_id, auth, until=None) -> list[pb.Generation]:
    """Every state StreamGeneration sends, until terminal (or `until(g)` is true)."""
    seen = []
    async for reply in api.stub.StreamGeneration(
        pb.StreamGenerationRequest(generation_id=generation_id), metadata=auth
    ):
        seen.append(reply.generation)
        if until is not None and until(reply.generation):
            break
    return seen


async def download(api, generation_id, variant, auth=None, token="") -> tuple[pb.MediaRef, bytes]:
    ref, body, expected_offset = None, bytearray(), 0
    async for reply in api.stub.GetMedia(
        pb.GetMediaRequest(generation_id=generation_id, variant=variant, download_token=token, chunk_size=64 * 1024),
        metadata=auth or (),
    ):
        if reply.HasField("media"):
            ref = reply.media
        assert reply.offset == expected_offset
        body += reply.chunk
        expected_offset += len(reply.chunk)
    return ref, bytes(body)


def events(api, event_type: str, generation_id: str) -> list:
    with api.app.context.sessions() as s:
        return s.execute(
            select(outbox_rows())
            .where(
                outbox_rows().c.event_type == f"kinora.generator.v1.{event_type}",
                outbox_rows().c.aggregate_id == generation_id,
            )
            .order_by(outbox_rows().c.id)
        ).all()


async def settled(api, generation_id, timeout_s: float = 10.0):
    """The row once its capture/release is done (it follows the status change)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with api.app.context.sessions() as s:
            row = s.execute(select(generations).where(generations.c.id == generation_id)).one()
        if not row.billing_state.endswith("_pending") or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.1)


def watermark_pixels(marked: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels the watermark brightened: (mask, bounding box [y0, y1, x0, x1])."""
    diff = marked.astype(np.int16).sum(axis=2) - clean.astype(np.int16).sum(axis=2)
    mask = diff > 120  # brighter by > 40 per channel on average
    ys, xs = np.nonzero(mask)
    return mask, np.array([ys.min(), ys.max(), xs.min(), xs.max()]) if len(ys) else np.zeros(4, int)


async def test_lifecycle_media_provenance_watermark_and_downloads(settings, moderator, triton, billing):
    async with running_api(settings, moderator, billing_service=billing) as api, in_process_worker(settings, api):
        auth = api.auth("u-alice", "alice")
        created = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(
                prompt="a red ball bounces on a wooden floor",
                seconds=4,
                size="720x1280",
                seed=42,
                idempotency_key="life-1",
            ),
            metadata=auth,
        )
        gid = created.generation.id
        states = await follow(api, gid, auth)
        final = states[-1]
        assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
        statuses = [s.status for s in states]
        assert statuses[0] in (pb.GENERATION_STATUS_QUEUED, pb.GENERATION_STATUS_IN_PROGRESS)
        assert pb.GENERATION_STATUS_IN_PROGRESS in statuses
        progress = [s.progress for s in states if s.status == pb.GENERATION_STATUS_IN_PROGRESS]
        # Progress never goes back; how many steps the stream sees depends on how fast the clip
        # renders (the killed-worker test below waits for progress > 0 mid-run).
        assert progress == sorted(progress)
        assert final.progress == 100 and final.started_at.seconds and final.completed_at.seconds
        assert final.expires_at.seconds > final.completed_at.seconds
        report = json.loads(final.scene_report_json)
        assert report["seed"] == 42 and report["model"] == "worldsim"

        # Video: decoded back — size, fps, duration, codecs, audio.
        ref, video = await download(api, gid, pb.MEDIA_VARIANT_VIDEO, auth)
        assert ref.size_bytes == len(video) and ref.sha256 == hashlib.sha256(video).hexdigest()
        facts = probe_mp4(video, decode_frames=True, decode_audio=True)
        assert (facts.width, facts.height, facts.fps) == (720, 1280, 24.0)
        assert abs(facts.duration_s - 4.0) < 0.1 and facts.frame_count == 96
        assert facts.video_codec == "h264" and facts.pix_fmt == "yuv420p"
        assert (facts.audio_codec, facts.audio_rate, facts.audio_channels) == ("aac", 48000, 2)
        assert np.abs(facts.audio).max() > 0.01  # real sound, not silence
        assert abs(ref.duration_ms - 4000) <= 100

        # C2PA manifest, verified by the C2PA reader.
        manifest, state = read_manifest(video)
        assert state == "Valid", state
        labels = {a["label"]: a["data"] for a in manifest["assertions"]}
        assert labels["org.kinora.generation"] == {"generation_id": gid, "model": "standard", "creator": "alice"}
        action = labels["c2pa.actions.v2"]["actions"][0]
        assert action["action"] == "c2pa.created" and action["digitalSourceType"].endswith("trainedAlgorithmicMedia")

        # Thumbnail and spritesheet decode as JPEGs of the advertised size.
        for variant in (pb.MEDIA_VARIANT_THUMBNAIL, pb.MEDIA_VARIANT_SPRITESHEET):
            ref, body = await download(api, gid, variant, auth)
            image = Image.open(io.BytesIO(body))
            image.load()
            assert image.format == "JPEG" and image.size == (ref.width, ref.height)
        assert ref.width > ref.height  # a grid of portrait frames laid out in a row

        # Invisible watermark: every frame carries the generation's watermark id.
        from kinora.media import invisible_mark

        mark = invisible_mark.detect_video(video)
        assert mark.payload is not None, mark
        assert api.app.generations.find_by_watermark(mark.payload).id == gid

        # Visible watermark: the same clip without it (same invisible mark), straight from
        # Triton, differs only where bright text was drawn, and that place moves over time.
        from kinora.models import client

        clean = client.generate(
            triton.grpc_address,
            "worldsim",
            ModelRequest(
                prompt="a red ball bounces on a wooden floor",
                seconds=4,
                width=720,
                height=1280,
                seed=42,
                watermark="",
                watermark_id=mark.payload,
            ),
        )
        clean_frames = probe_mp4(clean.mp4, decode_frames=True).frames
        boxes = []
        for k in (0, 48, 95):
            mask, box = watermark_pixels(facts.frames[k], clean_frames[k])
            height, width = box[1] - box[0], box[3] - box[2]
            assert 40 < mask.sum() < 20_000, mask.sum()  # text strokes, not the whole frame
            assert 10 < height < 80 and 30 < width < 400, box
            boxes.append(box)
        assert np.abs(boxes[0][:2] - boxes[2][:2]).max() > 5 or np.abs(boxes[0][2:] - boxes[2][2:]).max() > 5

        # Download tokens: work without the JWT, bound to one file, refused when tampered.
        token = await api.stub.CreateMediaDownloadToken(
            pb.CreateMediaDownloadTokenRequest(generation_id=gid, variant=pb.MEDIA_VARIANT_THUMBNAIL, ttl_seconds=60),
            metadata=auth,
        )
        ref, body = await download(api, gid, pb.MEDIA_VARIANT_THUMBNAIL, token=token.token)
        assert len(body) == ref.size_bytes
        for variant, tok in ((pb.MEDIA_VARIANT_VIDEO, token.token), (pb.MEDIA_VARIANT_THUMBNAIL, token.token + "x")):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await download(api, gid, variant, token=tok)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await download(api, gid, pb.MEDIA_VARIANT_VIDEO, api.auth("u-eve", "eve"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        # Events carry the facts; billing captured exactly once.
        # (Progress events are throttled to one per 2 s, so a clip that renders faster may have none.)
        for kind in ("GenerationRequested", "GenerationStarted", "GenerationCompleted"):
            assert events(api, kind, gid), kind
        done = events_pb2.GenerationCompleted.FromString(events(api, "GenerationCompleted", gid)[0].payload)
        assert done.facts.user_id == "u-alice" and done.facts.seconds == 4 and done.facts.size == "720x1280"
        assert len(done.media) == 3 and done.compute_seconds > 0 and done.total_seconds >= done.compute_seconds
        assert len(events(api, "GenerationProgress", gid)) <= 10  # throttled
        assert (await settled(api, gid)).billing_state == "captured"
        assert api.billing.reservation(gid).status == "captured" and api.billing.captures(gid) == 1
        from prometheus_client import REGISTRY

        assert REGISTRY.get_sample_value("kinora_generations_total", {"model": "standard", "status": "completed"}) >= 1
        assert REGISTRY.get_sample_value("kinora_generation_seconds_count", {"model": "standard"}) >= 1
        assert REGISTRY.get_sample_value("kinora_generation_queue_wait_seconds_count", {"tier": "free"}) >= 1

        # A remix starts from the stored scene plan.
        remix = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="the same, but at night", seconds=4, remix_of=gid), metadata=auth
        )
        assert remix.generation.remix_of == gid
        # Bob can't see alice's unpublished clip: for him it is not there (its prompt must not leak
        # into his remix's scene report), with the same answer as for an id that never existed.
        answers = []
        for source in (gid, "gen_" + "0" * 32):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await api.stub.CreateGeneration(
                    pb.CreateGenerationRequest(prompt="the same, but at night", seconds=4, remix_of=source),
                    metadata=api.auth("u-bob", "bob"),
                )
            answers.append((refused.value.code(), refused.value.details().replace(source, "<id>")))
        assert answers[0] == answers[1] and answers[0][0] == grpc.StatusCode.INVALID_ARGUMENT


async def test_cancel_mid_run_stops_the_model_and_releases(settings, moderator, triton, billing):
    async with running_api(settings, moderator, billing_service=billing) as api, in_process_worker(settings, api):
        auth = api.auth()
        created = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="a dog runs across a snowy field", seconds=8, seed=3), metadata=auth
        )
        gid = created.generation.id
        await follow(api, gid, auth, until=lambda g: g.status == pb.GENERATION_STATUS_IN_PROGRESS and g.progress >= 10)
        assert triton.server.registry._running  # the model is working on it
        canceled = await api.stub.CancelGeneration(pb.CancelGenerationRequest(generation_id=gid), metadata=auth)
        assert canceled.generation.status == pb.GENERATION_STATUS_CANCELED
        assert api.billing.reservation(gid).status == "released"
        # The model stops at its next check, well before the clip would have finished.
        deadline = time.monotonic() + 5
        while triton.server.registry._running and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not triton.server.registry._running
        await asyncio.sleep(1.5)
        final = (await api.stub.GetGeneration(pb.GetGenerationRequest(generation_id=gid), metadata=auth)).generation
        assert final.status == pb.GENERATION_STATUS_CANCELED and not final.media
        assert len(events(api, "GenerationCanceled", gid)) == 1 and not events(api, "GenerationCompleted", gid)


async def test_failing_model_fails_the_job_with_reason_and_releases(settings, moderator, triton, billing):
    async with running_api(settings, moderator, billing_service=billing) as api, in_process_worker(settings, api):
        auth = api.auth()
        created = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="a paper boat on a stream", seconds=4, model="broken"), metadata=auth
        )
        final = (await follow(api, created.generation.id, auth))[-1]
        assert final.status == pb.GENERATION_STATUS_FAILED
        assert final.error.code == "model_internal" and "ran out of GPU memory" in final.error.message
        assert (await settled(api, final.id)).billing_state == "released"
        assert api.billing.reservation(final.id).status == "released"
        failed = events_pb2.GenerationFailed.FromString(events(api, "GenerationFailed", final.id)[0].payload)
        assert failed.error.code == "model_internal" and failed.facts.model == "broken"


async def test_killed_worker_job_completes_elsewhere_and_is_charged_once(settings, moderator, tmp_path, billing):
    async with running_api(settings, moderator, billing_service=billing) as api:
        auth = api.auth()
        first = start_worker(settings, slots=1, log_path=str(tmp_path / "worker-a.log"))
        second = None
        try:
            created = await api.stub.CreateGeneration(
                pb.CreateGenerationRequest(
                    # 12 s, so the job is still rendering when the worker is killed, even on a fast machine.
                    prompt="a red ball rolls down a wooden ramp",
                    seconds=12,
                    seed=9,
                ),
                metadata=auth,
            )
            gid = created.generation.id
            await follow(
                api, gid, auth, until=lambda g: g.status == pb.GENERATION_STATUS_IN_PROGRESS and g.progress >= 5
            )
            first.send_signal(signal.SIGKILL)
            first.wait()
            second = start_worker(settings, slots=1, log_path=str(tmp_path / "worker-b.log"))
            final = (await follow(api, gid, auth))[-1]
            assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
            row = await settled(api, gid)
            assert row.attempts == 2 and row.billing_state == "captured"
            started = [
                events_pb2.GenerationStarted.FromString(r.payload) for r in events(api, "GenerationStarted", gid)
            ]
            assert [e.attempt for e in started] == [1, 2] and started[0].worker_id != started[1].worker_id
            assert len(events(api, "GenerationCompleted", gid)) == 1
            assert api.billing.reservation(gid).status == "captured" and api.billing.captures(gid) == 1
            _, video = await download(api, gid, pb.MEDIA_VARIANT_VIDEO, auth)
            assert probe_mp4(video).duration_s == pytest.approx(12.0, abs=0.1)
        finally:
            stop_worker(first)
            if second is not None:
                stop_worker(second)


async def test_real_cameo_consent_and_real_billing(settings, moderator, triton):
    """Consent from the cameo service and holds from the billing service, both
    real and in-process; consent is checked again when the worker starts."""
    import dataclasses
    import sys
    from pathlib import Path

    tests_dir = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(tests_dir / "cameo"), str(tests_dir / "billing")]
    from billing_support import make_settings, open_users
    from cameo_harness import SECRET, World, start_replica

    from kinora.cameo.v1 import cameo_pb2
    from kinora.common.v1 import common_pb2
    from kinora.stack.tansu import free_port
    from kinora.testing import LocalIssuer, temporary_database
    from services.billing.server import build_service
    from services.generator.remote import GrpcConsentChecker

    issuer = LocalIssuer()
    with temporary_database("gencameo") as cameo_url, temporary_database("genbill") as billing_url:
        cameo = await start_replica(cameo_url, issuer)
        billing = build_service(
            make_settings(billing_url, grpc_host="127.0.0.1", grpc_port=free_port(), internal_secret=SECRET),
            jwks_fetcher=issuer.fetch_jwks,
        )
        await billing.ctx.app.start()
        world = World(cameo_url, issuer)
        try:
            alice, bob = world.user("alice"), world.user("bob")
            bob_cameo = world.verify(bob)
            open_users(billing.billing, alice)
            await cameo.stub.SetPolicy(
                cameo_pb2.SetPolicyRequest(cameo_id=bob_cameo, policy=common_pb2.CAMEO_POLICY_EVERYONE),
                metadata=world.as_user(bob),
            )
            wired = dataclasses.replace(
                settings,
                internal_secret=SECRET,
                cameo_addr=f"127.0.0.1:{cameo.ctx.app.port}",
                billing_addr=f"127.0.0.1:{billing.ctx.app.port}",
            )
            async with running_api(wired, moderator, jwks_fetcher_issuer=issuer) as api:
                auth = bearer_for(issuer, alice, "alice")
                consent = GrpcConsentChecker(wired.cameo_addr, api.app.context.service_token_source())
                async with in_process_worker(wired, api, consent=consent):
                    made = await api.stub.CreateGeneration(
                        pb.CreateGenerationRequest(
                            prompt="bob juggles three balls in a park", cameo_ids=[bob_cameo], seconds=4
                        ),
                        metadata=auth,
                    )
                    gid = made.generation.id
                    assert made.generation.reservation_id
                    final = (await follow(api, gid, auth))[-1]
                    assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
                    assert (await settled(api, gid)).billing_state == "captured"
                    with billing.billing.sessions() as s:
                        assert billing.billing._reservation(s, gid).status == "captured"

                    # Drain so the next job waits; revoke in between; the worker's check cancels it.
                    admin = bearer_for(issuer, "ops", "ops", scopes=["admin"])
                    await api.pools.DrainPool(pb.DrainPoolRequest(pool_name="default"), metadata=admin)
                    queued = await api.stub.CreateGeneration(
                        pb.CreateGenerationRequest(prompt="bob waves at the camera", cameo_ids=[bob_cameo], seconds=4),
                        metadata=auth,
                    )
                    await cameo.stub.SetPolicy(
                        cameo_pb2.SetPolicyRequest(cameo_id=bob_cameo, policy=common_pb2.CAMEO_POLICY_ONLY_ME),
                        metadata=world.as_user(bob),
                    )
                    await api.pools.ResumePool(pb.ResumePoolRequest(pool_name="default"), metadata=admin)
                    late = (await follow(api, queued.generation.id, auth))[-1]
                    assert late.status == pb.GENERATION_STATUS_CANCELED and "consent" in late.error.message
                    assert (await settled(api, late.id)).billing_state == "released"
                    with billing.billing.sessions() as s:
                        assert billing.billing._reservation(s, late.id).status == "released"

                    # A new request is refused up front, with cameo's reason, and nothing is held.
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await api.stub.CreateGeneration(
                            pb.CreateGenerationRequest(prompt="bob dances", cameo_ids=[bob_cameo], seconds=4),
                            metadata=auth,
                        )
                    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
                    assert error_code_of(caught.value) == "consent_denied" and caught.value.details()
        finally:
            world.close()
            await cameo.close()
            await billing.ctx.app.stop()


async def test_a_remix_carries_the_source_cameos_and_checks_consent_for_the_remixer(
    settings, moderator, triton, billing
):
    """A clip with bob's cameo, remixed without naming him, still contains him:
    the remix is checked against his consent now and lands in his appearances."""
    import dataclasses
    import sys
    from pathlib import Path

    sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "cameo")]
    from cameo_harness import SECRET, World, start_replica

    from kinora.cameo.v1 import cameo_pb2
    from kinora.common.v1 import common_pb2
    from kinora.runtime.db import transaction
    from kinora.testing import LocalIssuer, temporary_database
    from services.cameo import handlers as cameo_handlers
    from services.generator.remote import GrpcConsentChecker

    issuer = LocalIssuer()
    with temporary_database("genremix") as cameo_url:
        cameo = await start_replica(cameo_url, issuer)
        world = World(cameo_url, issuer)
        try:
            alice, bob = world.user("alice"), world.user("bob")
            billing.open(alice)  # as identity's UserCreated would
            bob_cameo = world.verify(bob)
            await cameo.stub.SetPolicy(
                cameo_pb2.SetPolicyRequest(cameo_id=bob_cameo, policy=common_pb2.CAMEO_POLICY_EVERYONE),
                metadata=world.as_user(bob),
            )
            wired = dataclasses.replace(settings, internal_secret=SECRET, cameo_addr=f"127.0.0.1:{cameo.ctx.app.port}")
            async with running_api(wired, moderator, jwks_fetcher_issuer=issuer) as api:
                auth = bearer_for(issuer, alice, "alice")
                consent = GrpcConsentChecker(wired.cameo_addr, api.app.context.service_token_source())
                async with in_process_worker(wired, api, consent=consent):
                    made = await api.stub.CreateGeneration(
                        pb.CreateGenerationRequest(
                            prompt="bob juggles three balls in a park", cameo_ids=[bob_cameo], seconds=4
                        ),
                        metadata=auth,
                    )
                    final = (await follow(api, made.generation.id, auth))[-1]
                    assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error

                    remix = (
                        await api.stub.CreateGeneration(
                            pb.CreateGenerationRequest(prompt="the same, but at night", seconds=4, remix_of=final.id),
                            metadata=auth,
                        )
                    ).generation
                    assert list(remix.cameo_ids) == [bob_cameo]
                    # Cameo indexes the remix from its GenerationRequested, as for a named cameo.
                    requested = events_pb2.GenerationRequested.FromString(
                        events(api, "GenerationRequested", remix.id)[0].payload
                    )
                    with transaction(world.sessions) as s:
                        cameo_handlers.generation_requested(s, requested, None)
                    listed = await cameo.stub.ListAppearances(
                        cameo_pb2.ListAppearancesRequest(cameo_id=bob_cameo), metadata=world.as_user(bob)
                    )
                    assert remix.id in {a.generation_id for a in listed.appearances}

                    # Bob closes his cameo: remixing the clip he is in now needs his consent, and is refused.
                    await cameo.stub.SetPolicy(
                        cameo_pb2.SetPolicyRequest(cameo_id=bob_cameo, policy=common_pb2.CAMEO_POLICY_ONLY_ME),
                        metadata=world.as_user(bob),
                    )
                    with pytest.raises(grpc.aio.AioRpcError) as caught:
                        await api.stub.CreateGeneration(
                            pb.CreateGenerationRequest(
                                prompt="the same, but in the snow", seconds=4, remix_of=final.id
                            ),
                            metadata=auth,
                        )
                    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
                    assert error_code_of(caught.value) == "consent_denied"
        finally:
            world.close()
            await cameo.close()


def bearer_for(issuer, user_id, handle, **kw):
    from kinora.testing import bearer

    return bearer(issuer.token(user_id, handle, **kw))


async def test_model_server_outage_waits_without_using_attempts(pg_url, tmp_path, moderator, billing):
    """A worker whose model server cannot be reached backs off (1 s, 2 s, ...)
    and puts the job back without using an attempt; a job fails only after
    waiting through the outage for KINORA_OUTAGE_SECONDS."""
    from kinora.stack.tansu import free_port

    down = generator_settings(
        pg_url,
        tmp_path,
        billing,
        triton_addr=f"127.0.0.1:{free_port()}",
        models=ROUTES,
        max_attempts=1,
        outage_seconds=600,
    )
    async with running_api(down, moderator, billing_service=billing) as api:
        auth = api.auth()
        created = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="a paper plane glides across a classroom", seconds=4), metadata=auth
        )
        gid = created.generation.id
        async with in_process_worker(down, api) as worker:
            await asyncio.sleep(4)
            assert worker.backoff_s >= 2  # it backed off at least twice
        row = await settled(api, gid)
        assert row.status == "queued" and row.attempts == 0  # max_attempts=1, yet nothing used up
        # 1 s + 2 s of backoff in 4 s: three tries at most, not one per poll (50 ms)
        assert 2 <= len(events(api, "GenerationStarted", gid)) <= 3
        assert not events(api, "GenerationFailed", gid)

        import dataclasses

        impatient = dataclasses.replace(down, outage_seconds=0)
        async with in_process_worker(impatient, api):
            final = (await follow(api, gid, auth))[-1]
        assert final.status == pb.GENERATION_STATUS_FAILED and final.error.code == "model_unavailable"
        assert "still unavailable after" in final.error.message
        assert (await settled(api, gid)).billing_state == "released"


async def test_one_generation_is_one_trace_from_create_through_the_worker_and_the_model(
    settings, moderator, triton, billing
):
    """CreateGeneration's span -> the stored job -> the worker's job span -> the
    Triton call; the events the worker emits and its billing capture carry the
    same trace."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from kinora.runtime.telemetry import add_span_processor

    exporter = InMemorySpanExporter()
    add_span_processor(SimpleSpanProcessor(exporter))
    try:
        async with running_api(settings, moderator, billing_service=billing) as api, in_process_worker(settings, api):
            auth = api.auth()
            created = await api.stub.CreateGeneration(
                pb.CreateGenerationRequest(prompt="a kite climbs over a windy beach", seconds=4, seed=5), metadata=auth
            )
            gid = created.generation.id
            final = (await follow(api, gid, auth))[-1]
            assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
            assert (await settled(api, gid)).billing_state == "captured"
            # The worker's job span ends when its attempt returns, just after the settlement it
            # waits for is visible here (seen in CI: read at once, the span was not yet finished).
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                s.name == "generator.job" and s.attributes["kinora.generation_id"] == gid
                for s in exporter.get_finished_spans()
            ):
                await asyncio.sleep(0.05)
            spans = exporter.get_finished_spans()
            create = [
                s
                for s in spans
                if s.name == "kinora.generator.v1.GeneratorService/CreateGeneration" and s.kind.name == "SERVER"
            ]
            assert len(create) == 1
            trace_id = create[0].context.trace_id
            jobs = [s for s in spans if s.name == "generator.job" and s.attributes["kinora.generation_id"] == gid]
            assert len(jobs) == 1 and jobs[0].context.trace_id == trace_id
            assert jobs[0].parent.span_id == create[0].context.span_id
            model = [s for s in spans if s.name == "triton.generate" and s.attributes["kinora.generation_id"] == gid]
            assert len(model) == 1 and model[0].parent.span_id == jobs[0].context.span_id
            captures = [s for s in spans if s.name.endswith("BillingService/Capture") and s.kind.name == "SERVER"]
            # billing's side of the capture is in the trace (a settlement retry by the maintenance loop,
            # if the first answer was slow, is a Capture of its own trace: allowed)
            assert trace_id in [s.context.trace_id for s in captures]
            for kind in ("GenerationRequested", "GenerationStarted", "GenerationCompleted"):
                headers = json.loads(events(api, kind, gid)[0].headers)
                assert headers["traceparent"].split("-")[1] == format(trace_id, "032x"), kind
    finally:
        exporter.shutdown()
