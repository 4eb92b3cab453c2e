"""GeneratorService without the model: validation, idempotency, billing
holds, cancel while queued, lists, pools, download tokens, takedowns."""

from __future__ import annotations

import io

import grpc
import pytest
from PIL import Image
from sqlalchemy import select

from kinora.cameo.v1 import events_pb2 as cameo_events
from kinora.common.v1 import common_pb2
from kinora.generator.v1 import generator_pb2 as pb
from kinora.runtime.errors import error_code_of
from services.generator.models import generations, outbox_rows


def image_bytes(fmt: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format=fmt)
    return out.getvalue()


async def refused(api, **fields):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.stub.CreateGeneration(pb.CreateGenerationRequest(**fields), metadata=api.auth())
    return caught.value.code(), error_code_of(caught.value), caught.value.details()


BAD_REQUESTS = [
    (dict(prompt=""), "prompt_required"),
    (dict(prompt="   "), "prompt_required"),
    (dict(prompt="x" * 2001), "prompt_too_long"),
    (dict(prompt="a cat", seconds=5), "invalid_seconds"),
    (dict(prompt="a cat", seconds=30), "invalid_seconds"),
    (dict(prompt="a cat", size="640x480"), "invalid_size"),
    (dict(prompt="a cat", size="big"), "invalid_size"),
    (dict(prompt="a cat", size="1080x1920"), "size_requires_pro"),
    (dict(prompt="a cat", size="1920x1080", model="sora-2"), "size_requires_pro"),
    (dict(prompt="a cat", model="sora-3"), "invalid_model"),
    (dict(prompt="a cat", cameo_ids=["a", "b", "c"]), "too_many_cameos"),
    (dict(prompt="a cat", cameo_ids=["a", "a"]), "invalid_cameo"),
    (dict(prompt="a cat", seed=-1), "invalid_seed"),
    (dict(prompt="a cat", remix_of="gen_x", extend_of="gen_y"), "remix_and_extend"),
    (dict(prompt="a cat", remix_of="gen_missing"), "remix_source_invalid"),
    (dict(prompt="a cat", idempotency_key="k" * 300), "invalid_idempotency_key"),
    (dict(prompt="a cat", input_image=image_bytes("GIF")), "unsupported_image_type"),
    (dict(prompt="a cat", input_image=b"\x89PNG\r\n\x1a\n" + b"\x00" * 100), "invalid_image"),
    (dict(prompt="a cat", input_image=image_bytes("PNG")[:-40]), "invalid_image"),
    (dict(prompt="a cat", input_image=image_bytes("PNG", (8, 8))), "invalid_image_dimensions"),
    (dict(prompt="a cat", input_image=b"\xff" * (10 * 1024 * 1024 + 1)), "image_too_large"),
]


async def test_every_validated_field_is_refused_with_its_code_and_nothing_changes(api):
    for fields, code in BAD_REQUESTS:
        status, got, message = await refused(api, **fields)
        assert (status, got) == (grpc.StatusCode.INVALID_ARGUMENT, code), (fields.keys(), got, message)
        assert message and len(message) > 10
    with api.app.context.sessions() as s:
        assert s.execute(select(generations)).all() == []
        assert s.execute(select(outbox_rows()).where(outbox_rows().c.aggregate_type == "generation")).all() == []
    assert api.billing.reservations() == []


async def test_moderation_refusal_names_the_category_before_anything_is_charged(api):
    status, code, message = await refused(api, prompt="a graphic beheading with blood spraying everywhere")
    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert code == "moderation_graphic_violence" and "graphic_violence" in message
    assert api.billing.reservations() == []


async def test_cameos_are_refused_when_consent_cannot_be_checked(api):
    status, code, _ = await refused(api, prompt="me surfing", cameo_ids=["cameo_1"])
    assert (status, code) == (grpc.StatusCode.FAILED_PRECONDITION, "consent_unavailable")


async def test_valid_images_of_each_type_are_accepted(api):
    for fmt in ("PNG", "JPEG", "WEBP"):
        reply = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(
                prompt="a red ball rolls", input_image=image_bytes(fmt), seconds=4, size="1280x720"
            ),
            metadata=api.auth(),
        )
        assert reply.generation.has_input_image and reply.generation.size == "1280x720"


