"""Characters and `@handle` mentions through the gateway, against the five real services:
alice's person cameo verified from a real liveness clip; real pictures decoded and searched
for faces by the real face model."""

from __future__ import annotations

import asyncio
import io
import time
import uuid

import httpx
import openai
import pytest
import pytest_asyncio
from character_pictures import dog, dog_video, encoded, person
from gateway_platform import SECRET, auth
from PIL import Image

from kinora.media.liveness_clip import clip_for_challenge
from kinora.runtime import auth as runtime_auth
from kinora.runtime.auth import mint_service_token
from kinora.runtime.clients import TokenSource
from services.gateway.errors import ApiError
from services.gateway.mentions import cameo_ids_from_mentions, mentioned_handles, merge_cameo_ids
from services.generator.remote import GrpcConsentChecker

pytestmark = pytest.mark.asyncio(loop_scope="module")
TURNS = {"HEAD_TURN_LEFT": "left", "HEAD_TURN_RIGHT": "right"}
EVENT_DEADLINE_S = 90.0
DOG_PNG = encoded(dog())


async def verify_cameo(client: httpx.AsyncClient, user: dict) -> dict:
    for _ in range(60):  # espeak-ng's 6, 8 and 9 are misheard by pocketsphinx (see tests/identity)
        v = (await client.post("/api/v1/cameo/verifications", headers=auth(user))).json()["verification"]
        if not set(v["challenge"]["digits"]) & set("689"):
            break
    clip = clip_for_challenge(v["challenge"]["digits"], [TURNS[t] for t in v["challenge"]["head_turns"]])
    reply = await client.post(
        f"/api/v1/cameo/verifications/{v['id']}/video",
        headers=auth(user),
        data={"nonce": v["challenge"]["nonce"]},
        files={"video": ("me.mp4", clip, "video/mp4")},
    )
    assert reply.json()["verification"]["status"] == "VERIFICATION_STATUS_PASSED", reply.text
    for _ in range(900):  # at least 90 s: cameo makes the profile from identity's CameoVerified event
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
    reset = runtime_auth.current_principal.set(
        runtime_auth.Principal(subject=user["id"], kind="user", handle=user["handle"], token=user["token"])
    )
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
    assert await mentions_as(platform, people["bob"], ["@alice surfs a wave", "then @ALICE waves"]) == [
        alice["cameo"]["id"]
    ]
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


