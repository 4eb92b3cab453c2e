"""Storyboards, extensions and edits through the public API on the real services,
broker and a real generator worker (Triton serving worldsim): bob's storyboard with
alice's cameo is made and decoded back (its length the shots' total), extended (the
whole longer clip) and edited, each keeping alice's cameo (her appearances list them);
the attacks are refused with clear errors and nothing charged: a storyboard naming a
cameo its maker may not use (listed, or @mentioned in a shot), bad storyboards, extending or editing someone else's
private clip, and extending or editing once the cameo's owner withdrew consent."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth
from PIL import Image
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


def headers(user) -> dict:
    return {**auth(user), "Idempotency-Key": uuid.uuid4().hex}


async def create(client, user, body: dict) -> httpx.Response:
    return await client.post("/api/v1/generations", headers=headers(user), json=body)


async def finished(client, user, generation_id: str) -> dict:
    for _ in range(2400):
        generation = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(user))).json()
        if generation["generation"]["status"] in DONE:
            return generation["generation"]
        await asyncio.sleep(0.25)
    raise AssertionError(f"{generation_id} never finished")


async def completed(client, user, reply: httpx.Response) -> dict:
    assert reply.status_code == 201, reply.text
    done = await finished(client, user, reply.json()["generation"]["id"])
    assert done["status"] == "GENERATION_STATUS_COMPLETED", done
    return done


async def video_of(client, user, generation_id: str) -> bytes:
    reply = await client.get(
        f"/api/v1/generations/{generation_id}/content", headers=auth(user), params={"variant": "video"}
    )
    assert reply.status_code == 200, reply.text
    return reply.content


def refused(reply: httpx.Response, status: int, code: str) -> str:
    assert reply.status_code == status and reply.json()["error"]["code"] == code, reply.text
    message = reply.json()["error"]["message"]
    assert len(message) > 15, message
    return message


async def balance(client, user) -> dict:
    return (await client.get("/api/v1/billing/balance", headers=auth(user))).json()


async def generation_count(client, user) -> int:
    return len((await client.get("/api/v1/generations", headers=auth(user))).json().get("generations", []))


async def appears_in(client, owner, generation_ids) -> None:
    for _ in range(900):  # at least 90 s: the appearances travel by event through the broker
        listed = (await client.get("/api/v1/cameo/appearances", headers=auth(owner))).json().get("appearances", [])
        if set(generation_ids) <= {a["generation_id"] for a in listed}:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{generation_ids} never all reached the cameo owner's appearances")


def png_b64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 160, 60)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


async def test_storyboard_extend_and_edit_keep_cameos_and_refuse_attacks(platform, client):
    alice, bob, carol = (
        await platform.signup(client, "alice"),
        await platform.signup(client, "bob"),
        await platform.signup(client, "carol"),
    )
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

    # Bad storyboards: clear 400s, nothing written or charged.
    carol_before = await balance(client, carol)
    shot = {"prompt": "a lighthouse at dusk", "seconds": 3}
    for body, code, words in (
        (
            {"prompt": "t", "shots": [{**shot, "seconds": 8}, {**shot, "seconds": 8}]},
            "storyboard_too_long",
            "at most 15 s",
        ),
        ({"prompt": "t", "shots": [{**shot, "camera": "dolly_zoom"}]}, "invalid_camera", "pan_left"),
        ({"prompt": "t", "shots": [{**shot, "seconds": 2}] * 7}, "invalid_shots", "1 to 6 shots"),
        ({"prompt": "t", "shots": [{**shot, "image_b64": "not base64!"}]}, "invalid_image", "base64"),
        ({"prompt": "t", "shots": [shot], "remix_of": "gen_x"}, "storyboard_exclusive", "own image"),
    ):
        assert words in refused(await create(client, carol, body), 400, code)
    # A storyboard naming a cameo its maker may not use: refused by consent, nothing charged.
    refused(
        await create(
            client,
            carol,
            {
                "prompt": "a day out",
                "cameos": ["alice"],
                "shots": [
                    {"prompt": "a person walks a dog", "seconds": 2},
                    {"prompt": "a person waves", "seconds": 2, "image_b64": png_b64()},
                ],
            },
        ),
        403,
        "consent_denied",
    )
    # ... or naming it by an @mention in one shot's prompt only.
    refused(
        await create(
            client,
            carol,
            {
                "prompt": "a day out",
                "shots": [
                    {"prompt": "a dog runs on a beach", "seconds": 2},
                    {"prompt": "@alice throws the dog a ball", "seconds": 2},
                ],
            },
        ),
        403,
        "consent_denied",
    )
    assert await balance(client, carol) == carol_before and await generation_count(client, carol) == 0

    async with generator_worker(platform):
        # Multipart: the shots as JSON text, shot 2's first frame as the file shot_image_2.
        shots = [
            {"prompt": "a person walks along a beach", "seconds": 2, "camera": "pan_right"},
            {"prompt": "a person looks at the sea", "seconds": 3},
        ]
        board = await completed(
            client,
            bob,
            await client.post(
                "/api/v1/generations",
                headers=headers(bob),
                files={
                    "prompt": (None, "A walk"),
                    "cameos": (None, "alice"),
                    "seed": (None, "5"),
                    "shots": (None, json.dumps(shots)),
                    "shot_image_2": ("sea.png", base64.b64decode(png_b64()), "image/png"),
                },
            ),
        )
        assert board["kind"] == "storyboard" and board["seconds"] == 5 and board["cameo_ids"] == [cameo_id]
        assert [(s["seconds"], s.get("start_seconds", 0), s.get("has_image", False)) for s in board["shots"]] == [
            (2, 0, False),
            (3, 2, True),
        ]
        extended = await completed(
            client,
            bob,
            await client.post(
                f"/api/v1/generations/{board['id']}/extensions",
                headers=headers(bob),
                json={"prompt": "the person walks home", "seconds": 4},
            ),
        )
        assert extended["kind"] == "extension" and extended["seconds"] == 9 and extended["extension_seconds"] == 4
        assert extended["extend_of"] == board["id"] and extended["cameo_ids"] == [cameo_id]
        edited = await completed(
            client,
            bob,
            await client.post(
                f"/api/v1/generations/{board['id']}/edits", headers=headers(bob), json={"prompt": "make it night"}
            ),
        )
        assert edited["kind"] == "edit" and edited["edit_of"] == board["id"] and edited["seconds"] == 5
        assert edited["cameo_ids"] == [cameo_id]

    board_video = await video_of(client, bob, board["id"])
    assert abs(probe_mp4(board_video).duration_s - 5.0) <= 1.5 / 24
    long_video = await video_of(client, bob, extended["id"])
    assert abs(probe_mp4(long_video).duration_s - 9.0) <= 1.5 / 24  # the source and the new part, one clip
    manifest, state = read_manifest(long_video)
    assert state == "Valid" and [i["title"] for i in manifest["ingredients"]] == [f"{board['id']}.mp4"]
    assert abs(probe_mp4(await video_of(client, bob, edited["id"])).duration_s - 5.0) <= 1.5 / 24
    await appears_in(client, alice, [board["id"], extended["id"], edited["id"]])

    # Someone else's private clip: it reads as missing.
    carol_before = await balance(client, carol)
    refused(
        await client.post(
            f"/api/v1/generations/{board['id']}/extensions",
            headers=headers(carol),
            json={"prompt": "mine now", "seconds": 4},
        ),
        404,
        "generation_not_found",
    )
    refused(
        await client.post(
            f"/api/v1/generations/{board['id']}/edits", headers=headers(carol), json={"prompt": "mine now"}
        ),
        404,
        "generation_not_found",
    )
    assert await balance(client, carol) == carol_before and await generation_count(client, carol) == 0

    # Alice withdraws bob's access (his clips stay): he can no longer extend or edit them.
    revoked = await client.post(
        "/api/v1/cameo/revocations", headers=auth(alice), json={"handle": "bob", "takedown": False}
    )
    assert revoked.status_code == 200, revoked.text
    bob_before, bob_count = await balance(client, bob), await generation_count(client, bob)
    refused(
        await client.post(
            f"/api/v1/generations/{board['id']}/extensions",
            headers=headers(bob),
            json={"prompt": "one more walk", "seconds": 4},
        ),
        403,
        "consent_denied",
    )
    refused(
        await client.post(
            f"/api/v1/generations/{extended['id']}/edits", headers=headers(bob), json={"prompt": "make it snow"}
        ),
        403,
        "consent_denied",
    )
    assert await balance(client, bob) == bob_before and await generation_count(client, bob) == bob_count
