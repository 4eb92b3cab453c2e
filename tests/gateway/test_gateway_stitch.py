"""Stitching through the public API on the real services, broker and a real
generator worker (Triton serving worldsim): a stitch of two of bob's clips,
one with alice's cameo, is made, downloaded and decoded; it keeps the cameo
(alice's appearances list it); bad requests get clear 400s; once alice
revokes bob's access, the same stitch is refused."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth
from test_cameo_erasure import generator_worker
from test_likeness_guard import verify_cameo

from kinora.media.c2pa_sign import read_manifest
from kinora.media.probe import probe_mp4

pytestmark = pytest.mark.asyncio(loop_scope="module")
DONE = ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED", "GENERATION_STATUS_CANCELED")


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=180) as c:
        yield c


async def create(client, user, body: dict) -> httpx.Response:
    return await client.post(
        "/api/v1/generations", headers={**auth(user), "Idempotency-Key": uuid.uuid4().hex}, json=body
    )


async def finished(client, user, generation_id: str) -> dict:
    for _ in range(2400):
        generation = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(user))).json()
        if generation["generation"]["status"] in DONE:
            return generation["generation"]
        await asyncio.sleep(0.25)
    raise AssertionError(f"{generation_id} never finished")


async def test_stitch_keeps_cameos_and_checks_consent(platform, client):
    alice, bob = await platform.signup(client, "alice"), await platform.signup(client, "bob")
    await verify_cameo(client, alice)
    for path, user, body, status in (
        ("/api/v1/cameo/policy", alice, {"policy": "approved"}, 200),
        ("/api/v1/cameos/alice/approval-requests", bob, {}, 201),
        ("/api/v1/cameo/approvals", alice, {"handle": "bob"}, 200),
    ):
        send = client.put if path.endswith("policy") else client.post
        reply = await send(path, headers=auth(user), json=body)
        assert reply.status_code == status, reply.text
    cameo_id = (await client.get("/api/v1/cameo", headers=auth(alice))).json()["id"]

    async with generator_worker(platform):
        with_alice = await create(
            client, bob, {"prompt": "a person waves on a beach", "cameos": ["alice"], "seconds": 4}
        )
        plain = await create(client, bob, {"prompt": "waves roll onto a beach", "seconds": 4})
        assert with_alice.status_code == plain.status_code == 201, (with_alice.text, plain.text)
        first, second = with_alice.json()["generation"]["id"], plain.json()["generation"]["id"]
        for gid in (first, second):
            assert (await finished(client, bob, gid))["status"] == "GENERATION_STATUS_COMPLETED"

        # Clear 400s, nothing written.
        for body, code in (
            ({"stitch_of": [first]}, "stitch_source_count"),
            ({"stitch_of": [first] * 11}, "stitch_source_count"),
            ({"stitch_of": [first, second], "crossfade_seconds": 2}, "invalid_request"),
            ({"stitch_of": [first, second], "seconds": 8}, "stitch_exclusive"),
            ({"stitch_of": "not a list"}, "invalid_request"),
        ):
            refused = await create(client, bob, body)
            assert refused.status_code == 400 and refused.json()["error"]["code"] == code, (body, refused.text)
        theirs = await create(client, alice, {"stitch_of": [first, second]})
        assert theirs.status_code == 400 and theirs.json()["error"]["code"] == "stitch_source_invalid", theirs.text

        made = await create(
            client, bob, {"stitch_of": [first, second], "crossfade_seconds": 0.25, "prompt": "beach day"}
        )
        assert made.status_code == 201, made.text
        stitch = made.json()["generation"]
        assert stitch["stitch_of"] == [first, second] and stitch["cameo_ids"] == [cameo_id]
        done = await finished(client, bob, stitch["id"])
        assert done["status"] == "GENERATION_STATUS_COMPLETED", done

    video = await client.get(
        f"/api/v1/generations/{stitch['id']}/content", headers=auth(bob), params={"variant": "video"}
    )
    assert video.status_code == 200, video.text
    facts = probe_mp4(video.content)
    assert facts.frame_count == 96 + 96 - 6 and abs(facts.duration_s - 7.75) <= 1.5 / 24
    manifest, state = read_manifest(video.content)
    assert state == "Valid" and [i["title"] for i in manifest["ingredients"]] == [f"{first}.mp4", f"{second}.mp4"]

    # The stitch is one more appearance of alice's cameo.
    for _ in range(200):
        listed = (await client.get("/api/v1/cameo/appearances", headers=auth(alice))).json().get("appearances", [])
        if any(a["generation_id"] == stitch["id"] for a in listed):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the stitch never reached alice's appearances")

    # Alice withdraws bob's access (his clip stays): his clip can no longer be stitched.
    revoked = await client.post(
        "/api/v1/cameo/revocations", headers=auth(alice), json={"handle": "bob", "takedown": False}
    )
    assert revoked.status_code == 200, revoked.text
    again = await create(client, bob, {"stitch_of": [second, first]})
    assert again.status_code == 403 and again.json()["error"]["code"] == "consent_denied", again.text
    # A stitch without her clip is still fine.
    assert (await create(client, bob, {"stitch_of": [second, second]})).status_code == 201