async def test_idempotent_create_returns_the_same_job_and_holds_once(api):
    request = pb.CreateGenerationRequest(
        prompt="a dog catches a frisbee", idempotency_key="key-1", seconds=4, seed=7, model="sora-2"
    )
    first = await api.stub.CreateGeneration(request, metadata=api.auth())
    again = await api.stub.CreateGeneration(request, metadata=api.auth())
    assert not first.replayed and again.replayed
    assert first.generation.id == again.generation.id
    g = first.generation
    assert (g.status, g.model, g.seconds, g.size, g.seed, g.tier) == (
        pb.GENERATION_STATUS_QUEUED,
        "standard",
        4,
        "720x1280",
        7,
        common_pb2.TIER_FREE,
    )
    assert g.reservation_id
    # The same key from another user is another job.
    other = await api.stub.CreateGeneration(request, metadata=api.auth("u-bob", "bob"))
    assert other.generation.id != g.id and not other.replayed
    # Reusing the key for a different request is refused, not silently replayed.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt="something else", idempotency_key="key-1"), metadata=api.auth()
        )
    assert error_code_of(caught.value) == "idempotency_key_reused"
    holds = api.billing.reservations("u-alice")
    with api.app.context.sessions() as s:
        requested = s.execute(
            select(outbox_rows()).where(outbox_rows().c.event_type == "kinora.generator.v1.GenerationRequested")
        ).all()
    assert len(holds) == 1 and len(requested) == 2


async def test_concurrent_retries_make_one_job(api):
    import asyncio

    request = pb.CreateGenerationRequest(prompt="waves on a beach", idempotency_key="race", seconds=4)
    replies = await asyncio.gather(*[api.stub.CreateGeneration(request, metadata=api.auth()) for _ in range(5)])
    assert len({r.generation.id for r in replies}) == 1
    assert sum(not r.replayed for r in replies) == 1
    assert len(api.billing.reservations()) == 1


