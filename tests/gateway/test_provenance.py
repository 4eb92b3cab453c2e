"""The public provenance check on the five real services, with a real worker and
Triton serving worldsim: a finished clip, re-encoded at CRF 28 with 10% cropped
and scaled to half, still names its generation once published; nothing leads to
an unpublished one; a clip not made here is not claimed."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from gateway_platform import auth
from test_cameo_erasure import generator_worker
from typer.testing import CliRunner

from kinora.cli.main import app as cli
from kinora.media import c2pa_sign
from kinora.media.encode import encode_mp4
from kinora.media.transcode import decode_rgb, reencode, strip_metadata
from services.gateway import provenance
from services.gateway.ratelimit import Limit

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def check(client: httpx.AsyncClient, data: bytes, name: str = "clip.mp4", kind: str = "video/mp4"):
    reply = await client.post("/api/v1/provenance/check", files={"file": (name, data, kind)})  # no account
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_reencoded_cropped_downscaled_clip_names_its_generation(platform, monkeypatch, tmp_path):
    monkeypatch.setattr(provenance, "CHECK_LIMIT", Limit(rate=100.0, burst=100))  # one test client, many checks
    anchors = Path(platform.apps["generator"].settings.data_dir) / "c2pa" / "dev-signing-chain.pem"
    async with httpx.AsyncClient(base_url=platform.url, timeout=300) as client:
        ada = await platform.signup(client, "provenance_ada")
        async with generator_worker(platform):
            made = await client.post(
                "/api/v1/generations",
                headers={**auth(ada), "Idempotency-Key": uuid.uuid4().hex},
                json={"prompt": "a dog runs after a ball on the beach", "seconds": 4},
            )
            assert made.status_code == 201, made.text
            gid = made.json()["generation"]["id"]
            for _ in range(2400):
                g = (await client.get(f"/api/v1/generations/{gid}", headers=auth(ada))).json()["generation"]
                if g["status"] in ("GENERATION_STATUS_COMPLETED", "GENERATION_STATUS_FAILED"):
                    break
                await asyncio.sleep(0.25)
            assert g["status"] == "GENERATION_STATUS_COMPLETED", g
        original = (await client.get(f"/api/v1/generations/{gid}/content", headers=auth(ada))).content
        provenance._anchors["pem"] = c2pa_sign.trust_anchors_from_env({"KINORA_C2PA_CERT_FILE": str(anchors)})

        # Re-uploaded elsewhere: re-encoded, cropped, scaled down, metadata gone.
        copy = await asyncio.to_thread(reencode, original, crf=28, scale=0.5, crop=0.1)
        unpublished = await check(client, copy)
        # Made here, but a draft: nothing that leads to it or its author.
        assert unpublished["made_here"] is True and unpublished["layers"] == ["watermark"], unpublished
        assert unpublished["shared"] is False and "generation_id" not in unpublished and "post" not in unpublished

        posted = await client.post("/api/v1/posts", headers=auth(ada), json={"generation_id": gid})
        assert posted.status_code == 201, posted.text
        answer = await check(client, copy)
        assert answer["made_here"] and answer["shared"] and answer["generation_id"] == gid, answer
        assert answer["post"] == {"id": posted.json()["post"]["id"]} and answer["layers"] == ["watermark"]

        # The untouched clip: both layers. A re-mux drops the manifest, the mark stays.
        both = await check(client, original)
        assert both["layers"] == ["c2pa", "watermark"] and both["c2pa"]["state"] == "Trusted", both
        stripped = await check(client, strip_metadata(original))
        assert stripped["layers"] == ["watermark"] and stripped["generation_id"] == gid, stripped

        # A still (a screenshot of one frame) carries the mark too.
        frame = decode_rgb(original)[0][40]
        png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes()
        still = await check(client, png, "still.png", "image/png")
        assert still["layers"] == ["watermark"] and still["generation_id"] == gid, still

        # The CLI asks the same endpoint, signed in or not.
        (tmp_path / "copy.mp4").write_bytes(copy)
        said = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["provenance", "check", str(tmp_path / "copy.mp4"), "--json"],
            env={"KINORA_GATEWAY_URL": platform.url, "KINORA_HOME": str(tmp_path)},
        )
        assert said.exit_code == 0, said.output
        assert json.loads(said.stdout)["generation_id"] == gid
        said = await asyncio.to_thread(
            CliRunner().invoke,
            cli,
            ["provenance", "check", str(tmp_path / "copy.mp4")],
            env={"KINORA_GATEWAY_URL": platform.url, "KINORA_HOME": str(tmp_path)},
        )
        assert f"made here (found by watermark): generation {gid}" in said.stdout, said.output

        # Not made here: encoded noise, and a clip signed by someone else's C2PA key.
        rng = np.random.default_rng(7)
        noise = encode_mp4(
            [rng.integers(0, 255, (1280, 720, 3), dtype=np.uint8) for _ in range(24)], 720, 1280, 24, None
        )
        stranger = await check(client, noise)
        assert stranger["made_here"] is False and stranger["layers"] == [], stranger
        forged = c2pa_sign.ProvenanceSigner(c2pa_sign.make_development_identity()).sign_mp4(
            noise, model="standard", generation_id=gid, creator_handle="mallory"
        )
        claimed = await check(client, forged)  # an intact manifest naming ada's clip, signed by another key
        assert claimed["made_here"] is False and claimed["c2pa"]["state"] == "Valid", claimed

        # Not a video or an image; no account needed, but refused cleanly.
        refused = await client.post("/api/v1/provenance/check", files={"file": ("x.txt", b"hello", "text/plain")})
        assert refused.status_code == 415 and refused.json()["error"]["code"] == "unsupported_media_type"
