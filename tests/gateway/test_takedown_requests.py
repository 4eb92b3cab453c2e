"""Issue 19's done-when for takedowns, on the five real services with a real worker and
Triton serving worldsim: alice's finished clip, bob's remix of it and carol's clip made
from one of its frames; a request without an account sending a re-encoded (CRF 28),
10%-cropped copy; an operator approves (`kinora admin takedowns`); all three are gone
(media refused, posts hidden) within a measured time; the frame is refused as a new
input; the request records request-to-removal time; an earlier request for an
unrelated clip removed only that clip."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid

import av
import httpx
import pytest
from gateway_platform import SECRET, auth
from PIL import Image
from test_cameo_erasure import generator_worker
from typer.testing import CliRunner

from kinora.cli.main import app as cli
from kinora.media.transcode import reencode
from services.gateway import takedowns
from services.gateway.ratelimit import Limit

pytestmark = pytest.mark.asyncio(loop_scope="module")
REMOVAL_BUDGET_S = 10.0  # approval -> media refused and posts hidden (the event goes through Kafka to feed)


async def make(client, user, **body) -> str:
    files = body.pop("files", None)
    headers = {**auth(user), "Idempotency-Key": uuid.uuid4().hex}
    if files:
        reply = await client.post("/api/v1/generations", headers=headers, data=body, files=files)
    else:
        reply = await client.post("/api/v1/generations", headers=headers, json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()["generation"]["id"]


async def finished(client, user, gid: str) -> None:
    for _ in range(2400):
        g = (await client.get(f"/api/v1/generations/{gid}", headers=auth(user))).json()["generation"]
        if g["status"] in ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED"):
            break
        await asyncio.sleep(0.25)
    assert g["status"] == "GENERATION_STATUS_COMPLETED", g


async def publish(client, user, gid: str) -> str:
    for _ in range(300):  # feed learns of the generation and its completion from the generator's events
        reply = await client.post("/api/v1/posts", headers=auth(user), json={"generation_id": gid})
        waiting = reply.status_code in (404, 412) and reply.json()["error"]["code"] in (
            "generation_not_found",  # not even the creation's event has arrived yet
            "generation_not_completed",
        )
        if not waiting:
            break
        await asyncio.sleep(0.1)
    assert reply.status_code == 201, reply.text
    return reply.json()["post"]["id"]


def frame_png(mp4: bytes, index: int) -> bytes:
    with av.open(io.BytesIO(mp4)) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            if i == index:
                out = io.BytesIO()
                frame.to_image().save(out, format="PNG")
                return out.getvalue()
    raise AssertionError("no such frame")


async def admin(tmp_path, platform, *args):
    """`kinora admin takedowns ...` as an operator of this stack (its own thread: the CLI runs its own loop)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "internal_secret").write_text(SECRET)
    port = platform.apps["generator"].settings.grpc_port
    return await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["admin", "takedowns", *args],
        env={"KINORA_HOME": str(home), "KINORA_GENERATOR_PORT": str(port)},
    )


async def request_takedown(client, **fields):
    files = fields.pop("files", None)
    return await client.post("/api/v1/takedown-requests", data=fields, files=files)  # no account


async def gone(client, owner, gid: str, post_id: str) -> bool:
    media = await client.get(f"/api/v1/generations/{gid}/content", headers=auth(owner))
    post = await client.get(f"/api/v1/posts/{post_id}", headers=auth(owner)) if post_id else None
    return media.status_code != 200 and (post is None or post.status_code == 404)


