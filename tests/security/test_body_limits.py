"""Request bodies are capped per route while they stream in (issue 20, part 4).

Before: uploads and JSON bodies were read whole - spooled, then read into memory - before any
limit applied (32 MB for uploads, none for JSON), so a client could make the gateway take in as
much as it liked. Now a per-route cap (verification clips 30 MB, images 10 MB, JSON 1 MB) is
applied as the bytes arrive, chunked bodies included: over it, the gateway answers 413 in its
usual error shape, closes the connection and reads no further.

The uploads here go over a raw socket to the real gateway (uvicorn), so the test sees exactly
how much of the body was sent before the answer came."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from services.gateway.bodylimit import BodyLimits, cap_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from gateway_platform import running_platform  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

MiB = 2**20
CHUNK = 64 * 1024
BOUNDARY = "kinora-test-boundary"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("bodies")) as p:
        ch = grpc.aio.insecure_channel(p.identity_addr)
        try:
            reply = await identity_pb2_grpc.IdentityServiceStub(ch).SignUp(
                identity_pb2.SignUpRequest(
                    invite_code=await p.invite(),
                    handle="uploader",
                    password="correct horse battery",
                    birthdate="1990-05-01",
                    region="US",
                )
            )
        finally:
            await ch.close()
        p.token = reply.tokens.access_token
        p.port = int(p.url.rsplit(":", 1)[1])
        yield p


@dataclass
class Outcome:
    status: int
    error: dict
    headers: dict
    sent: int  # body bytes the client managed to send
    finished: bool  # whether it sent the whole body
    peak_traced: int  # the process's peak Python memory while the request ran


def multipart(field: str, filename: str, content_type: str, size: int, fields: dict[str, str]):
    """A multipart body whose file part is `size` bytes, produced a chunk at a time."""
    head = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()
    )
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    yield head.encode()
    block = b"\x00" * CHUNK
    for start in range(0, size, CHUNK):
        yield block[: min(CHUNK, size - start)]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


async def send(
    port: int,
    path: str,
    pieces,
    *,
    token: str = "",
    content_type: str = "",
    content_length: int | None = None,
    slow_after: int | None = None,
    stop_on_answer: bool = True,
) -> Outcome:
    """Sends the pieces as a chunked body (or as a declared Content-Length) while watching for the
    answer; once `slow_after` bytes are out the client goes at a slow uploader's pace, so an answer
    the server gives on the way is seen before the body ends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
    head = [f"POST {path} HTTP/1.1", "Host: gateway", f"Content-Type: {content_type}"]
    head += [f"Authorization: Bearer {token}"] if token else []
    head += [f"Content-Length: {content_length}"] if content_length is not None else ["Transfer-Encoding: chunked"]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.create_task(read_response(reader))
    sent, finished = 0, False
    give_up = asyncio.get_running_loop().time() + 45  # a server that never answers fails, not hangs
    tracemalloc.start()
    try:
        for piece in pieces:
            if (answer.done() and stop_on_answer) or asyncio.get_running_loop().time() > give_up:
                break
            writer.write(piece if content_length is not None else b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            sent += len(piece)
            if slow_after is not None and sent > slow_after:
                await asyncio.sleep(0.02)
        else:
            if content_length is None:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            finished = True
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server stopped reading and closed
    try:
        status, headers, body = await asyncio.wait_for(answer, 15)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        writer.close()
    error = json.loads(body).get("error", {}) if body.startswith(b"{") else {}
    return Outcome(status, error, headers, sent, finished, peak)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


async def test_a_31_mb_streamed_clip_is_refused_on_the_way_in(platform):
    total = 31 * MiB
    outcome = await send(
        platform.port,
        "/api/v1/cameo/verifications/ver_1/video",
        multipart("video", "clip.mp4", "video/mp4", total, {"nonce": "n"}),
        token=platform.token,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        slow_after=29 * MiB,
    )
    assert outcome.status == 413, outcome
    assert outcome.error["code"] == "body_too_large"
    assert "30 MB" in outcome.error["message"]
    assert outcome.headers.get("connection") == "close"
    # The answer came while the client was still sending: the server stopped at the cap...
    assert not outcome.finished and outcome.sent < total, outcome
    # ...and never held the body: Python's peak while it streamed in stayed far below it.
    assert outcome.peak_traced < 8 * MiB, f"peak {outcome.peak_traced / MiB:.1f} MB while receiving the clip"


async def test_a_client_that_keeps_sending_is_cut_off(platform):
    def endless():
        yield from multipart("video", "clip.mp4", "video/mp4", 10**12, {"nonce": "n"})

    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await send(
        platform.port,
        "/api/v1/cameo/verifications/ver_1/video",
        endless(),
        token=platform.token,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        slow_after=29 * MiB,
        stop_on_answer=False,
    )
    assert outcome.status == 413 and not outcome.finished
    # At a slow uploader's pace past the cap (~3 MB/s), the server hangs up within its linger time.
    assert loop.time() - started < 30 and outcome.sent < 60 * MiB, outcome


async def test_a_declared_length_over_the_cap_is_refused_before_the_body(platform):
    # Only the headers go out; the answer must not wait for the body.
    reader, writer = await asyncio.open_connection("127.0.0.1", platform.port)
    writer.write(
        (
            f"POST /api/v1/cameo/verifications/ver_1/video HTTP/1.1\r\nHost: gateway\r\n"
            f"Authorization: Bearer {platform.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {31 * MiB}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    try:
        status, headers, body = await asyncio.wait_for(read_response(reader), 10)
    finally:
        writer.close()
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"


@pytest.mark.parametrize("path, field", [("/api/v1/generations", "image"), ("/v1/videos", "input_reference")])
async def test_an_image_over_10_mb_is_refused(platform, path, field):
    outcome = await send(
        platform.port,
        path,
        multipart(field, "big.png", "image/png", 11 * MiB, {"prompt": "a cat"}),
        token=platform.token,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert outcome.status == 413, outcome
    message = "the request is too large: the image may be at most 10 MB"
    if path.startswith("/v1/"):  # the Videos API's errors are in OpenAI's shape, the cap's too
        assert outcome.error == {
            "code": "body_too_large",
            "message": message,
            "type": "invalid_request_error",
            "param": None,
        }
    else:
        assert outcome.error == {"code": "body_too_large", "message": message}
    assert not outcome.finished


async def test_json_bodies_are_capped_at_1_mb(platform):
    padding = json.dumps({"handle": "someone", "password": "x" * (2 * MiB)}).encode()
    pieces = [padding[i : i + CHUNK] for i in range(0, len(padding), CHUNK)]
    outcome = await send(platform.port, "/api/v1/auth/signin", pieces, content_type="application/json")
    assert outcome.status == 413 and "1 MB" in outcome.error["message"], outcome
    # The same route, under the cap, is answered by the handler as usual.
    small = json.dumps({"handle": "someone", "password": "x" * (MiB // 2)}).encode()
    outcome = await send(platform.port, "/api/v1/auth/signin", [small], content_type="application/json")
    assert outcome.status == 401 and outcome.error["code"] == "invalid_credentials", outcome
    # A JSON body does not get the upload cap by going to an upload route.
    big = json.dumps({"prompt": "a cat " * (MiB // 3)}).encode()
    outcome = await send(
        platform.port,
        "/api/v1/generations",
        [big],
        token=platform.token,
        content_type="application/json",
        content_length=len(big),
    )
    assert outcome.status == 413, outcome


async def test_an_upload_under_the_cap_reaches_the_handler(platform):
    outcome = await send(
        platform.port,
        "/api/v1/cameo/verifications/ver_missing/video",
        multipart("video", "clip.mp4", "video/mp4", 2 * MiB, {"nonce": "n"}),
        token=platform.token,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert outcome.finished and outcome.status == 404, outcome  # identity: no such verification


async def test_every_capped_upload_route_exists():
    """A renamed upload route would silently fall back to the JSON cap: each capped path must
    still be a POST route of the app."""
    import re

    from kinora.runtime.settings import load_settings
    from services.gateway.app import create_app
    from services.gateway.settings import GatewaySettings

    limits = BodyLimits(video=30 * MiB, image=10 * MiB, json=MiB)
    paths = create_app(load_settings(GatewaySettings, {})).openapi()["paths"]
    posts = [re.compile(re.sub(r"\{[^}]+\}", "[^/]+", t)) for t, ops in paths.items() if "post" in ops]
    for path, kind in [
        ("/api/v1/cameo/verifications/v1/video", "video"),
        ("/v1/videos/characters", "video"),
        ("/api/v1/generations", "image"),
        ("/v1/videos", "image"),
    ]:
        cap, what = cap_for(limits, "POST", path, "multipart/form-data; boundary=x")
        assert kind in what and cap > (10 if kind == "image" else 30) * MiB
        assert any(p.fullmatch(path) for p in posts), path
        assert cap_for(limits, "POST", path, "application/json")[0] == MiB
