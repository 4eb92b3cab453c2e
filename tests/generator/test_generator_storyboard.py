"""Storyboards, extensions and edits through the generator, on the real API,
worker, Triton (worldsim), billing and PostgreSQL: the clip is made and decoded
back (a storyboard cut at each shot's boundary when the model honours shots),
priced by the seconds the model makes, and every refusal leaves nothing written
and nothing charged."""

from __future__ import annotations

import io
import json

import av
import grpc
import numpy as np
import pytest
from generator_harness import TritonHarness, generator_settings, running_api
from PIL import Image
from sqlalchemy import func, select
from test_pipeline import download, follow, in_process_worker, settled

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import generator_pb2 as pb
from kinora.media import invisible_mark
from kinora.media.c2pa_sign import read_manifest
from kinora.media.probe import probe_mp4
from services.generator.models import generations
from services.generator.settings import model_routes

ROUTES = model_routes("standard=worldsim:standard,pro=worldsim:pro")


@pytest.fixture(scope="module")
def triton():
    with TritonHarness() as harness:
        yield harness


@pytest.fixture
def settings(pg_url, tmp_path, triton, billing):
    return generator_settings(pg_url, tmp_path, billing, triton_addr=triton.grpc_address, models=ROUTES)


def png(colour=(40, 90, 160), size=(64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def frame_changes(mp4: bytes) -> np.ndarray:
    """Mean absolute luma change from each frame to the next (a cut is a spike)."""
    changes, previous = [], None
    with av.open(io.BytesIO(mp4)) as container:
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray").astype(np.float32)
            if previous is not None:
                changes.append(float(np.abs(luma - previous).mean()))
            previous = luma
    return np.array(changes)


async def refused(api, auth, status, code: str, **fields) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.stub.CreateGeneration(pb.CreateGenerationRequest(**fields), metadata=auth)
    assert caught.value.code() == status, caught.value.details()
    assert code in str(caught.value.trailing_metadata()) or code in caught.value.details(), caught.value.details()
    return caught.value.details()


def rows(api) -> int:
    with api.app.context.sessions() as s:
        return s.execute(select(func.count()).select_from(generations)).scalar_one()


async def completed(api, auth, generation_id: str) -> pb.Generation:
    final = (await follow(api, generation_id, auth))[-1]
    assert final.status == pb.GENERATION_STATUS_COMPLETED, final.error
    return final


async def test_storyboard_is_one_clip_of_its_shots_total(settings, moderator, billing):
    async with running_api(settings, moderator, billing_service=billing) as api:
        alice = api.auth("u-alice", "alice")
        shots = [
            pb.Shot(prompt="a red kite rises over a beach", seconds=3, camera="pan_left"),
            pb.Shot(prompt="a dog runs in a snowy forest at night", seconds=3, image=png()),
            pb.Shot(prompt="a car drives down a rainy city street", seconds=2, camera="push_in"),
        ]
        created = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="The kite", shots=shots, seed=11, idempotency_key="sb-1"), metadata=alice
        )
        gen = created.generation
        assert gen.kind == "storyboard" and gen.seconds == 8 and gen.model == "standard"
        assert [(s.prompt, s.seconds, s.camera, s.start_seconds, s.has_image) for s in gen.shots] == [
            ("a red kite rises over a beach", 3, "pan_left", 0, False),
            ("a dog runs in a snowy forest at night", 3, "", 3, True),
            ("a car drives down a rainy city street", 2, "push_in", 6, False),
        ]
        assert not any(s.image for s in gen.shots)  # shot images are not sent back
        assert billing.reservation(gen.id).seconds == 8  # priced by the total
        again = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="The kite", shots=shots, seed=11, idempotency_key="sb-1"), metadata=alice
        )
        assert again.replayed and again.generation.id == gen.id
        await refused(
            api,
            alice,
            grpc.StatusCode.ABORTED,
            "idempotency_key_reused",
            prompt="The kite",
            shots=shots[:2],
            seed=11,
            idempotency_key="sb-1",
        )

        async with in_process_worker(settings, api):
            final = await completed(api, alice, gen.id)
        _, video = await download(api, gen.id, pb.MEDIA_VARIANT_VIDEO, alice)
        facts = probe_mp4(video)
        assert (facts.width, facts.height) == (720, 1280)
        assert abs(facts.duration_s - 8.0) <= 1.5 / 24, facts.duration_s
        assert final.seconds == 8 and len(final.shots) == 3
        report = json.loads(final.scene_report_json)
        if report.get("shots"):  # a model that honours shots (worldsim does) cuts at each boundary
            boundaries = [s.start_seconds * 24 for s in final.shots[1:]]
            assert [s["start_frame"] for s in report["shots"]] == [0, *boundaries], report["shots"]
            change = frame_changes(video)
            cuts = sorted(int(i) + 1 for i in np.argsort(change)[-len(boundaries) :])
            assert cuts == boundaries and min(change[b - 1] for b in boundaries) > 5 * np.median(change), cuts
        assert (await settled(api, gen.id)).billing_state == "captured"


