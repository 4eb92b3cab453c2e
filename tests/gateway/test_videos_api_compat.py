"""Every method of the installed `openai` SDK's `videos` resource, unchanged, against
`/v1` on the real services with a real generator worker (Triton serving worldsim):
create, create_and_poll, poll, retrieve, list, delete, download_content, remix,
edit, extend, create_character and get_character. Each answer parses as the SDK's
own type, and refusals arrive in OpenAI's error shape (message, type, param, code)."""

from __future__ import annotations

import asyncio
import re
import warnings

import httpx
import openai
import pytest
import pytest_asyncio
from gateway_platform import auth
from openai.types import Video, VideoCreateCharacterResponse, VideoDeleteResponse, VideoGetCharacterResponse
from test_cameo_erasure import generator_worker

from kinora.media.probe import probe_mp4

pytestmark = pytest.mark.asyncio(loop_scope="module")
warnings.filterwarnings("ignore", category=DeprecationWarning)
POLL_MS = 200


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def keys(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        erin, frank = await platform.signup(c, "erin"), await platform.signup(c, "frank")
        made = {}
        for name, user in (("erin", erin), ("frank", frank)):
            made[name] = (
                await c.post(
                    "/api/v1/apikeys",
                    headers=auth(user),
                    json={"name": "sdk", "scopes": ["videos:read", "videos:write", "cameos:write"]},
                )
            ).json()["secret"]
    return made


def client_for(platform, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform.url}/v1", api_key=key, max_retries=0, timeout=180)


def is_video(video, status: str | None = None) -> Video:
    assert isinstance(video, Video) and video.object == "video", video
    assert video.status in ("queued", "in_progress", "completed", "failed")
    if status is not None:
        assert video.status == status, video
    return video


async def test_every_videos_method_with_the_official_sdk(platform, keys):
    sdk, other = client_for(platform, keys["erin"]), client_for(platform, keys["frank"])

    def run():
        first = is_video(
            sdk.videos.create(prompt="a paper boat drifts on a pond", model="sora-2", seconds="4", size="720x1280")
        )
        assert first.model == "sora-2" and first.seconds == "4" and first.size == "720x1280"
        first = is_video(sdk.videos.poll(first.id, poll_interval_ms=POLL_MS), "completed")
        assert first.progress == 100 and first.completed_at and first.completed_at >= first.created_at
        second = is_video(
            sdk.videos.create_and_poll(prompt="a red kite over a beach", seconds="8", poll_interval_ms=POLL_MS),
            "completed",
        )
        assert second.seconds == "8"
        assert is_video(sdk.videos.retrieve(first.id)).prompt == "a paper boat drifts on a pond"
        listed = sdk.videos.list(limit=10)
        assert {first.id, second.id} <= {v.id for v in listed.data} and all(isinstance(v, Video) for v in listed.data)

        content = sdk.videos.download_content(first.id)
        facts = probe_mp4(content.content)
        assert (facts.width, facts.height) == (720, 1280) and abs(facts.duration_s - 4.0) <= 1.5 / 24
        thumb = sdk.videos.download_content(first.id, variant="thumbnail").content
        assert thumb[:2] == b"\xff\xd8"

        remix = is_video(sdk.videos.remix(first.id, prompt="the boat is now golden"))
        assert remix.remixed_from_video_id == first.id and remix.seconds == "4"
        # The SDK sends a file as the `video` part (3.63 can't put {"id": ...} into its multipart body:
        # extract_files refuses a dict); the gateway finds the clip by its invisible mark.
        mp4 = ("boat.mp4", content.content, "video/mp4")
        edit = is_video(sdk.videos.edit(prompt="make it night", video=mp4))
        assert edit.seconds == "4" and edit.size == first.size
        extension = is_video(sdk.videos.extend(prompt="the boat reaches the far bank", seconds="4", video=mp4))
        # The reference form, as JSON through the same client.
        by_id = is_video(
            sdk.post("/videos/edits", body={"prompt": "make it snow", "video": {"id": first.id}}, cast_to=Video)
        )
        for made in (remix, edit, extension, by_id):
            is_video(sdk.videos.poll(made.id, poll_interval_ms=POLL_MS), "completed")
        extension = sdk.videos.retrieve(extension.id)
        assert extension.seconds == "8"  # for an extension, the stitched total
        longer = probe_mp4(sdk.videos.download_content(extension.id).content)
        assert abs(longer.duration_s - 8.0) <= 1.5 / 24

        deleted = sdk.videos.delete(second.id)
        assert isinstance(deleted, VideoDeleteResponse) and deleted.deleted and deleted.object == "video.deleted"
        with pytest.raises(openai.NotFoundError) as gone:
            sdk.videos.retrieve(second.id)
        assert gone.value.type == "not_found_error" and gone.value.code == "generation_not_found"

        # Refusals in OpenAI's shape, each read by the SDK as its own error type.
        with pytest.raises(openai.BadRequestError) as bad:
            sdk.videos.create(prompt="a cat", seconds="7")
        assert bad.value.code == "invalid_seconds" and bad.value.type == "invalid_request_error"
        assert "seconds" in bad.value.message and bad.value.body["param"] is None
        with pytest.raises(openai.BadRequestError) as bad_extension:
            sdk.videos.extend(prompt="more", seconds="5", video=mp4)
        assert bad_extension.value.code == "invalid_seconds"
        with pytest.raises(openai.NotFoundError) as not_theirs:  # another user's private video reads as missing
            other.videos.edit(prompt="mine now", video=mp4)
        assert not_theirs.value.code == "generation_not_found" and first.id not in not_theirs.value.body["message"]
        with pytest.raises(openai.NotFoundError):
            other.videos.extend(prompt="mine now", seconds="4", video=mp4)
        with pytest.raises(openai.NotFoundError):
            other.post(
                "/videos/extensions", body={"prompt": "mine", "seconds": "4", "video": {"id": first.id}}, cast_to=Video
            )
        with pytest.raises(openai.BadRequestError) as upload:
            sdk.videos.edit(prompt="make it night", video=("clip.mp4", b"\x00" * 64, "video/mp4"))
        assert upload.value.code == "unsupported_video_upload"

    async with generator_worker(platform):
        await asyncio.to_thread(run)


async def test_characters_with_the_official_sdk(platform, keys):
    """create_character and get_character (the liveness challenge as test_openai_sdk.py answers it)."""
    from kinora.media.liveness_clip import clip_for_challenge

    sdk = client_for(platform, keys["frank"])

    def challenge() -> tuple[str, list[str]]:
        for _ in range(120):  # espeak-ng's 6, 8 and 9 are misheard by pocketsphinx (see tests/identity)
            with pytest.raises(openai.APIStatusError) as asked:
                sdk.videos.create_character(name="Frank", video=("me.mp4", b"not a video yet", "video/mp4"))
            if asked.value.status_code == 422:
                continue
            assert asked.value.status_code == 412 and asked.value.code == "liveness_challenge_required"
            assert asked.value.type == "invalid_request_error"
            digits = re.search(r"digits '([0-9 ]+)'", asked.value.body["message"]).group(1)
            turns = re.search(r"turning your head ([a-z, ]+), then", asked.value.body["message"]).group(1).split(", ")
            if not set(digits) & set("689"):
                return digits, turns
        raise AssertionError("no usable challenge")

    def run():
        digits, turns = challenge()
        character = sdk.videos.create_character(
            name="Frank", video=("me.mp4", clip_for_challenge(digits, turns), "video/mp4")
        )
        assert isinstance(character, VideoCreateCharacterResponse) and character.id and character.name == "Frank"
        fetched = sdk.videos.get_character(character.id)
        assert isinstance(fetched, VideoGetCharacterResponse) and fetched.id == character.id
        assert fetched.created_at == character.created_at

    await asyncio.to_thread(run)
