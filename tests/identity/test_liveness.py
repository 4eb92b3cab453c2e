"""Liveness check on real clips: astronaut portrait + espeak-ng digits, encoded
with PyAV and decoded back by the verifier."""

import importlib.util
import io
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.identity import liveness as lv

_spec = importlib.util.spec_from_file_location("identity_liveness_fixtures", Path(__file__).with_name("fixtures.py"))
fx = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# espeak-ng's "six", "eight" and "nine" are misheard by pocketsphinx's model
# (a synthetic-voice quirk), so fixture challenges use the other digits.
DIGITS = "40712"
TURNS = ["left", "right"]


def challenge(digits=DIGITS, turns=TURNS, expires_at=NOW + timedelta(minutes=5)):
    return lv.Challenge(digits=digits, head_turns=list(turns), nonce="a" * 32, expires_at=expires_at)


@pytest.fixture(scope="module")
def valid_clip():
    return fx.make_clip(DIGITS, fx.turns_for(TURNS))


def assert_failed(result, name, *words):
    failed = result.check(name)
    assert failed is not None, f"check {name!r} missing: {result.checks}"
    assert not failed.passed, failed
    assert not result.passed and not result.face_crops and result.voice_profile is None
    # A sentence a person can read, not an exception dump.
    assert failed.reason[0].isupper() and failed.reason.endswith(".") and "Traceback" not in failed.reason
    for word in words:
        assert word.lower() in failed.reason.lower(), failed.reason
    return failed


def test_make_challenge_is_random_and_expires():
    a = lv.make_challenge(random.Random(1), now=NOW)
    b = lv.make_challenge(random.Random(2), now=NOW)
    assert a.nonce != b.nonce and len(a.nonce) == 32
    assert a.digits.isdigit() and 5 <= len(a.digits) <= 6
    assert len(a.head_turns) == 2 and set(a.head_turns) <= {"left", "right"}
    assert a.expires_at == NOW + lv.CHALLENGE_TTL


def test_valid_clip_passes_every_check(valid_clip):
    result = lv.verify(valid_clip, challenge(), NOW)
    assert result.passed, result.failures
    names = {c.name for c in result.checks}
    assert {"file", "duration", "one_face", "head_turns", "still_image", "speech", "digits"} <= names
    assert result.heard_digits == DIGITS
    # Likeness assets: real PNG face crops and a plausible voice profile.
    assert len(result.face_crops) == 3
    for png in result.face_crops:
        img = Image.open(io.BytesIO(png))
        assert img.format == "PNG" and min(img.size) >= 40
    profile = result.voice_profile
    assert 80 < profile.pitch_hz_median < 350
    pct = profile.pitch_hz_percentiles
    assert pct[10] <= pct[50] <= pct[90]
    assert len(profile.mel_envelope_db) == 24 and np.isfinite(profile.mel_envelope_db).all()


def test_webm_clip_passes():
    clip = fx.make_clip("3514", fx.turns_for(["right", "left"]), kind="webm", duration_s=5.0)
    assert clip[:4] == b"\x1a\x45\xdf\xa3"
    result = lv.verify(clip, challenge("3514", ["right", "left"]), NOW)
    assert result.passed, result.failures


def test_turns_in_wrong_order_fail(valid_clip):
    assert_failed(lv.verify(valid_clip, challenge(turns=["right", "left"]), NOW), "head_turns", "right, then left")


def test_no_face():
    clip = fx.make_clip(DIGITS, [], faces=0)
    assert_failed(lv.verify(clip, challenge(), NOW), "one_face", "face")


def test_two_faces():
    clip = fx.make_clip(DIGITS, fx.turns_for(TURNS), faces=2, width=480)
    assert_failed(lv.verify(clip, challenge(), NOW), "one_face", "more than one face")


def test_still_image():
    clip = fx.make_clip(DIGITS, [], still=True)
    result = lv.verify(clip, challenge(), NOW)
    assert_failed(result, "still_image", "photo")
    assert result.check("one_face").passed  # the photo does show one face


