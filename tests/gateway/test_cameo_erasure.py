"""Deleting a cameo erases the person's likeness from every store, through the
public API and the real broker, on the five real services and a real
generator worker with Triton (worldsim).

The stores of a likeness (docs/cameo.md, "Erasure"):
- identity, blob folder: likeness/<user>/<verification>/ face crops and voice profile;
- identity, verifications.likeness: the pointers to them;
- identity, face_embeddings: the enrolled face (what MatchFaces compares with);
- cameo, cameos.likeness: the pointers it hands the generator (GetLikeness);
- generator, generations.scene_report: the cameo's voice profile copied into a clip's plan.
The liveness clip itself is never stored (only its crops and voice profile)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from gateway_platform import SECRET, auth
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker
from test_likeness_guard import ALICE_PHOTO, generate, verify_cameo

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.common.v1 import common_pb2
from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.ml import faces
from kinora.runtime.auth import mint_service_token
from kinora.runtime.clients import TokenSource
from kinora.testing import bearer

pytestmark = pytest.mark.asyncio(loop_scope="module")

_name = "generator_harness_for_erasure"
if _name not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        _name, Path(__file__).resolve().parents[1] / "generator" / "generator_harness.py"
    )
    sys.modules[_name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_name])
harness = sys.modules[_name]


def engine_for(app):
    return create_engine(app.settings.database_url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)


@asynccontextmanager
async def generator_worker(platform):
    """A real worker (Triton serving worldsim) on the platform's generator
    database, reading face crops and voice profiles from identity's folder."""
    from kinora.runtime.db import session_factory
    from services.generator.remote import GrpcBilling, GrpcConsentChecker

    gen, identity = platform.apps["generator"].settings, platform.apps["identity"].settings

    async def token():
        return mint_service_token("generator", SECRET)

    tokens = TokenSource(token)
    with harness.TritonHarness() as triton:
        settings = replace(
            gen, triton_addr=triton.grpc_address, likeness_dir=identity.blob_dir, poll_seconds=0.05, lease_seconds=30.0
        )
        engine = engine_for(platform.apps["generator"])
        try:
            consent = GrpcConsentChecker(gen.cameo_addr, tokens, identity.blob_dir)
            async with harness.running_worker(
                settings, session_factory(engine), GrpcBilling(gen.billing_addr, tokens), consent
            ) as worker:
                yield worker
        finally:
            engine.dispose()


def alice_embedding() -> bytes:
    found = faces.find_faces(faces.decode(ALICE_PHOTO))
    assert len(found) == 1
    return faces.to_bytes(found[0].embedding)


async def match_faces(platform, embedding: bytes) -> list[str]:
    async with grpc.aio.insecure_channel(platform.identity_addr) as ch:
        reply = await identity_pb2_grpc.IdentityServiceStub(ch).MatchFaces(
            identity_pb2.MatchFacesRequest(embeddings=[embedding]),
            metadata=bearer(mint_service_token("generator", SECRET)[0]),
        )
    return [m.user_id for m in reply.matches]


def likeness_stores(platform, user_id: str, generation_id: str) -> dict[str, object]:
    """What every store holds of the person's likeness (empty values: nothing)."""
    identity, cameo, gen = (platform.apps[n] for n in ("identity", "cameo", "generator"))
    folder = Path(identity.settings.blob_dir) / "likeness" / user_id
    found = {
        "identity blob folder": sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    }
    engine = engine_for(identity)
    try:
        with engine.connect() as c:
            found["identity verifications.likeness"] = [
                r[0]
                for r in c.execute(
                    text("SELECT likeness FROM verifications WHERE user_id = :u AND likeness IS NOT NULL"),
                    {"u": user_id},
                )
            ]
            found["identity face_embeddings"] = c.execute(
                text("SELECT count(*) FROM face_embeddings WHERE user_id = :u"), {"u": user_id}
            ).scalar()
    finally:
        engine.dispose()
    engine = engine_for(cameo)
    try:
        with engine.connect() as c:
            assets = common_pb2.LikenessAssets()
            assets.ParseFromString(
                c.execute(text("SELECT likeness FROM cameos WHERE owner_user_id = :u"), {"u": user_id}).scalar() or b""
            )
            found["cameo cameos.likeness"] = [r.key for r in [*assets.face_crops, assets.voice_profile] if r.key]
    finally:
        engine.dispose()
    engine = engine_for(gen)
    try:
        with engine.connect() as c:
            report = json.loads(
                c.execute(text("SELECT scene_report FROM generations WHERE id = :g"), {"g": generation_id}).scalar()
                or "{}"
            )
        found["generator scene plan voices"] = [
            e["voice"] for e in report.get("plan", {}).get("entities", []) if (e.get("voice") or {}).get("from_cameo")
        ]
    finally:
        engine.dispose()
    return found


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=180) as c:
        yield c


