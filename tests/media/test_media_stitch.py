"""kinora/media/stitch.py: stitched clips decoded back (length, frames at known
offsets, sound across the joins), refusals, and the memory a stitch holds."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from kinora.media.encode import AUDIO_RATE, encode_mp4
from kinora.media.probe import probe_mp4
from kinora.media.stitch import StitchError, stitch_mp4

W, H, FPS = 96, 160, 24
JUMP = 0.1  # the figure: no step over 0.1 of full scale at a join


def picture(clip: int, index: int, width: int = W, height: int = H) -> np.ndarray:
    """A frame that says which clip and frame it is: a clip colour and a bar
    whose height grows with the frame index."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:] = ((60 + 70 * clip) % 256, (200 - 50 * clip) % 256, (40 * clip + 30) % 256)
    bar = int(height * (index + 1) / 60)
    frame[:bar, : width // 3] = (250, 250, 250)
    return frame


def tone(seconds: float, hz: float, phase: float) -> np.ndarray:
    t = np.arange(int(round(seconds * AUDIO_RATE))) / AUDIO_RATE
    wave = (0.6 * np.sin(2 * np.pi * hz * t + phase)).astype(np.float32)
    return np.stack([wave, wave])


def clip(number: int, frames: int, hz: float, phase: float, width: int = W, height: int = H) -> bytes:
    pictures = (picture(number, i, width, height) for i in range(frames))
    return encode_mp4(pictures, width, height, FPS, tone(frames / FPS, hz, phase), preset="veryfast", crf=12)


@pytest.fixture(scope="module")
def sources() -> list[bytes]:
    # The first clip ends at its tone's peak (+0.6), the second starts at its
    # trough (-0.6): a plain concatenation would jump by 1.2 there.
    first = clip(0, 36, 250.0, np.pi / 2 - 2 * np.pi * 250.0 * (36 / FPS - 1 / AUDIO_RATE))
    second = clip(1, 30, 400.0, -np.pi / 2)
    third = clip(2, 24, 330.0, 0.0)
    return [first, second, third]


def decoded(mp4: bytes):
    return probe_mp4(mp4, decode_frames=True, decode_audio=True)


def close(a: np.ndarray, b: np.ndarray, limit: float = 4.0) -> bool:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean()) < limit


def max_step(audio: np.ndarray, at_sample: int, span: int = 1200) -> float:
    window = audio[:, max(0, at_sample - span) : at_sample + span]
    return float(np.abs(np.diff(window, axis=1)).max())


def test_cut_keeps_every_frame_and_sound_stays_continuous(sources):
    out = decoded(stitch_mp4(sources, 0.0))
    src = [decoded(s) for s in sources]
    assert (out.width, out.height, round(out.fps)) == (W, H, FPS)
    assert len(out.frames) == 36 + 30 + 24
    offsets = [0, 36, 66]
    for k, start in enumerate(offsets):
        for i in (0, 5, len(src[k].frames) - 1):
            assert close(out.frames[start + i], src[k].frames[i]), (k, i)
    # The sources really do jump at the first join when simply put end to end...
    plain = np.concatenate([src[0].audio[:, : 36 * 2000], src[1].audio[:, : 30 * 2000]], axis=1)
    assert max_step(plain, 36 * 2000, span=2) > 5 * JUMP
    # ...the stitch does not, at either join.
    for join in (36 * 2000, 66 * 2000):
        assert max_step(out.audio, join) < JUMP, join
    assert out.audio.shape[1] >= (90 / FPS - 0.03) * AUDIO_RATE


