"""Hostile uploads: identity's SubmitVerification (video) and generator's
CreateGeneration (input image). Each is refused quickly with a message a
person understands, and the server's peak memory stays bounded. The services
run in this process, so its peak RSS (VmHWM, reset before each upload through
/proc/self/clear_refs) is the server's."""

from __future__ import annotations

import io
import struct
import time
import uuid
import zlib

import grpc
import pytest
from PIL import Image

from kinora.generator.v1 import generator_pb2 as ge
from kinora.generator.v1 import generator_pb2_grpc
from kinora.identity.v1 import identity_pb2 as idn
from kinora.identity.v1 import identity_pb2_grpc
from kinora.testing import bearer

REFUSE_WITHIN_S = 5.0
# Peak RSS growth allowed while refusing one upload. The client is in this
# process too, so the upload's own copies (request bytes, protobuf encode and
# decode, gRPC buffers on both ends) count: about 8 times its size.
MEMORY_BOUND_MB = 150
TRANSPORT_COPIES = 8


def bound_mb(upload: bytes) -> float:
    return MEMORY_BOUND_MB + TRANSPORT_COPIES * len(upload) / 2**20


def _peak_reset() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measured(call):
    """(grpc code, details or reply, seconds, peak RSS growth in MB)."""
    _peak_reset()
    base = _rss_mb()
    started = time.monotonic()
    try:
        reply, code = call(), grpc.StatusCode.OK
    except grpc.RpcError as exc:
        reply, code = exc.details(), exc.code()
    return code, reply, time.monotonic() - started, _peak_mb() - base


# --- hostile images ----------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with a tiny body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


def png_bomb(side: int) -> bytes:
    """A real, valid side x side RGBA PNG of one colour: a few hundred KB that
    decode to side*side*4 bytes."""
    row = b"\x00" + b"\x00" * (side * 4)
    raw = zlib.compressobj(9)
    body = b"".join(raw.compress(row) for _ in range(side)) + raw.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def png_real(width=720, height=1280) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


IMAGES = {
    "oversized (11 MB)": (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 2**20), "image_too_large", "10 MB"),
    "truncated PNG": (lambda: png_real()[:2000], "invalid_image", "could not be decoded"),
    "wrong type (text)": (lambda: b"hello, this is not an image at all" * 10, "invalid_image", "could not be decoded"),
    "wrong type (GIF)": (lambda: _gif(), "unsupported_image_type", "PNG, JPEG or WebP"),
    "header claims 100000x100000": (lambda: png_declaring(100_000, 100_000), "invalid_image_dimensions", "pixels"),
    "absurd shape 1x60000": (lambda: png_declaring(1, 60_000), "invalid_image_dimensions", "pixels"),
    "zero-size": (lambda: png_declaring(0, 0), "invalid_image", "decoded"),
}


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "GIF")
    return buf.getvalue()


@pytest.mark.parametrize("case", list(IMAGES))
def test_generation_image_refused_quickly_and_cheaply(platform, principals, case):
    make, reason, words = IMAGES[case]
    data = make()
    with platform.channel("generator") as ch:
        stub = generator_pb2_grpc.GeneratorServiceStub(ch)
        code, reply, seconds, grew_mb = measured(
            lambda: stub.CreateGeneration(
                ge.CreateGenerationRequest(
                    prompt="a kite over a beach",
                    seconds=4,
                    idempotency_key=uuid.uuid4().hex,
                    input_image=data,
                    input_image_content_type="image/png",
                ),
                metadata=bearer(principals.other["token"]),
                timeout=30,
            )
        )
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (case, code, reply)
    assert words in reply, f"{case}: unclear message {reply!r}"
    assert seconds < REFUSE_WITHIN_S, f"{case}: took {seconds:.1f}s to refuse"
    assert grew_mb < bound_mb(data), f"{case}: peak memory grew {grew_mb:.0f} MB"


