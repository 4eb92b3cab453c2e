"""Stitches through the generator: the API checks the sources, a worker joins
their stored videos, and the result is finished like any clip (C2PA manifest
with the sources as ingredients, invisible mark, stills, events); free."""

from __future__ import annotations

import grpc
import pytest
from generator_harness import TritonHarness, generator_settings, running_api
from test_pipeline import download, events, follow, in_process_worker, settled

from kinora.generator.v1 import events_pb2
from kinora.generator.v1 import generator_pb2 as pb
from kinora.media import invisible_mark
from kinora.media.c2pa_sign import read_manifest
from kinora.media.probe import probe_mp4
from services.generator.settings import model_routes

ROUTES = model_routes("standard=worldsim:standard,pro=worldsim:pro")


@pytest.fixture(scope="module")
def triton():
    with TritonHarness() as harness:
        yield harness


@pytest.fixture
def settings(pg_url, tmp_path, triton, billing):
    return generator_settings(pg_url, tmp_path, billing, triton_addr=triton.grpc_address, models=ROUTES)


async def make_clip(api, auth, prompt: str, key: str) -> str:
    created = await api.stub.CreateGeneration(
        pb.CreateGenerationRequest(prompt=prompt, seconds=4, size="720x1280", seed=7, idempotency_key=key),
        metadata=auth,
    )
    final = (await follow(api, created.generation.id, auth))[-1]
    assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
    return final.id


async def refused(api, auth, code: str, **fields) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.stub.CreateGeneration(pb.CreateGenerationRequest(**fields), metadata=auth)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert code in caught.value.details() or code in str(caught.value.trailing_metadata()), caught.value.details()
    return caught.value.details()


async def test_stitch_two_clips_end_to_end(settings, moderator, billing):
    async with running_api(settings, moderator, billing_service=billing) as api:
        alice, eve = api.auth("u-alice", "alice"), api.auth("u-eve", "eve")
        async with in_process_worker(settings, api):
            first = await make_clip(api, alice, "a red ball bounces on a wooden floor", "s-1")
            second = await make_clip(api, alice, "a blue cube slides across a table", "s-2")
            theirs = await make_clip(api, eve, "a green cone spins", "s-3")

            created = await api.stub.CreateGeneration(
                pb.CreateGenerationRequest(
                    stitch_of=[first, second], crossfade_seconds=0.5, idempotency_key="stitch-1"
                ),
                metadata=alice,
            )
            gen = created.generation
            assert list(gen.stitch_of) == [first, second] and abs(gen.crossfade_seconds - 0.5) < 1e-6
            assert gen.model == "standard" and gen.size == "720x1280" and gen.seconds == 8  # 4 + 4 - 0.5, rounded
            assert gen.prompt == "Stitch of 2 clips"
            final = (await follow(api, gen.id, alice))[-1]
            assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
            again = await api.stub.CreateGeneration(
                pb.CreateGenerationRequest(
                    stitch_of=[first, second], crossfade_seconds=0.5, idempotency_key="stitch-1"
                ),
                metadata=alice,
            )
            assert again.replayed and again.generation.id == gen.id

            # Refusals, each before anything is written.
            await refused(api, alice, "no such generation", stitch_of=[first, theirs])
            await refused(api, alice, "stitch_source_count", stitch_of=[first])
            await refused(api, alice, "stitch_source_count", stitch_of=[first] * 11)
            await refused(api, alice, "crossfade", stitch_of=[first, second], crossfade_seconds=1.5)
            await refused(api, alice, "leave it unset", stitch_of=[first, second], seconds=8)

        # With no worker running, a new clip stays queued: it can't be stitched yet.
        pending = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="a yellow ball rolls", seconds=4, size="720x1280", idempotency_key="s-4"),
            metadata=alice,
        )
        await refused(api, alice, "queued", stitch_of=[first, pending.generation.id])
        with api.app.context.sessions() as s:
            from sqlalchemy import func, select

            from services.generator.models import generations

            stitches = s.execute(
                select(func.count()).select_from(generations).where(generations.c.stitch_of != "[]")
            ).scalar_one()
        assert stitches == 1

        # The stitched video: one crossfade shorter than its sources together.
        ref, video = await download(api, gen.id, pb.MEDIA_VARIANT_VIDEO, alice)
        facts = probe_mp4(video)
        assert (facts.width, facts.height, facts.fps) == (720, 1280, 24.0)
        assert facts.frame_count == 96 + 96 - 12
        assert abs(facts.duration_s - 7.5) <= 1.5 / 24 and abs(ref.duration_ms - 7500) <= 60
        assert (facts.audio_codec, facts.audio_rate) == ("aac", 48000)

        # Provenance: signed for the stitch, its sources as ingredients with their own manifests.
        manifest, state = read_manifest(video)
        assert state == "Valid", state
        labels = {a["label"]: a["data"] for a in manifest["assertions"]}
        assert labels["org.kinora.generation"]["generation_id"] == gen.id
        ingredients = manifest["ingredients"]
        assert [i["title"] for i in ingredients] == [f"{first}.mp4", f"{second}.mp4"]
        assert all(i["relationship"] == "componentOf" and i.get("active_manifest") for i in ingredients)

        # Its own invisible mark, found among the sources' fading ones.
        mark = invisible_mark.detect_video(video)
        assert mark.payload is not None and api.app.generations.find_by_watermark(mark.payload).id == gen.id

        done = events_pb2.GenerationCompleted.FromString(events(api, "GenerationCompleted", gen.id)[0].payload)
        assert done.facts.user_id == "u-alice" and len(done.media) == 3
        row = await settled(api, gen.id)
        assert row.billing_state == "free" and row.reservation_id == ""

        # A source deleted while the stitch waits: the worker fails it, uncharged.
        queued = await api.stub.CreateGeneration(pb.CreateGenerationRequest(stitch_of=[gen.id, second]), metadata=alice)
        await api.stub.DeleteGeneration(pb.DeleteGenerationRequest(generation_id=second), metadata=alice)
        async with in_process_worker(settings, api):
            failed = (await follow(api, queued.generation.id, alice))[-1]
        assert failed.status == pb.GENERATION_STATUS_FAILED
        assert failed.error.code == "stitch_source_invalid" and second in failed.error.message
        assert (await settled(api, queued.generation.id)).billing_state == "free"
        assert billing.reservations("u-alice") and all(
            r.generation_id != gen.id for r in billing.reservations("u-alice")
        )
