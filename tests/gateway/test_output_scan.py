"""The likeness guard on outputs: before a clip completes, the worker scans
its frames, and a face of an enrolled person who is not one of the job's
consented cameos fails the job uncharged.

On the five real services, a real worker with Triton (worldsim) and the real
face model: alice's cameo is verified from a real liveness clip, worldsim draws
her verified face crop on her character, and identity recognises it."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import pytest
from gateway_platform import SECRET, auth
from sqlalchemy import text
from test_cameo_erasure import engine_for, harness
from test_likeness_guard import verify_cameo

from kinora.models.contract import ModelResult
from kinora.runtime.auth import mint_service_token
from kinora.runtime.clients import TokenSource
from kinora.runtime.db import session_factory
from services.generator.likeness import LikenessGuard
from services.generator.remote import GrpcBilling, GrpcConsentChecker, GrpcFaceDirectory

pytestmark = pytest.mark.asyncio(loop_scope="module")


@asynccontextmanager
async def worker_with_guard(platform, run: bool = True):
    """A worker with the output scan (and the guard it scans with)."""
    gen, identity = platform.apps["generator"].settings, platform.apps["identity"].settings

    async def token():
        return mint_service_token("generator", SECRET)

    tokens = TokenSource(token)
    guard = LikenessGuard(GrpcFaceDirectory(gen.identity_addr, gen.cameo_addr, tokens))
    with harness.TritonHarness() as triton:
        settings = replace(
            gen,
            triton_addr=triton.grpc_address,
            likeness_dir=identity.blob_dir,
            poll_seconds=0.05,
            lease_seconds=30.0,
            scan_outputs=True,
        )
        engine = engine_for(platform.apps["generator"])
        try:
            consent = GrpcConsentChecker(gen.cameo_addr, tokens, identity.blob_dir)
            billing = GrpcBilling(gen.billing_addr, tokens)
            if run:
                async with harness.running_worker(
                    settings, session_factory(engine), billing, consent, likeness=guard
                ) as worker:
                    yield worker, guard
            else:
                from services.generator.worker import Worker

                yield (
                    Worker(settings, session_factory(engine), None, billing, consent, None, None, likeness=guard),
                    guard,
                )
        finally:
            engine.dispose()


async def wait_done(client, user, generation_id) -> dict:
    for _ in range(1200):
        g = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(user))).json()["generation"]
        if g["status"] in ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED"):
            return g
        await asyncio.sleep(0.25)
    raise AssertionError(f"{generation_id} never finished")


async def billing_state(platform, generation_id: str) -> str:
    """The generation's billing state once settled: a job is marked completed (or failed)
    with capture_pending (release_pending) and billing is called right after, so a reader
    can see the pending state for a moment."""
    engine = engine_for(platform.apps["generator"])
    try:
        for _ in range(240):
            with engine.connect() as c:
                state = c.execute(
                    text("SELECT billing_state FROM generations WHERE id = :g"), {"g": generation_id}
                ).scalar()
            if not state.endswith("_pending"):
                return state
            await asyncio.sleep(0.25)
        return state
    finally:
        engine.dispose()


async def test_a_clip_showing_someone_who_did_not_consent_fails_uncharged(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=180) as client:
        alice, bob = await platform.signup(client, "alice"), await platform.signup(client, "bob")
        await verify_cameo(client, alice)
        cameo_id = (await client.get("/api/v1/cameo", headers=auth(alice))).json()["id"]

        # Her own clip with her cameo: the scan sees her, she consented, it completes and is charged.
        async with worker_with_guard(platform) as (_, guard):
            made = await client.post(
                "/api/v1/generations",
                headers={**auth(alice), "Idempotency-Key": uuid.uuid4().hex},
                json={"prompt": "alice waves at the camera in a park", "cameos": ["alice"], "seconds": 4},
            )
            assert made.status_code == 201, made.text
            done = await wait_done(client, alice, made.json()["generation"]["id"])
            assert done["status"] == "GENERATION_STATUS_COMPLETED", done
            assert await billing_state(platform, done["id"]) == "captured"
            mp4 = (await client.get(f"/api/v1/generations/{done['id']}/content", headers=auth(alice))).content

            # The same real clip, scanned for a job whose consented cameos don't include her.
            seen = await guard.check_output(mp4, [cameo_id])
            assert seen.cameo_ids == (cameo_id,) and seen.refusal is None, seen
            refused = await guard.check_output(mp4, [])
            assert refused.unconsented == 1 and "likeness policy" in refused.refusal
            assert "alice" not in refused.refusal.lower()

        # Bob's job names no cameo; the clip it gets back shows alice: it fails, and nothing is charged.
        made = await client.post(
            "/api/v1/generations",
            headers={**auth(bob), "Idempotency-Key": uuid.uuid4().hex},
            json={"prompt": "a person waves at the camera in a park", "seconds": 4},
        )
        assert made.status_code == 201, made.text
        generation_id = made.json()["generation"]["id"]
        async with worker_with_guard(platform, run=False) as (worker, _):
            claim = await asyncio.to_thread(worker.queue.claim, worker.worker_id, worker.pool, worker.models)
            assert claim is not None and claim.generation_id == generation_id
            await worker._finish(claim, ModelResult(mp4=mp4, thumbnail_jpeg=b"", report={}), 1.0)
        failed = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(bob))).json()["generation"]
        assert failed["status"] == "GENERATION_STATUS_FAILED", failed
        assert failed["error"]["code"] == "unconsented_likeness", failed
        assert "likeness policy" in failed["error"]["message"] and "alice" not in failed["error"]["message"].lower()
        assert await billing_state(platform, generation_id) == "released"