async def test_cancel_queued_releases_and_get_list_delete(api):
    ids = []
    for i in range(3):
        reply = await api.stub.CreateGeneration(
            pb.CreateGenerationRequest(prompt=f"a kite number {i}", seconds=4), metadata=api.auth()
        )
        ids.append(reply.generation.id)
    got = await api.stub.GetGeneration(pb.GetGenerationRequest(generation_id=ids[2]), metadata=api.auth())
    assert got.generation.queue_position == 2
    canceled = await api.stub.CancelGeneration(pb.CancelGenerationRequest(generation_id=ids[0]), metadata=api.auth())
    assert canceled.generation.status == pb.GENERATION_STATUS_CANCELED
    assert api.billing.reservation(ids[0]).status == "released"
    # Someone else can't see, cancel or delete it.
    for call, req in (
        (api.stub.GetGeneration, pb.GetGenerationRequest(generation_id=ids[1])),
        (api.stub.CancelGeneration, pb.CancelGenerationRequest(generation_id=ids[1])),
        (api.stub.DeleteGeneration, pb.DeleteGenerationRequest(generation_id=ids[1])),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call(req, metadata=api.auth("u-mallory", "mallory"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # Cursor pages, newest first.
    page1 = await api.stub.ListGenerations(
        pb.ListGenerationsRequest(page=common_pb2.PageRequest(page_size=2)), metadata=api.auth()
    )
    assert [g.id for g in page1.generations] == [ids[2], ids[1]] and page1.has_more
    page2 = await api.stub.ListGenerations(
        pb.ListGenerationsRequest(page=common_pb2.PageRequest(page_size=2, page_token=page1.next_page_token)),
        metadata=api.auth(),
    )
    assert [g.id for g in page2.generations] == [ids[0]] and not page2.has_more
    only_canceled = await api.stub.ListGenerations(
        pb.ListGenerationsRequest(status=pb.GENERATION_STATUS_CANCELED), metadata=api.auth()
    )
    assert [g.id for g in only_canceled.generations] == [ids[0]]
    await api.stub.DeleteGeneration(pb.DeleteGenerationRequest(generation_id=ids[1]), metadata=api.auth())
    assert api.billing.reservation(ids[1]).status == "released"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.stub.GetGeneration(pb.GetGenerationRequest(generation_id=ids[1]), metadata=api.auth())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    # A finished job can't be canceled again.
    with pytest.raises(grpc.aio.AioRpcError):
        await api.stub.StreamGeneration(pb.StreamGenerationRequest(generation_id=ids[1]), metadata=api.auth()).read()


async def test_tiers_and_fair_order_within_a_tier(api):
    from services.generator.models import tables
    from services.generator.queue import JobQueue

    api.billing.set_plan("u-pro", common_pb2.TIER_PRO)
    made = []
    for user, n in (("u-heavy", 3), ("u-light", 1), ("u-pro", 1)):
        for i in range(n):
            r = await api.stub.CreateGeneration(
                pb.CreateGenerationRequest(prompt=f"clip {user} {i}", seconds=4), metadata=api.auth(user, user)
            )
            made.append((user, r.generation.id))
    queue = JobQueue(api.app.context.sessions, tables, 30, 3)
    order = []
    while (claim := queue.claim("w1", "default", ["standard", "pro"])) is not None:
        order.append(claim.row.user_id)
    assert order == ["u-pro", "u-heavy", "u-light", "u-heavy", "u-heavy"]


async def test_pools_drain_resume_and_admin_scope(api):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.pools.ListPools(pb.ListPoolsRequest(), metadata=api.auth())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = api.auth("u-ops", "ops", scopes=["admin"])
    await api.stub.CreateGeneration(pb.CreateGenerationRequest(prompt="a paper plane", seconds=4), metadata=api.auth())
    pools = (await api.pools.ListPools(pb.ListPoolsRequest(), metadata=admin)).pools
    assert [p.name for p in pools] == ["default"] and set(pools[0].models) == {"standard", "pro"}
    free = [q for q in pools[0].queues if q.tier == common_pb2.TIER_FREE][0]
    assert free.depth == 1 and free.oldest_wait_seconds >= 0
    drained = await api.pools.DrainPool(pb.DrainPoolRequest(pool_name="default", reason="maintenance"), metadata=admin)
    assert drained.pool.state == pb.POOL_STATE_DRAINED and drained.pool.drain_reason == "maintenance"
    from services.generator.models import tables
    from services.generator.queue import JobQueue

    queue = JobQueue(api.app.context.sessions, tables, 30, 3)
    assert queue.claim("w1", "default", ["standard"]) is None
    resumed = await api.pools.ResumePool(pb.ResumePoolRequest(pool_name="default"), metadata=admin)
    assert resumed.pool.state == pb.POOL_STATE_ACTIVE
    assert queue.claim("w1", "default", ["standard"]) is not None
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.pools.DrainPool(pb.DrainPoolRequest(pool_name="nope"), metadata=admin)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_demand_is_published_for_billing(api):
    import asyncio

    await api.stub.CreateGeneration(pb.CreateGenerationRequest(prompt="a paper plane", seconds=4), metadata=api.auth())
    await asyncio.sleep(1.2)
    from kinora.generator.v1 import events_pb2

    with api.app.context.sessions() as s:
        rows = s.execute(
            select(outbox_rows()).where(outbox_rows().c.event_type == "kinora.generator.v1.DemandChanged")
        ).all()
    assert rows
    demand = events_pb2.DemandChanged.FromString(rows[-1].payload)
    free = [t for t in demand.tiers if t.tier == common_pb2.TIER_FREE][0]
    assert demand.pool_name == "default" and free.queue_depth == 1
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("kinora_generation_queue_depth", {"tier": "free", "model": "standard"}) == 1


def test_takedown_handler_deletes_media_and_is_idempotent(tmp_path, pg_url):
    import json

    from kinora.runtime.db import make_engine, session_factory, transaction
    from kinora.runtime.migrations import upgrade
    from services.generator.blobs import FilesystemBlobStore
    from services.generator.domain import now
    from services.generator.handlers import on_takedown
    from services.generator.models import tables
    from services.generator.server import MIGRATIONS

    upgrade(MIGRATIONS, pg_url)
    engine = make_engine(pg_url, pool_size=1)
    sessions = session_factory(engine)
    blobs = FilesystemBlobStore(tmp_path)
    blobs.put("gen_1/a1/video.mp4", b"video")
    with transaction(sessions) as s:
        s.execute(
            generations.insert().values(
                id="gen_1",
                user_id="u1",
                request_hash="h",
                status="completed",
                prompt="p",
                model="standard",
                seconds=4,
                width=720,
                height=1280,
                seed=1,
                tier=1,
                created_at=now(),
                updated_at=now(),
                media=json.dumps([{"key": "gen_1/a1/video.mp4", "variant": 1}]),
            )
        )
    handle = on_takedown(tables, blobs)
    message = cameo_events.TakedownRequested(
        takedown_id="td1",
        cameo_id="c1",
        target_kind=cameo_events.TAKEDOWN_TARGET_KIND_GENERATION,
        target_ids=["gen_1", "gen_unknown"],
    )
    for _ in range(2):
        with transaction(sessions) as s:
            handle(s, message, None)
    with sessions() as s:
        row = s.execute(select(generations)).one()
        taken = s.execute(
            select(outbox_rows()).where(outbox_rows().c.event_type == "kinora.generator.v1.GenerationTakenDown")
        ).all()
    assert row.taken_down and json.loads(row.media) == [] and not blobs.exists("gen_1/a1/video.mp4")
    assert len(taken) == 1
    engine.dispose()