async def test_deleting_a_cameo_erases_the_likeness_from_every_store(platform, client):
    alice, bob = await platform.signup(client, "alice"), await platform.signup(client, "bob")
    await verify_cameo(client, alice)

    # A clip of alice, made by a real worker: her voice profile goes into its scene plan.
    async with generator_worker(platform):
        made = await client.post(
            "/api/v1/generations",
            headers={**auth(alice), "Idempotency-Key": uuid.uuid4().hex},
            json={"prompt": 'a person says "hello" on a basketball court', "cameos": ["alice"], "seconds": 4},
        )
        assert made.status_code == 201, made.text
        generation_id = made.json()["generation"]["id"]
        for _ in range(1200):
            status = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(alice))).json()
            if status["generation"]["status"] in ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED"):
                break
            await asyncio.sleep(0.25)
        assert status["generation"]["status"] == "GENERATION_STATUS_COMPLETED", status

    # Every store holds her likeness, and an other photo of her is recognised as her.
    before = likeness_stores(platform, alice["id"], generation_id)
    assert all(before.values()), before
    assert {"face_0.png", "voice_profile.json"} <= {Path(p).name for p in before["identity blob folder"]}
    embedding = await asyncio.to_thread(alice_embedding)
    assert await match_faces(platform, embedding) == [alice["id"]]

    # She deletes her cameo, keeping the clips (the erasure does not depend on a takedown).
    deleted = await client.delete("/api/v1/cameo", headers=auth(alice), params={"takedown": "false"})
    assert deleted.status_code == 200, deleted.text
    for _ in range(300):  # identity and generator erase when CameoDeleted reaches them through the broker
        after = likeness_stores(platform, alice["id"], generation_id)
        if not any(after.values()):
            break
        await asyncio.sleep(0.1)
    assert not any(after.values()), after
    assert await match_faces(platform, embedding) == []
    # The clip stays (she chose no takedown); only the likeness copied into its plan is gone.
    kept = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(alice))).json()["generation"]
    assert kept["status"] == "GENERATION_STATUS_COMPLETED"

    # Her photo is now a stranger's face to the likeness guard, not her deleted cameo.
    refused = await generate(client, bob, ALICE_PHOTO)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "likeness_unknown_face", refused.text

    # Delivered again (a consumer crash before its offset commit), the erasure changes nothing and fails nothing.
    from services.generator import handlers as gen_handlers
    from services.identity import handlers as id_handlers
    from services.identity.blobs import BlobStore

    engine = engine_for(platform.apps["cameo"])
    with engine.connect() as c:
        payload = c.execute(
            text("SELECT payload FROM outbox WHERE event_type = :t"), {"t": cameo_ev.CameoDeleted.DESCRIPTOR.full_name}
        ).scalar_one()
    engine.dispose()
    event = cameo_ev.CameoDeleted.FromString(payload)
    assert event.verification_id
    identity_blobs = BlobStore(platform.apps["identity"].settings.blob_dir)
    for app, handle in (
        (platform.apps["identity"], id_handlers.consumed_events(identity_blobs)[cameo_ev.CameoDeleted]),
        (platform.apps["generator"], gen_handlers.on_cameo_deleted),
    ):
        engine = engine_for(app)
        try:
            with sessionmaker(engine).begin() as s:
                handle(s, event, None)
        finally:
            engine.dispose()
    assert not any(likeness_stores(platform, alice["id"], generation_id).values())