def test_image_bomb_within_the_side_limit_is_bounded(platform, principals):
    """An 8192x8192 RGBA PNG passes the size and side checks (a few hundred KB
    on the wire) but decodes to 256 MB. Refusing or accepting it must not cost
    that much memory per request."""
    data = png_bomb(8192)
    assert len(data) < 2 * 2**20
    with platform.channel("generator") as ch:
        stub = generator_pb2_grpc.GeneratorServiceStub(ch)
        code, reply, seconds, grew_mb = measured(
            lambda: stub.CreateGeneration(
                ge.CreateGenerationRequest(
                    prompt="a kite over a beach",
                    seconds=4,
                    idempotency_key=uuid.uuid4().hex,
                    input_image=data,
                    input_image_content_type="image/png",
                ),
                metadata=bearer(principals.other["token"]),
                timeout=60,
            )
        )
    print(f"8192x8192 PNG bomb ({len(data) // 1024} KB): {code.name} in {seconds:.2f}s, peak RSS +{grew_mb:.0f} MB")
    assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OK), reply
    assert seconds < REFUSE_WITHIN_S
    assert grew_mb < MEMORY_BOUND_MB, (
        f"decoding a {len(data) // 1024} KB image raised peak memory by {grew_mb:.0f} MB (one request)"
    )


# --- hostile verification videos ----------------------------------------------------


def clip(width=320, height=240, seconds=4.0, fps=10, audio=True) -> bytes:
    """A real MP4 (H.264 + AAC) made with PyAV."""
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = out.add_stream("aac", rate=48000) if audio else None
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), (i * 7) % 255, np.uint8), format="rgb24")
            out.mux(v.encode(frame))
        out.mux(v.encode())
        if a is not None:
            samples = np.zeros((1, 1024), np.float32)
            for i in range(int(seconds * 48000 / 1024)):
                f = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
                f.sample_rate, f.pts = 48000, i * 1024
                out.mux(a.encode(f))
            out.mux(a.encode())
    return buf.getvalue()


VIDEOS = {
    "oversized (31 MB)": (lambda: b"\x00\x00\x00\x20ftypisom" + b"\x00" * (31 * 2**20), "limit is 30 MB"),
    "truncated MP4": (lambda: clip()[:3000], ""),
    "wrong type (PNG)": (lambda: png_real(320, 240), ""),
    "absurd duration (60 s)": (lambda: clip(160, 160, seconds=60, fps=1), "3 to 15 seconds"),
    "absurd dimensions (4800x160)": (lambda: clip(4800, 160, seconds=3, fps=2), "pixels"),
    "no sound track": (lambda: clip(audio=False), "sound"),
}


@pytest.mark.parametrize("case", list(VIDEOS))
def test_verification_video_refused_quickly_and_cheaply(platform, principals, case):
    make, words = VIDEOS[case]
    data = make()
    with platform.channel("identity") as ch:
        stub = identity_pb2_grpc.IdentityServiceStub(ch)
        md = bearer(principals.other["token"])
        started = stub.StartVerification(idn.StartVerificationRequest(), metadata=md, timeout=10).verification
        code, reply, seconds, grew_mb = measured(
            lambda: stub.SubmitVerification(
                idn.SubmitVerificationRequest(
                    verification_id=started.id, nonce=started.challenge.nonce, video=data, content_type="video/mp4"
                ),
                metadata=md,
                timeout=60,
            )
        )
    if code == grpc.StatusCode.OK:  # refused as a failed verification with the checks that failed
        verification = reply.verification
        assert verification.status != idn.VERIFICATION_STATUS_PASSED, case
        message = " ".join(c.reason for c in verification.checks if not c.passed)
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (case, code, reply)
        message = reply
    assert message.strip(), f"{case}: refused without a reason"
    assert words in message, f"{case}: unclear message {message!r}"
    assert seconds < REFUSE_WITHIN_S, f"{case}: took {seconds:.1f}s to refuse"
    assert grew_mb < bound_mb(data), f"{case}: peak memory grew {grew_mb:.0f} MB"
