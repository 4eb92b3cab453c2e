"""The official `openai` package against the gateway, only base_url and api_key changed."""

from __future__ import annotations

import asyncio
import warnings

import httpx
import openai
import pytest
import pytest_asyncio
from gateway_platform import auth

pytestmark = pytest.mark.asyncio(loop_scope="module")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sdk(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        carol = await platform.signup(c, "carol")
        key = (
            await c.post(
                "/api/v1/apikeys", json={"name": "sdk", "scopes": ["videos:read", "videos:write"]}, headers=auth(carol)
            )
        ).json()["secret"]
    return openai.OpenAI(base_url=f"{platform.url}/v1", api_key=key, max_retries=0, timeout=120)


async def test_videos_lifecycle_with_official_sdk(sdk):
    def run():
        video = sdk.videos.create(
            prompt="a paper boat drifts down a rainy street", model="sora-2", seconds="4", size="720x1280"
        )
        assert video.object == "video" and video.status in ("queued", "in_progress")
        assert video.model == "sora-2" and video.seconds == "4" and video.size == "720x1280"
        again = sdk.videos.retrieve(video.id)
        assert again.id == video.id and again.prompt.startswith("a paper boat")
        listed = sdk.videos.list(limit=10)
        assert video.id in [v.id for v in listed.data]
        # Remixing needs a completed video (the e2e test remixes a finished one): the refusal reads well.
        with pytest.raises(openai.BadRequestError) as unfinished:
            sdk.videos.remix(video.id, prompt="the boat is now golden")
        assert "completed" in str(unfinished.value)
        remix = video
        with_image = sdk.videos.create(
            prompt="animate this", seconds="8", input_reference=("ref.png", _png(), "image/png")
        )
        assert with_image.seconds == "8"
        deleted = sdk.videos.delete(remix.id)
        assert deleted.deleted and deleted.id == remix.id and deleted.object == "video.deleted"
        with pytest.raises(openai.NotFoundError):
            sdk.videos.retrieve(remix.id)
        with pytest.raises(openai.BadRequestError) as bad:
            sdk.videos.create(prompt="a cat", seconds="7")
        assert "seconds" in str(bad.value)

    await asyncio.to_thread(run)


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (720, 1280), (30, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


async def test_create_character_with_the_official_sdk(platform):
    """`client.videos.create_character(name=..., video=...)` sends only those two fields: the first
    call (no open challenge) answers 412 with the challenge, the same call again with a recording
    that answers it makes the character (the challenge is bound to the key's owner)."""
    import re

    from kinora.media.liveness_clip import clip_for_challenge

    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        dave = await platform.signup(c, "dave")
        key = (
            await c.post(
                "/api/v1/apikeys", json={"name": "sdk", "scopes": ["videos:read", "cameos:write"]}, headers=auth(dave)
            )
        ).json()["secret"]
        read_only = (
            await c.post("/api/v1/apikeys", json={"name": "ro", "scopes": ["videos:read"]}, headers=auth(dave))
        ).json()["secret"]
    client = openai.OpenAI(base_url=f"{platform.url}/v1", api_key=key, max_retries=0, timeout=180)

    def challenge() -> tuple[str, list[str]]:
        for _ in range(120):  # espeak-ng's 6, 8 and 9 are misheard by pocketsphinx (see tests/identity)
            with pytest.raises(openai.APIStatusError) as asked:
                client.videos.create_character(name="Dave", video=("me.mp4", b"not a video yet", "video/mp4"))
            if asked.value.status_code == 422:  # that spent the open challenge: the next call gets a new one
                continue
            error = asked.value.response.json()["error"]
            assert asked.value.status_code == 412 and error["code"] == "liveness_challenge_required", error
            digits = re.search(r"digits '([0-9 ]+)'", error["message"]).group(1)
            turns = re.search(r"turning your head ([a-z, ]+), then", error["message"]).group(1).split(", ")
            if not set(digits) & set("689"):
                return digits, turns
            # Answer it badly on purpose, so the next call starts a fresh challenge.
        raise AssertionError("no usable challenge")

    def run():
        digits, turns = challenge()
        clip = clip_for_challenge(digits, turns)
        character = client.videos.create_character(name="Dave", video=("me.mp4", clip, "video/mp4"))
        assert character.id and character.name == "Dave"
        assert client.videos.get_character(character.id).id == character.id
        # Used once: the same recording again finds no open challenge and is asked for a new one.
        with pytest.raises(openai.APIStatusError) as again:
            client.videos.create_character(name="Dave", video=("me.mp4", clip, "video/mp4"))
        assert again.value.status_code == 412
        with pytest.raises(openai.PermissionDeniedError):  # a key without cameos:write
            openai.OpenAI(base_url=f"{platform.url}/v1", api_key=read_only, max_retries=0).videos.create_character(
                name="Dave", video=("me.mp4", clip, "video/mp4")
            )

    await asyncio.to_thread(run)
