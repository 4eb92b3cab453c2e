"""Characters and `@handle` mentions through the gateway, against the five real services:
alice's person cameo verified from a real liveness clip; real pictures decoded and searched
for faces by the real face model."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth

from kinora.media.liveness_clip import clip_for_challenge
from kinora.runtime import auth as runtime_auth
from services.gateway.errors import ApiError
from services.gateway.mentions import cameo_ids_from_mentions, mentioned_handles, merge_cameo_ids

pytestmark = pytest.mark.asyncio(loop_scope="module")
TURNS = {"HEAD_TURN_LEFT": "left", "HEAD_TURN_RIGHT": "right"}


async def verify_cameo(client: httpx.AsyncClient, user: dict) -> dict:
    for _ in range(60):  # espeak-ng's 6, 8 and 9 are misheard by pocketsphinx (see tests/identity)
        v = (await client.post("/api/v1/cameo/verifications", headers=auth(user))).json()["verification"]
        if not set(v["challenge"]["digits"]) & set("689"):
            break
    clip = clip_for_challenge(v["challenge"]["digits"], [TURNS[t] for t in v["challenge"]["head_turns"]])
    reply = await client.post(f"/api/v1/cameo/verifications/{v['id']}/video", headers=auth(user),
                              data={"nonce": v["challenge"]["nonce"]}, files={"video": ("me.mp4", clip, "video/mp4")})
    assert reply.json()["verification"]["status"] == "VERIFICATION_STATUS_PASSED", reply.text
    for _ in range(300):  # cameo makes the profile from identity's CameoVerified event
        got = await client.get("/api/v1/cameo", headers=auth(user))
        if got.status_code == 200:
            return got.json()
        await asyncio.sleep(0.1)
    raise AssertionError("the cameo profile never appeared")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def people(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        found = {h: await platform.signup(c, h) for h in ("alice", "bob", "carol")}
        found["alice"]["cameo"] = await verify_cameo(c, found["alice"])
        return found


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        yield c


async def mentions_as(platform, user: dict, texts: list[str]) -> list[str]:
    """cameo_ids_from_mentions as a create path calls it: inside the user's request."""
    g = platform.gateway.app.state.gateway
    reset = runtime_auth.current_principal.set(runtime_auth.Principal(subject=user["id"], kind="user",
                                                                      handle=user["handle"], token=user["token"]))
    try:
        return await cameo_ids_from_mentions(g, texts)
    finally:
        runtime_auth.current_principal.reset(reset)


def test_mentions_are_handles_after_an_at_sign_not_addresses():
    texts = ["@Alice waves at @rex_the_dog.", "mail bob@example.com", "@alice again", "at @ noon"]
    assert mentioned_handles(texts) == ["alice", "rex_the_dog"]


def test_merging_listed_and_mentioned_keeps_two_at_most():
    assert merge_cameo_ids(["a"], ["a", "b"]) == ["a", "b"]
    with pytest.raises(ApiError) as refused:
        merge_cameo_ids(["a", "b"], ["c"])
    assert refused.value.code == "too_many_cameos"


async def test_a_mentioned_person_resolves_to_their_cameo(platform, people):
    alice = people["alice"]
    assert await mentions_as(platform, people["bob"], ["@alice surfs a wave", "then @ALICE waves"]) == \
        [alice["cameo"]["id"]]
    assert await mentions_as(platform, people["bob"], ["a quiet beach at dawn"]) == []


async def test_an_unknown_handle_or_a_person_without_cameo_is_a_clear_400(platform, people):
    for text in ("@nobody_here dances", "@carol dances"):  # carol has no cameo
        with pytest.raises(ApiError) as refused:
            await mentions_as(platform, people["bob"], [text])
        assert refused.value.status == 400 and refused.value.code == "unknown_handle", text
        assert "@" in refused.value.message


async def test_three_mentions_are_refused_before_any_lookup(platform, people):
    with pytest.raises(ApiError) as refused:
        await mentions_as(platform, people["bob"], ["@alice and @bob and @carol"])
    assert refused.value.code == "too_many_cameos"
