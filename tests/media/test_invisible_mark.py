"""The invisible mark on synthetic clips: its payload comes back from untouched frames,
after a CRF 28 re-encode with 10% cropped and half the size, from a single still, and
never from a clip that does not carry it (unmarked, noise, another key)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kinora.media import invisible_mark as im
from kinora.media.encode import encode_mp4
from kinora.media.transcode import reencode
from kinora.models.contract import ModelInputError, ModelRequest, request_from_json, request_to_json

W, H, N = 720, 1280, 48
PAYLOAD = 0xA5C3_1234_9F0E


def scene(seed: int, frames: int = N) -> list[np.ndarray]:
    """A static textured backdrop (the hard case: it does not average away) with moving discs."""
    rng = np.random.default_rng(seed)
    backdrop = cv2.resize(rng.random((H // 16, W // 16, 3)).astype(np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    backdrop = (backdrop * 180 + 40 + rng.normal(0, 6, (H, W, 3))).clip(0, 255).astype(np.uint8)
    out = []
    for k in range(frames):
        frame = backdrop.copy()
        for j in range(4):
            centre = (int(W * (0.2 + 0.6 * ((k * (j + 1) * 7) % W) / W)), int(H * (0.15 + 0.2 * j)))
            cv2.circle(frame, centre, 60 + 10 * j, tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
        out.append(frame)
    return out


def marked(frames: list[np.ndarray], payload: int = PAYLOAD, key: str | None = None) -> list[np.ndarray]:
    embedder = im.Embedder(payload, W, H, key=key)
    return [embedder.apply(f.copy()) for f in frames]


def luma(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]


@pytest.fixture(scope="module")
def clip() -> bytes:
    return encode_mp4(marked(scene(1)), W, H, 24, None)


def test_the_mark_is_faint_and_bounded():
    frames = scene(2, 4)
    out = marked(frames)
    delta = np.stack(out).astype(np.int16) - np.stack(frames)
    assert np.abs(delta).max() <= 6  # a few luma levels at most
    psnr = 10 * np.log10(255**2 / np.mean(delta.astype(np.float64) ** 2))
    assert psnr > 34, psnr  # this backdrop is busy everywhere: the mask gives it the most


def test_payload_from_untouched_frames_and_the_encoded_clip(clip):
    assert im.detect(luma(marked(scene(3, 24)))).payload == PAYLOAD
    found = im.detect_video(clip)
    assert found.payload == PAYLOAD and found.sync_score > 2 * im.SYNC_THRESHOLD, found


def test_payload_survives_crf28_crop_and_downscale(clip):
    copy = reencode(clip, crf=28, scale=0.5, crop=0.1)
    found = im.detect_video(copy)
    assert found.payload == PAYLOAD, found
    assert abs(found.period_px - im.TILE * im.chip_px(W, H) * 0.5) < 1.0  # the tile period, halved


def test_payload_from_one_still():
    frame = marked(scene(4, 1))[0]
    ok, png = cv2.imencode(".png", frame)
    assert im.detect_image(png.tobytes()).payload == PAYLOAD


def test_nothing_is_read_from_clips_that_do_not_carry_the_mark():
    rng = np.random.default_rng(5)
    plain = encode_mp4(scene(6, 24), W, H, 24, None)
    noise = encode_mp4([rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(24)], W, H, 24, None)
    other_key = encode_mp4(marked(scene(7, 24), key="someone-else's key"), W, H, 24, None)
    for data in (plain, noise, other_key):
        found = im.detect_video(data)
        assert found.payload is None, found
    # ...while that key reads its own mark.
    assert im.detect_video(other_key, key="someone-else's key").payload == PAYLOAD


def test_random_soft_bits_almost_never_pass_the_crc():
    rng = np.random.default_rng(8)
    hits = sum(im._decode(rng.normal(size=im.CODED_BITS)) is not None for _ in range(3000))
    # Chase decoding tries 2^8 words against a CRC-24: 3000 * 2^-16 ≈ 0.05 expected (this
    # seed happens to draw one; P(>= 2) ≈ 0.1%). A clip must also pass the 7σ sync lock first.
    assert hits <= 1


def test_payload_bounds_and_the_model_contract():
    with pytest.raises(ValueError):
        im.Embedder(1 << 48, W, H)
    request = ModelRequest(prompt="a ball", watermark_id=PAYLOAD)
    assert request_from_json(request_to_json(request)).watermark_id == PAYLOAD
    assert request_from_json(request_to_json(ModelRequest(prompt="a ball"))).watermark_id is None
    with pytest.raises(ModelInputError):
        ModelRequest(prompt="a ball", watermark_id=-1).validate()


def test_ltx2_frames_carry_the_mark():
    """ltx2 marks its RGB frames after the visible watermark, before encoding."""
    from kinora.models.ltx2 import _to_frames

    rng = np.random.default_rng(9)
    video = rng.random((3, 160, 96, 3)).astype(np.float32) * 0.5 + 0.25  # generation size, upscaled to 720x1280
    frames = _to_frames(video, 24, W, H, "@kinora", 24, watermark_id=PAYLOAD)
    assert im.detect(luma(frames)).payload == PAYLOAD
    assert im.detect(luma(_to_frames(video, 24, W, H, "@kinora", 24))).payload is None