def test_wrong_digits(valid_clip):
    result = lv.verify(valid_clip, challenge(digits="35243"), NOW)
    assert_failed(result, "digits", "do not match")
    assert result.check("speech").passed


def test_silence():
    frames = fx.render_frames(width=320, height=240, fps=15, duration_s=6.0, turns=fx.turns_for(TURNS))
    clip = fx.encode_clip(frames, fx.speak_digits("", seconds=6.0), width=320, height=240, fps=15)
    result = lv.verify(clip, challenge(), NOW)
    assert_failed(result, "speech", "no speech")
    assert_failed(result, "digits")


def test_nonce_checks():
    ch = challenge()
    assert lv.check_nonce(ch, ch.nonce, NOW, used=set()).passed
    replay = lv.check_nonce(ch, ch.nonce, NOW, used={ch.nonce})
    assert not replay.passed and "already used" in replay.reason
    late = NOW + timedelta(minutes=6)
    expired = lv.check_nonce(ch, ch.nonce, late, used=set())
    assert not expired.passed and "expired" in expired.reason
    other = lv.check_nonce(ch, "b" * 32, NOW, used=set())
    assert not other.passed and "different challenge" in other.reason


def test_expired_challenge_refused(valid_clip):
    result = lv.verify(valid_clip, challenge(expires_at=NOW - timedelta(seconds=1)), NOW)
    assert_failed(result, "challenge", "expired")


def test_corrupt_file(valid_clip):
    rng = np.random.default_rng(0)
    broken = valid_clip[:64] + rng.bytes(len(valid_clip) - 64)  # header says MP4, body is garbage
    result = lv.verify(broken, challenge(), NOW)
    assert not result.passed
    assert any(c.name in {"file", "decode"} and not c.passed and "damaged" in c.reason for c in result.checks)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: _png_bytes(), id="png-named-mp4"),
        pytest.param(lambda: np.random.default_rng(1).bytes(200_000), id="random-bytes"),
        pytest.param(lambda: b"\x00\x00\x00\x18ftypmp42" + _png_bytes(), id="mp4-header-png-body"),
    ],
)
def test_file_lying_about_its_type(data):
    result = lv.verify(data(), challenge(), NOW)
    failed = assert_failed(result, "file")
    assert "mp4" in failed.reason.lower() or "damaged" in failed.reason.lower()


def _png_bytes():
    buf = io.BytesIO()
    Image.fromarray(fx.render_frames(width=320, height=240, fps=1, duration_s=1).__next__()).save(buf, "PNG")
    return buf.getvalue()


def test_webm_claiming_mp4_is_refused():
    # An EBML (WebM) body behind an MP4 'ftyp' box: the sniffed type and the demuxer disagree.
    webm = fx.make_clip("123", [], kind="webm", duration_s=3.0, width=160, height=160)
    result = lv.verify(b"\x00\x00\x00\x08ftyp" + webm, challenge(), NOW)
    assert_failed(result, "file")


@pytest.mark.parametrize(("width", "height"), [(96, 64), (4160, 160)])
def test_absurd_resolution(width, height):
    frames = fx.render_frames(width=width, height=height, fps=5, duration_s=3.0, faces=0)
    clip = fx.encode_clip(frames, fx.speak_digits("", seconds=3.0), width=width, height=height, fps=5)
    assert_failed(lv.verify(clip, challenge(), NOW), "resolution", f"{width}x{height}")


@pytest.mark.parametrize("seconds", [1.0, 20.0])
def test_absurd_duration(seconds):
    frames = fx.render_frames(width=160, height=160, fps=4, duration_s=seconds, faces=0)
    clip = fx.encode_clip(frames, fx.speak_digits("", seconds=seconds), width=160, height=160, fps=4)
    assert_failed(lv.verify(clip, challenge(), NOW), "duration", "3 to 15 seconds")


def test_oversized_file_refused_without_decoding():
    big = b"\x00\x00\x00\x18ftypmp42" + bytes(lv.MAX_BYTES)
    assert_failed(lv.verify(big, challenge(), NOW), "file", "limit is 30 MB")