async def test_storyboard_refusals_write_nothing_and_charge_nothing(settings, moderator, billing):
    async with running_api(settings, moderator, billing_service=billing) as api:
        alice = api.auth("u-alice", "alice")
        bad = grpc.StatusCode.INVALID_ARGUMENT

        def shot(seconds=3, **kw):
            return pb.Shot(prompt=kw.pop("prompt", "a boat sails"), seconds=seconds, **kw)

        assert "at most 15 s" in await refused(
            api, alice, bad, "storyboard_too_long", prompt="t", shots=[shot(8), shot(8)]
        )
        assert "1 to 6 shots" in await refused(api, alice, bad, "invalid_shots", prompt="t", shots=[shot(2)] * 7)
        assert "pan_left" in await refused(
            api, alice, bad, "invalid_camera", prompt="t", shots=[shot(camera="barrel_roll")]
        )
        assert "shot 2 needs a prompt" in await refused(
            api, alice, bad, "invalid_shots", prompt="t", shots=[shot(), shot(prompt=" ")]
        )
        assert "2 to 20" in await refused(api, alice, bad, "invalid_shots", prompt="t", shots=[shot(1)])
        assert "total" in await refused(
            api, alice, bad, "invalid_shots", prompt="t", shots=[shot(3), shot(3)], seconds=10
        )
        assert "shot 1" in await refused(
            api, alice, bad, "invalid_image", prompt="t", shots=[shot(image=b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)]
        )
        await refused(api, alice, bad, "storyboard_exclusive", prompt="t", shots=[shot()], input_image=png())
        await refused(api, alice, bad, "storyboard_exclusive", prompt="t", shots=[shot()], remix_of="gen_x")
        await refused(api, alice, bad, "prompt_required", prompt="", shots=[shot()])
        # Pro storyboards run to 25 s.
        billing.set_plan("u-alice", common_pb2.TIER_PRO)
        pro = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="t", model="pro", shots=[shot(13), shot(12)]), metadata=alice
        )
        assert pro.generation.seconds == 25
        await refused(api, alice, bad, "storyboard_too_long", prompt="t", model="pro", shots=[shot(13), shot(13)])
        assert rows(api) == 1 and len(billing.reservations("u-alice")) == 1


async def test_extension_joins_its_source_and_edit_remakes_it(settings, moderator, billing):
    async with running_api(settings, moderator, billing_service=billing) as api:
        alice, eve = api.auth("u-alice", "alice"), api.auth("u-eve", "eve")
        async with in_process_worker(settings, api):
            source = await api.stub.CreateGeneration(
                pb.CreateGenerationRequest(
                    prompt="a paper boat drifts on a pond", seconds=4, seed=3, idempotency_key="src"
                ),
                metadata=alice,
            )
            source = await completed(api, alice, source.generation.id)

            extended = (
                await api.stub.CreateGeneration(
                    pb.CreateGenerationRequest(prompt="the boat reaches the far bank", extend_of=source.id, seconds=4),
                    metadata=alice,
                )
            ).generation
            assert extended.kind == "extension" and extended.seconds == 8 and extended.extension_seconds == 4
            assert extended.size == source.size and extended.model == source.model
            assert billing.reservation(extended.id).seconds == 4  # priced by the new part
            edited = (
                await api.stub.CreateGeneration(
                    pb.CreateGenerationRequest(prompt="make it night", edit_of=source.id), metadata=alice
                )
            ).generation
            assert edited.kind == "edit" and edited.edit_of == source.id and edited.seconds == 4
            assert billing.reservation(edited.id).seconds == 4  # priced by the source's length
            extended = await completed(api, alice, extended.id)
            edited = await completed(api, alice, edited.id)

        _, video = await download(api, extended.id, pb.MEDIA_VARIANT_VIDEO, alice)
        facts = probe_mp4(video)
        assert abs(facts.duration_s - 8.0) <= 1.5 / 24, facts.duration_s  # the whole extended clip
        manifest, state = read_manifest(video)
        assert state == "Valid", state
        assert [i["title"] for i in manifest["ingredients"]] == [f"{source.id}.mp4"]
        mark = invisible_mark.detect_video(video)  # the source's frames now carry the extension's mark
        assert mark.payload is not None and api.app.generations.find_by_watermark(mark.payload).id == extended.id
        _, edit_video = await download(api, edited.id, pb.MEDIA_VARIANT_VIDEO, alice)
        assert abs(probe_mp4(edit_video).duration_s - 4.0) <= 1.5 / 24
        assert (await settled(api, extended.id)).billing_state == "captured"

        # Refusals: nothing written, nothing charged.
        before, held = rows(api), len(billing.reservations())
        nf, bad = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
        await refused(api, eve, nf, "generation_not_found", prompt="mine now", extend_of=source.id, seconds=4)
        await refused(api, eve, nf, "generation_not_found", prompt="make it night", edit_of=source.id)
        await refused(api, alice, nf, "generation_not_found", prompt="go on", extend_of="gen_missing", seconds=4)
        assert "4, 8, 10" in await refused(
            api, alice, bad, "invalid_seconds", prompt="go on", extend_of=source.id, seconds=5
        )
        await refused(api, alice, bad, "invalid_size", prompt="go on", extend_of=source.id, seconds=4, size="1280x720")
        await refused(api, alice, bad, "invalid_seconds", prompt="make it night", edit_of=source.id, seconds=8)
        await refused(api, alice, bad, "remix_and_extend", prompt="x", edit_of=source.id, extend_of=source.id)
        await refused(api, alice, bad, "edit_exclusive", prompt="x", edit_of=source.id, input_image=png())
        assert rows(api) == before and len(billing.reservations()) == held