async def test_a_request_without_an_account_removes_the_clip_its_remix_and_clips_from_its_frames(
    platform, monkeypatch, tmp_path
):
    monkeypatch.setattr(takedowns, "FILE_LIMIT", Limit(rate=100.0, burst=100))
    async with httpx.AsyncClient(base_url=platform.url, timeout=300) as client:
        alice, bob, carol, dave = [await platform.signup(client, f"td_{n}") for n in ("alice", "bob", "carol", "dave")]
        async with generator_worker(platform):
            # Seeded: the clip, and so how near its frame at 37 lies to the fingerprint samples, is the same each run.
            a = await make(client, alice, prompt="a paper boat drifts down a gutter", seconds=4, seed=7)
            d = await make(client, dave, prompt="snow falls on a quiet forest, cinematic", seconds=4)
            await finished(client, alice, a)
            await finished(client, dave, d)
            a_post, d_post = await publish(client, alice, a), await publish(client, dave, d)
            original = (await client.get(f"/api/v1/generations/{a}/content", headers=auth(alice))).content
            frame = frame_png(original, 37)  # between two fingerprint samples
            b = await make(client, bob, prompt="the paper boat sails faster down the gutter", remix_of=a, seconds=4)
            c = await make(
                client,
                carol,
                prompt="a paper boat floats on calm water",
                seconds="4",
                seed="7",
                files={"image": ("frame.png", frame, "image/png")},
            )
            await finished(client, bob, b)
            await finished(client, carol, c)
            b_post, c_post = await publish(client, bob, b), await publish(client, carol, c)

        # Refused cleanly, nothing written.
        bad = await request_takedown(
            client, contact="nope", statement="this clip shows me", kind="likeness", generation_id=d
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_contact", bad.text
        bad = await request_takedown(client, contact="x@example.com", statement="this clip shows me", kind="likeness")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "nothing_to_take_down"
        bad = await request_takedown(
            client,
            contact="x@example.com",
            statement="this clip shows me",
            kind="likeness",
            link="https://elsewhere.example/posts/abc",
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_link"
        listed = await admin(tmp_path, platform, "list", "--status", "all", "--json")
        assert listed.exit_code == 0 and json.loads(listed.stdout) == [], listed.output

        # First, a request for an unrelated clip (dave's, by link): only that one goes.
        first = await request_takedown(
            client,
            contact="dave.friend@example.com",
            kind="intimate",
            statement="This video is intimate imagery of me, posted without consent.",
            link=f"{platform.url}/posts/{d_post}",
        )
        assert first.status_code == 202, first.text
        said = await admin(tmp_path, platform, "approve", first.json()["id"], "--json")
        assert said.exit_code == 0, said.output
        assert [t["generation_id"] for t in json.loads(said.stdout)["request"]["targets"]] == [d]
        assert (await client.get(f"/api/v1/generations/{a}/content", headers=auth(alice))).status_code == 200

        # A person without an account sends a re-encoded, cropped copy of alice's clip.
        copy = await asyncio.to_thread(reencode, original, crf=28, crop=0.1)
        filed = await request_takedown(
            client,
            contact="person@example.com",
            kind="likeness",
            statement="This clip shows me. I never agreed to appear in it.",
            files={"file": ("copy.mp4", copy, "video/mp4")},
        )
        assert filed.status_code == 202, filed.text
        request_id = filed.json()["id"]
        assert filed.json()["status"] == "pending" and filed.json()["received"] == ["file"]
        queue = await admin(tmp_path, platform, "list")
        assert queue.exit_code == 0 and request_id in queue.stdout and "video file" in queue.stdout, queue.output
        assert await gone(client, alice, a, a_post) is False  # nothing before approval

        started = time.perf_counter()
        said = await admin(tmp_path, platform, "approve", request_id, "--json")
        assert said.exit_code == 0, said.output
        decided = json.loads(said.stdout)
        targets = {t["generation_id"]: t["why"] for t in decided["request"]["targets"]}
        # Alice's clip found by both layers (the invisible watermark and the perceptual fingerprint);
        # bob's remix by lineage (and, when it looks much like the original, as a copy too).
        whys = {gid: set(why.split("+")) for gid, why in targets.items()}
        assert set(whys) == {a, b, c}, targets
        assert whys[a] == {"watermark", "copy"} and "remix" in whys[b] and whys[c] == {"from_frame"}, targets
        for owner, gid, post in ((alice, a, a_post), (bob, b, b_post), (carol, c, c_post)):
            while not await gone(client, owner, gid, post):
                assert time.perf_counter() - started < REMOVAL_BUDGET_S, f"{gid} still served"
                await asyncio.sleep(0.05)
        removal_s = time.perf_counter() - started
        print(f"approval -> three clips' media refused and posts hidden: {removal_s:.2f} s")
        assert decided["request"]["status"] == "completed" and float(decided["request"]["removal_seconds"]) > 0
        assert [e["action"] for e in decided["audit"]] == [
            "filed",
            "approved",
            "removed",
            "removed",
            "removed",
            "completed",
        ]

        # The frame can't come back as an input, from anyone.
        again = await client.post(
            "/api/v1/generations",
            headers={**auth(dave), "Idempotency-Key": uuid.uuid4().hex},
            data={"prompt": "a paper boat floats on a pond", "seconds": "4"},
            files={"image": ("frame.png", frame, "image/png")},
        )
        assert again.status_code == 403 and again.json()["error"]["code"] == "blocked_content", again.text
        other = frame_png(original, 12)
        again = await client.post(
            "/api/v1/generations",
            headers={**auth(dave), "Idempotency-Key": uuid.uuid4().hex},
            data={"prompt": "a paper boat floats on a pond", "seconds": "4"},
            files={"image": ("f.jpg", Image_jpeg(other), "image/jpeg")},
        )
        assert again.status_code == 403 and again.json()["error"]["code"] == "blocked_content", again.text

        # Decided requests can't be decided again; the queue shows the record.
        said = await admin(tmp_path, platform, "reject", request_id, "--reason", "changed my mind")
        assert said.exit_code != 0 and "already completed" in said.output
        done = await admin(tmp_path, platform, "list", "--status", "completed")
        assert done.exit_code == 0 and "removed 3 clip(s)" in done.stdout and "removed 1 clip(s)" in done.stdout


def Image_jpeg(png: bytes) -> bytes:  # noqa: N802 - a re-saved frame (JPEG q85), as people share them
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()
