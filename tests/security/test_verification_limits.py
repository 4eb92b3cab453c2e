"""Verification decodes a bounded number of frames (issue 20, part 6).

Before: the liveness check decoded every frame of any clip within its 16 s, whatever the frame
rate - a 30 MB upload at hundreds of frames per second cost that many decodes before any check
could fail. Now more than 30 frames a second, or more frames than a 15 s clip holds at that rate,
is refused as a media problem as soon as decoding shows it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from kinora.media.liveness_clip import encode_clip, make_clip, render_frames, speak_digits, turns_for
from services.identity import liveness as lv

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CHALLENGE = lv.Challenge(
    digits="40712", head_turns=["left", "right"], nonce="a" * 32, expires_at=NOW + timedelta(minutes=5)
)


def clip(fps: int, seconds: float) -> bytes:
    frames = render_frames(width=160, height=160, fps=fps, duration_s=seconds, faces=0)
    return encode_clip(frames, speak_digits("", seconds=seconds), width=160, height=160, fps=fps)


def refusal(result: lv.VerificationResult) -> lv.Check:
    failed = [c for c in result.checks if not c.passed]
    assert failed and not result.passed, result.checks
    return failed[0]


@pytest.mark.parametrize("fps", [60, 240])
def test_more_than_30_frames_a_second_is_refused(fps):
    check = refusal(lv.verify(clip(fps, 4.0), CHALLENGE, NOW))
    assert (check.name, check.reason) == (
        "decode",
        "The video has more than 30 frames per second; record at 30 frames per second or fewer.",
    )


def test_a_fast_clip_is_refused_without_decoding_it_all():
    fast = clip(240, 15.0)  # 3,600 frames
    started = time.perf_counter()
    check = refusal(lv.verify(fast, CHALLENGE, NOW))
    refused_in = time.perf_counter() - started
    started = time.perf_counter()
    lv.verify(clip(30, 3.0), CHALLENGE, NOW)  # 90 frames, checked to the end
    normal = time.perf_counter() - started
    assert check.name == "decode"
    assert refused_in < normal, f"refused in {refused_in:.2f} s; a whole 3 s clip takes {normal:.2f} s"


def test_a_30_fps_clip_is_checked_as_usual():
    result = lv.verify(make_clip("40712", turns_for(["left", "right"]), fps=30, duration_s=6.0), CHALLENGE, NOW)
    assert result.passed, result.checks
