"""End to end on the local stack, as the app uses it: sign up with an invite,
generate a short clip through the gateway (worldsim behind Triton renders it),
download it and decode it back, publish it to the feed."""

import time
import uuid

import httpx
import numpy as np
import pytest
from stack_support import sign_up, wait_generation

from kinora.media.probe import probe_mp4


@pytest.fixture(scope="module")
def stack(shared_stack):
    return shared_stack.get()


@pytest.fixture(scope="module")
def client(stack):
    with httpx.Client(base_url=stack.state.gateway_url, timeout=120) as c:
        yield c


def test_sign_up_generate_download_publish(stack, client):
    user = sign_up(client, stack)
    me = client.get("/api/v1/me", headers=user["headers"])
    assert me.status_code == 200 and me.json()["user"]["handle"] == user["handle"]

    created = client.post(
        "/api/v1/generations",
        headers={**user["headers"], "Idempotency-Key": uuid.uuid4().hex},
        json={
            "prompt": "a red ball bounces across a wooden floor in a sunny kitchen",
            "seconds": 4,
            "size": "720x1280",
        },
    )
    assert created.status_code == 201, created.text
    gen = created.json()["generation"]
    assert gen["status"] in ("GENERATION_STATUS_QUEUED", "GENERATION_STATUS_IN_PROGRESS")
    seen = wait_generation(client, user, gen["id"])
    done = seen[-1]
    assert done["status"] == "GENERATION_STATUS_COMPLETED", done.get("error")
    assert done["progress"] == 100 and not done.get("taken_down", False)

    video = client.get(f"/api/v1/generations/{gen['id']}/content", headers=user["headers"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    clip = probe_mp4(video.content, decode_frames=True, decode_audio=True, frame_step=12)
    assert (clip.width, clip.height) == (720, 1280)
    assert clip.video_codec == "h264" and clip.audio_codec == "aac"
    assert clip.audio_rate == 48_000 and clip.audio_channels == 2
    assert abs(clip.duration_s - 4.0) < 0.25 and abs(clip.fps - 24) < 0.5
    frames = np.stack(clip.frames).astype(np.int16)
    assert frames.std() > 5, "the picture is flat"
    # Something moves: between sampled frames (0.5 s apart) a share of pixels changes clearly.
    changed = [(np.abs(b - a).max(axis=-1) > 25).mean() for a, b in zip(frames, frames[1:])]
    assert max(changed) > 0.001, f"nothing moves between frames: {changed}"
    assert np.abs(clip.audio).max() > 0.01, "the clip is silent"

    thumb = client.get(
        f"/api/v1/generations/{gen['id']}/content", params={"variant": "thumbnail"}, headers=user["headers"]
    )
    assert thumb.status_code == 200 and thumb.content[:3] == b"\xff\xd8\xff"  # JPEG

    # The feed hears of generations by event (eventually consistent): publishing right after
    # completion may be refused until the event arrives, as the app's retry would see.
    deadline = time.monotonic() + 60
    while True:
        posted = client.post(
            "/api/v1/posts", headers=user["headers"], json={"generation_id": gen["id"], "caption": "first clip"}
        )
        waiting = posted.status_code in (404, 412) and posted.json()["error"]["code"] in (
            "generation_not_found",
            "generation_not_completed",
        )
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert posted.status_code == 201, posted.text
    post = posted.json()["post"]
    assert post["generation_id"] == gen["id"] and post["state"] == "POST_STATE_PUBLISHED"
    listed = client.get(f"/api/v1/users/{user['handle']}/posts", headers=user["headers"]).json()
    assert post["id"] in [p["id"] for p in listed.get("posts", [])]


def test_bad_generation_request_is_refused_and_changes_nothing(stack, client):
    user = sign_up(client, stack)
    before = client.get("/api/v1/generations", headers=user["headers"]).json().get("generations", [])
    refused = client.post("/api/v1/generations", headers=user["headers"], json={"prompt": "a cat", "seconds": 7})
    assert refused.status_code == 400
    assert "seconds" in refused.json()["error"]["message"]
    after = client.get("/api/v1/generations", headers=user["headers"]).json().get("generations", [])
    assert after == before
    anonymous = client.post("/api/v1/generations", json={"prompt": "a cat", "seconds": 4})
    assert anonymous.status_code == 401


def test_data_survives_a_restart_of_the_stack(shared_stack, stack, client):
    """`kinora up` again on the same KINORA_HOME: the embedded PostgreSQL keeps every
    service's data, so a clip made before the restart still downloads after it, and
    the platform (with a new, empty in-memory broker) makes the next one. The restarted
    stack goes on serving the tests that share it."""
    user = sign_up(client, stack)
    created = client.post(
        "/api/v1/generations",
        headers=user["headers"],
        json={"prompt": "a yellow ball rolls across a table", "seconds": 4},
    )
    assert created.status_code == 201, created.text
    before = wait_generation(client, user, created.json()["generation"]["id"])[-1]
    assert before["status"] == "GENERATION_STATUS_COMPLETED", before.get("error")
    original = client.get(f"/api/v1/generations/{before['id']}/content", headers=user["headers"]).content

    again = shared_stack.restart()  # stops the stack, then `kinora up` on its home and ports
    assert again is not stack and again.home == stack.home
    with httpx.Client(base_url=again.state.gateway_url, timeout=120) as after:
        video = after.get(f"/api/v1/generations/{before['id']}/content", headers=user["headers"])
        assert video.status_code == 200 and video.content == original
        me = after.get("/api/v1/me", headers=user["headers"])  # the signing key outlived the restart too
        assert me.status_code == 200 and me.json()["user"]["handle"] == user["handle"]
        created = after.post(
            "/api/v1/generations",
            headers=user["headers"],
            json={"prompt": "a blue ball rolls across a table", "seconds": 4},
        )
        assert created.status_code == 201, created.text
        done = wait_generation(after, user, created.json()["generation"]["id"])[-1]
        assert done["status"] == "GENERATION_STATUS_COMPLETED", done.get("error")