@pytest.mark.parametrize("curve", ["equal_power", "linear"])
def test_crossfade_shortens_by_one_overlap_per_join_and_dissolves(sources, curve):
    out = decoded(stitch_mp4(sources, 0.5, curve=curve))
    src = [decoded(s) for s in sources]
    overlap = 12
    assert abs(len(out.frames) - (90 - 2 * overlap)) <= 1
    assert abs(out.duration_s - (90 - 2 * overlap) / FPS) <= 1.5 / FPS
    # Before the first join: clip 1 as it was.
    assert close(out.frames[10], src[0].frames[10])
    # The middle of the first dissolve is half of each side.
    mid = 36 - overlap + overlap // 2
    half = (src[0].frames[mid].astype(np.float32) + src[1].frames[overlap // 2].astype(np.float32)) / 2
    assert close(out.frames[mid], half, 6.0)
    # After the dissolve, clip 2 from its 13th frame on, at its place.
    assert close(out.frames[36 + 3], src[1].frames[overlap + 3])
    last = len(out.frames) - 1
    assert close(out.frames[last], src[2].frames[-1])
    for join_frame in (36 - overlap, 36 + 30 - 2 * overlap):
        for at in (join_frame, join_frame + overlap):  # where each fade starts and ends
            assert max_step(out.audio, at * 2000) < JUMP, (curve, at)


def test_equal_power_keeps_loudness_through_the_fade(sources):
    out = decoded(stitch_mp4(sources[:2], 1.0, curve="equal_power"))
    fade = slice((36 - 24) * 2000 + 2000, 36 * 2000 - 2000)
    rms = float(np.sqrt(np.mean(out.audio[0, fade] ** 2)))
    assert 0.6 / np.sqrt(2) * 0.85 < rms < 0.6 / np.sqrt(2) * 1.15


def test_mark_sees_every_output_frame(sources):
    seen = []

    def mark(frame):
        seen.append(frame.shape)
        frame[:4, :4] = 0

    out = decoded(stitch_mp4(sources[:2], 0.25, mark=mark))
    assert len(seen) == len(out.frames) == 36 + 30 - 6


def test_refusals(sources):
    with pytest.raises(StitchError) as one:
        stitch_mp4(sources[:1])
    assert one.value.code == "stitch_source_count"
    with pytest.raises(StitchError) as many:
        stitch_mp4(sources * 4)
    assert many.value.code == "stitch_source_count"
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(StitchError) as fade:
            stitch_mp4(sources[:2], bad)
        assert fade.value.code == "invalid_crossfade"
    with pytest.raises(StitchError) as curve:
        stitch_mp4(sources[:2], 0.5, curve="cubic")
    assert curve.value.code == "invalid_crossfade"
    other = clip(3, 24, 300.0, 0.0, width=160, height=96)
    with pytest.raises(StitchError) as size:
        stitch_mp4([sources[0], other])
    assert size.value.code == "stitch_mismatch" and "one size and frame rate" in size.value.message
    short = clip(4, 12, 300.0, 0.0)  # 0.5 s: too short for 0.5 s at both ends
    with pytest.raises(StitchError) as brief:
        stitch_mp4([sources[0], short, sources[1]], 0.5)
    assert brief.value.code == "invalid_crossfade"
    with pytest.raises(StitchError) as junk:
        stitch_mp4([sources[0], b"not a video"])
    assert junk.value.code == "stitch_source_unreadable"


def test_portrait_720p_streams_source_by_source():
    """Three 2 s 720x1280 clips: decoded whole they would be 3 x 48 frames of 2.6 MB
    (398 MB); the stitch holds the crossfade's 6 frames and the one being encoded."""
    width, height = 720, 1280
    clips = [clip(k, 48, 300.0 + 50 * k, 0.0, width, height) for k in range(3)]
    one_frame = width * height * 3
    tracemalloc.start()
    try:
        mp4 = stitch_mp4(clips, 0.25, preset="ultrafast", crf=28)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    facts = probe_mp4(mp4)
    assert (facts.width, facts.height) == (width, height)
    assert facts.frame_count == 3 * 48 - 2 * 6
    assert peak < 24 * one_frame, f"peak {peak / 1e6:.0f} MB"
