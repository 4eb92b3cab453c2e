"""The official `openai` package against the running local stack, with only
base_url and api_key changed: create_and_poll, retrieve, list,
download_content (decoded back), remix and delete."""

import httpx
import openai
import pytest
from stack_support import sign_up

from kinora.media.probe import probe_mp4

# The SDK warns that OpenAI's own Sora API is shutting down; this one is not.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


@pytest.fixture(scope="module")
def stack(shared_stack):
    return shared_stack.get()


@pytest.fixture(scope="module")
def api_key(stack):
    with httpx.Client(base_url=stack.state.gateway_url, timeout=60) as client:
        user = sign_up(client, stack)
        reply = client.post(
            "/api/v1/apikeys", headers=user["headers"], json={"name": "sdk", "scopes": ["videos:read", "videos:write"]}
        )
        assert reply.status_code == 201, reply.text
        return reply.json()["secret"]


@pytest.fixture(scope="module")
def sdk(stack, api_key):
    return openai.OpenAI(base_url=f"{stack.state.gateway_url}/v1", api_key=api_key, max_retries=0, timeout=120)


def test_sora_videos_lifecycle_with_the_official_sdk(sdk):
    video = sdk.videos.create_and_poll(
        model="sora-2",
        prompt="a paper boat drifts down a rainy street",
        seconds="4",
        size="720x1280",
        poll_interval_ms=300,
    )
    assert video.status == "completed", video.error
    assert video.object == "video" and video.progress == 100
    assert (video.model, video.seconds, video.size) == ("sora-2", "4", "720x1280")

    again = sdk.videos.retrieve(video.id)
    assert again.id == video.id and again.status == "completed"
    assert video.id in [v.id for v in sdk.videos.list(limit=10, order="desc").data]

    content = sdk.videos.download_content(video.id).read()
    clip = probe_mp4(content, decode_audio=True)
    assert (clip.width, clip.height, clip.video_codec, clip.audio_codec) == (720, 1280, "h264", "aac")
    assert abs(clip.duration_s - 4.0) < 0.25 and abs(clip.audio).max() > 0.01
    thumbnail = sdk.videos.download_content(video.id, variant="thumbnail").read()
    assert thumbnail[:3] == b"\xff\xd8\xff"

    remix = sdk.videos.remix(video.id, prompt="the same boat, now golden, at sunset")
    assert remix.remixed_from_video_id == video.id and remix.status in ("queued", "in_progress")
    remix = sdk.videos.poll(remix.id, poll_interval_ms=300)
    assert remix.status == "completed", remix.error
    assert probe_mp4(sdk.videos.download_content(remix.id).read()).duration_s > 3.5

    deleted = sdk.videos.delete(video.id)
    assert deleted.deleted and deleted.id == video.id
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(video.id)
    assert video.id not in [v.id for v in sdk.videos.list(limit=10).data]


def test_wrong_api_key_is_refused(stack):
    stranger = openai.OpenAI(
        base_url=f"{stack.state.gateway_url}/v1", api_key="sk-not-a-kinora-key", max_retries=0, timeout=30
    )
    with pytest.raises(openai.AuthenticationError):
        stranger.videos.list()