async def make_character(
    client,
    user: dict,
    media: bytes = DOG_PNG,
    *,
    name: str = "Rex",
    handle: str = "",
    description: str = "a small brown dog",
    content_type: str = "image/png",
):
    return await client.post(
        "/api/v1/characters",
        headers=auth(user),
        data={"name": name, "handle": handle, "description": description},
        files={"media": ("upload", media, content_type)},
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def rex(platform, people):
    """alice's character @rex_dog, made from the dog picture."""
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        made = await make_character(c, people["alice"], handle="rex_dog")
        assert made.status_code == 201, made.text
        return made.json()


async def test_a_dog_picture_becomes_a_character_people_can_mention(platform, client, people, rex):
    alice, bob = people["alice"], people["bob"]
    assert rex["kind"] == "CAMEO_KIND_CHARACTER" and rex["handle"] == "rex_dog" and rex["display_name"] == "Rex"
    assert rex["policy"] == "CAMEO_POLICY_ONLY_ME" and rex["description"] == "a small brown dog"
    mine = (await client.get("/api/v1/characters", headers=auth(alice))).json()["cameos"]
    assert [c["id"] for c in mine] == [rex["id"]]
    assert (await client.get("/api/v1/characters", headers=auth(bob))).json().get("cameos", []) == []
    by_handle = await client.get("/api/v1/characters/@rex_dog", headers=auth(bob))
    assert by_handle.status_code == 200 and by_handle.json()["id"] == rex["id"]
    assert "owner_age_group" not in by_handle.json()  # another user learns no age
    person_cameo = await client.get(f"/api/v1/characters/{alice['cameo']['id']}", headers=auth(bob))
    assert person_cameo.status_code == 404 and person_cameo.json()["error"]["code"] == "character_not_found"
    # A prompt mentions a character and a person: both resolve, in mention order.
    assert await mentions_as(platform, bob, ["@rex_dog chases @alice across the beach"]) == [
        rex["id"],
        alice["cameo"]["id"],
    ]


async def test_a_persons_photo_uploaded_as_a_character_is_refused(client, people):
    carol = people["carol"]
    refused = await make_character(
        client, carol, encoded(person(), "JPEG"), name="Definitely A Cat", content_type="image/jpeg"
    )
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "human_face_in_character"
    assert error["message"] == "this looks like a person; people join as cameos with a liveness check"
    assert (await client.get("/api/v1/characters", headers=auth(carol))).json().get("cameos", []) == []


async def test_a_character_cannot_take_a_persons_handle(client, people):
    mallory = people["carol"]
    for handle in ("alice", "bob"):  # alice has a cameo, bob only an account
        taken = await make_character(client, mallory, handle=handle)
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "handle_taken", taken.text


async def test_someone_elses_character_needs_permission_and_revoking_takes_the_clip_down(client, people, rex):
    alice, bob = people["alice"], people["bob"]

    async def generate(user):
        return await client.post(
            "/api/v1/generations",
            headers={**auth(user), "Idempotency-Key": uuid.uuid4().hex},
            json={"prompt": "a small brown dog chases a ball on the beach", "seconds": 4, "cameos": ["rex_dog"]},
        )

    refused = await generate(bob)
    assert refused.status_code == 403, refused.text
    assert "@alice" in refused.json()["error"]["message"]
    # Mentioned in the prompt instead of listed: the same consent check.
    for prompt, status, code in (
        ("@rex_dog chases a ball on the beach", 403, "consent_denied"),
        ("@rex_dgo chases a ball on the beach", 400, "unknown_handle"),
    ):
        mentioned = await client.post(
            "/api/v1/generations",
            headers={**auth(bob), "Idempotency-Key": uuid.uuid4().hex},
            json={"prompt": prompt, "seconds": 4},
        )
        assert mentioned.status_code == status and mentioned.json()["error"]["code"] == code, mentioned.text
    assert (
        await client.put(f"/api/v1/characters/{rex['id']}/policy", headers=auth(bob), json={"policy": "everyone"})
    ).status_code == 403  # not bob's to open
    assert (
        await client.put(f"/api/v1/characters/{rex['id']}/policy", headers=auth(alice), json={"policy": "approved"})
    ).status_code == 200
    approved = await client.post(
        f"/api/v1/characters/{rex['id']}/approvals", headers=auth(alice), json={"handle": "bob"}
    )
    assert approved.status_code == 200, approved.text
    made = await generate(bob)
    assert made.status_code == 201, made.text
    generation_id = made.json()["generation"]["id"]
    appearances_url = f"/api/v1/characters/{rex['id']}/appearances"
    # Events travel through the broker; on a loaded clean-clone run a consumer's group join alone
    # can take tens of seconds, so each wait has a deadline, not a count of tries.
    deadline = time.monotonic() + EVENT_DEADLINE_S
    while True:  # cameo indexes the appearance from the generator's GenerationRequested
        listed = (await client.get(appearances_url, headers=auth(alice))).json().get("appearances", [])
        if listed or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert [a["generation_id"] for a in listed] == [generation_id]
    revoked = await client.post(
        f"/api/v1/characters/{rex['id']}/revocations", headers=auth(alice), json={"handle": "bob", "takedown": True}
    )
    assert revoked.status_code == 200 and revoked.json()["takedown_count"] == 1, revoked.text
    # The generator takes the clip down and says so; cameo marks the appearance removed.
    deadline = time.monotonic() + EVENT_DEADLINE_S
    while True:
        listed = (await client.get(appearances_url, headers=auth(alice), params={"include_removed": "true"})).json()
        if listed["appearances"][0]["state"] == "APPEARANCE_STATE_REMOVED" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert listed["appearances"][0]["state"] == "APPEARANCE_STATE_REMOVED", listed
    gone = (await client.get(f"/api/v1/generations/{generation_id}", headers=auth(bob))).json()["generation"]
    # Still being made when alice revoked: canceled; already finished (a fast machine): taken down.
    assert gone["status"] == "GENERATION_STATUS_CANCELED" or (
        gone["status"] == "GENERATION_STATUS_COMPLETED" and gone.get("taken_down")
    ), gone
    content = await client.get(f"/api/v1/generations/{generation_id}/content", headers=auth(bob))
    assert content.status_code in (404, 409, 410), content.text  # no video either way
    again = await generate(bob)
    assert again.status_code == 403, again.text


async def test_the_worker_gets_a_character_as_a_character(platform, rex):
    async def token():
        return mint_service_token("generator", SECRET)

    consent = GrpcConsentChecker(platform.apps["generator"].settings.cameo_addr, TokenSource(token))
    [cameo] = await consent.describe([rex["id"]])
    assert (cameo.kind, cameo.name, cameo.description, cameo.voice) == ("character", "Rex", "a small brown dog", None)
    assert len(cameo.face_pngs) == 1
    assert Image.open(io.BytesIO(cameo.face_pngs[0])).size == (512, 384)


async def test_the_official_sdk_makes_a_character_from_a_dog(platform, client, people):
    bob = people["bob"]
    key = (
        await client.post(
            "/api/v1/apikeys", json={"name": "sdk", "scopes": ["videos:read", "cameos:write"]}, headers=auth(bob)
        )
    ).json()["secret"]
    sdk = openai.OpenAI(base_url=f"{platform.url}/v1", api_key=key, max_retries=0, timeout=180)

    def run():
        made = sdk.videos.create_character(name="Biscuit", video=("biscuit.png", DOG_PNG, "image/png"))
        assert made.id and made.name == "Biscuit"
        assert sdk.videos.get_character(made.id).name == "Biscuit"
        walking = sdk.videos.create_character(name="Biscuit", video=("walk.mp4", dog_video(), "video/mp4"))
        assert walking.id != made.id
        return made.id, walking.id

    first, second = await asyncio.to_thread(run)
    handles = {
        c["id"]: c["handle"] for c in (await client.get("/api/v1/characters", headers=auth(bob))).json()["cameos"]
    }
    assert handles == {first: "biscuit", second: "biscuit_2"}  # derived from the name, made unique
