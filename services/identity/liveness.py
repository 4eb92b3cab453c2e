"""Cameo verification: the liveness check, as plain domain code.

The user records a short clip reading the challenge digits aloud and turning
their head as asked. `verify` decodes the clip (PyAV, never trusting its name),
then runs named checks, each with a reason a person can read. On success it
returns likeness assets: a few face crops and a voice profile.

Nonce storage and single use belong to the caller (the identity service): it
must call `check_nonce` with the set of nonces already spent, and record the
nonce as spent whatever the outcome.
"""

from __future__ import annotations

import hmac
import io
import random
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import av
import cv2
import numpy as np

from services.identity import face, voice

MAX_BYTES = 30 * 1024 * 1024
MIN_DURATION_S, MAX_DURATION_S = 3.0, 15.0
MIN_SIDE_PX, MAX_SIDE_PX = 160, 4096
CHALLENGE_TTL = timedelta(minutes=5)
SAMPLE_FPS = 10.0  # face analysis runs on this many frames per second (lips move at syllable rate)
CROP_EVERY = 5  # colour is kept for every 5th sampled frame only (face crops come from these)
# Lip sync: the mouth's opening is correlated with the speech's loudness, at small lags
# (lips lead or trail the sound a little; recorders keep picture and sound within ~0.1 s)
# and at large ones (0.4 to 2 s). In one take the small lags correlate well and at least
# about as well as any large lag; speech dubbed from another take lines up best far from
# zero. Fixture figures (tests/identity/test_liveness_attacks.py): own take 0.95 near,
# 0.7 far; takes dubbed over other readings 0.13-0.27 near, 0.44-0.92 far.
MIN_LIP_SYNC = 0.3
LIP_SYNC_MARGIN = 0.1  # how much better a far lag may fit before the take counts as dubbed
LIP_NEAR_S, LIP_FAR_S = (0.0, 0.1), (0.4, 2.0)
MIN_MOUTH_MOVEMENT = 0.03  # standard deviation of the mouth opening: below it the lips stay still
# Only SAMPLE_FPS frames a second are analysed, but every frame must be decoded: a clip past
# these caps is refused as soon as decoding shows it, not decoded to the end.
MAX_FPS = 30
MAX_FRAMES = int(MAX_FPS * (MAX_DURATION_S + 1))  # counts frames without timestamps too
ANALYSIS_WIDTH = 640  # sampled frames are scaled down to this width (crops come from here)

# Demuxer names PyAV/FFmpeg report, and the codecs we accept in them.
_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "WebM"}
_VIDEO_CODECS = {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"}
_AUDIO_CODECS = {"aac", "opus", "vorbis", "mp3"}


@dataclass(frozen=True)
class Challenge:
    digits: str
    head_turns: list[str]  # "left" | "right", in the user's own frame
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str


@dataclass
class VerificationResult:
    checks: list[Check]
    face_crops: list[bytes] = field(default_factory=list)  # PNG images
    voice_profile: voice.VoiceProfile | None = None
    heard_digits: str | None = None

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


def make_challenge(rng: random.Random, now: datetime | None = None, ttl: timedelta = CHALLENGE_TTL) -> Challenge:
    """A fresh challenge. Pass `random.SystemRandom()` in production: the nonce
    and digits must be unpredictable; a seeded Random is only for tests."""
    now = now or datetime.now(UTC)
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 6)))
    turns = [rng.choice(["left", "right"]) for _ in range(2)]
    nonce = f"{rng.getrandbits(128):032x}"
    return Challenge(digits=digits, head_turns=turns, nonce=nonce, expires_at=now + ttl)


def check_nonce(challenge: Challenge, presented_nonce: str, now: datetime, used: Container[str]) -> Check:
    """Is the nonce the challenge's, unexpired and not spent? `used` is any
    container of spent nonces; the caller must add this nonce to it afterwards."""
    if not hmac.compare_digest(presented_nonce.encode(), challenge.nonce.encode()):
        return Check("nonce", False, "This recording was made for a different challenge. Start a new verification.")
    if now >= challenge.expires_at:
        return Check("nonce", False, "The challenge has expired. Start a new verification and record again.")
    if presented_nonce in used:
        return Check("nonce", False, "This challenge was already used. Start a new verification and record again.")
    return Check("nonce", True, "The challenge is valid and was not used before.")


def verify(video_bytes: bytes, challenge: Challenge, now: datetime) -> VerificationResult:
    checks: list[Check] = []

    def refuse(name: str, reason: str) -> VerificationResult:
        checks.append(Check(name, False, reason))
        return VerificationResult(checks)

    if now >= challenge.expires_at:
        return refuse("challenge", "The challenge has expired. Start a new verification and record again.")
    checks.append(Check("challenge", True, "The challenge has not expired."))

    if len(video_bytes) > MAX_BYTES:
        return refuse("file", f"The video is {len(video_bytes) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    sniffed = _sniff(video_bytes)
    if sniffed is None:
        return refuse("file", "This file is not an MP4, MOV or WebM video.")

    try:
        container = av.open(io.BytesIO(video_bytes), mode="r")
    except (av.FFmpegError, ValueError, OSError):
        return refuse("file", "The video file is damaged and could not be read.")
    with container:
        demuxer = _CONTAINERS.get(container.format.name)
        if demuxer is None or demuxer != sniffed:
            return refuse(
                "file", f"The file claims to be {sniffed} but its contents are not; upload the original video."
            )
        problem = _stream_problem(container)
        if problem:
            return refuse(*problem)
        checks.append(Check("file", True, f"{demuxer} video decoded."))
        try:
            media = _decode(container)
        except (av.FFmpegError, ValueError, OSError):
            return refuse("decode", "The video file is damaged and could not be decoded.")
        except _TooLong:
            return refuse("duration", f"The video is longer than {MAX_DURATION_S:.0f} seconds; record 3 to 15 seconds.")
        except _TooManyFrames:
            return refuse(
                "decode",
                f"The video has more than {MAX_FPS} frames per second; record at {MAX_FPS} frames per second or fewer.",
            )

    if not MIN_DURATION_S <= media.duration_s <= MAX_DURATION_S:
        return refuse("duration", f"The video is {media.duration_s:.1f} seconds long; record 3 to 15 seconds.")
    if len(media.frames) < 3:
        return refuse("decode", "The video has too few frames to check.")
    checks.append(Check("duration", True, f"The video is {media.duration_s:.1f} seconds long."))

    track = face.track_faces([f.gray for f in media.frames], [f.time_s for f in media.frames])
    checks.append(_check_one_face(track))
    checks.append(_check_head_turns(track, challenge.head_turns))
    checks.append(_check_motion(media.frames, track))

    speech = voice.find_speech(media.audio)
    heard = None
    if speech.seconds < voice.MIN_SPEECH_S:
        checks.append(
            Check("speech", False, "No speech was heard. Read the digits aloud, clearly, near the microphone.")
        )
        checks.append(Check("digits", False, "The digits could not be checked because no speech was heard."))
    else:
        checks.append(Check("speech", True, f"{speech.seconds:.1f} seconds of speech heard."))
        heard = voice.recognise_digits(media.audio, speech, len(challenge.digits))
        checks.append(_check_digits(heard, challenge.digits))
        checks.append(_check_lip_sync(track, media.audio))

    result = VerificationResult(checks, heard_digits=heard)
    if result.passed:
        result.face_crops = face.best_crops([f.rgb for f in media.frames], track, count=3)
        result.voice_profile = voice.voice_profile(media.audio, speech)
    return result


# --- container and decoding -------------------------------------------------


def _sniff(data: bytes) -> str | None:
    """Type from magic bytes alone: ISO base media (MP4/MOV) or EBML (WebM)."""
    if len(data) >= 12 and data[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "MP4/MOV"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM"
    return None


def _stream_problem(container: av.container.InputContainer) -> tuple[str, str] | None:
    if not container.streams.video:
        return "file", "The file has no video track."
    if not container.streams.audio:
        return "file", "The video has no sound track; the digits must be read aloud."
    video, audio = container.streams.video[0], container.streams.audio[0]
    if video.codec_context.name not in _VIDEO_CODECS:
        return "file", f"The video codec {video.codec_context.name} is not supported; use H.264, HEVC, VP8, VP9 or AV1."
    if audio.codec_context.name not in _AUDIO_CODECS:
        return "file", f"The audio codec {audio.codec_context.name} is not supported; use AAC or Opus."
    w, h = video.codec_context.width, video.codec_context.height
    if max(w, h) > MAX_SIDE_PX or min(w, h) < MIN_SIDE_PX:
        return "resolution", (
            f"The video is {w}x{h} pixels; each side must be between {MIN_SIDE_PX} and {MAX_SIDE_PX} pixels."
        )
    # Refuse on the declared duration before decoding anything.
    declared = container.duration / av.time_base if container.duration else None
    if declared is not None and not MIN_DURATION_S <= declared <= MAX_DURATION_S + 0.5:
        return "duration", f"The video is {declared:.1f} seconds long; record 3 to 15 seconds."
    return None


class _TooManyFrames(Exception):
    pass


class _TooLong(Exception):
    pass


@dataclass
class _Frame:
    time_s: float
    rgb: np.ndarray[Any, Any] | None  # at most ANALYSIS_WIDTH wide; kept for every CROP_EVERY-th frame
    gray: np.ndarray[Any, Any]


@dataclass
class _Media:
    frames: list[_Frame]
    audio: np.ndarray[Any, Any]  # mono int16 at voice.SAMPLE_RATE
    duration_s: float


def _decode(container: av.container.InputContainer) -> _Media:
    """One pass over both tracks. Only sampled frames are converted and kept,
    and decoding stops past the longest allowed clip, so memory stays bounded
    whatever the file declares."""
    video = container.streams.video[0]  # _stream_problem has checked there is a sound track too
    video.thread_type = "AUTO"
    scale = min(1.0, ANALYSIS_WIDTH / video.codec_context.width)
    out_w = int(video.codec_context.width * scale) // 2 * 2
    out_h = int(video.codec_context.height * scale) // 2 * 2
    resampler = av.AudioResampler(format="s16", layout="mono", rate=voice.SAMPLE_RATE)
    frames: list[_Frame] = []
    pcm: list[np.ndarray[Any, Any]] = []
    next_sample, first_t, last_t = 0.0, None, 0.0
    decoded = timed = 0
    latest = 0.0  # the last frame's time from the first
    limit = MAX_DURATION_S + 1.0
    # Only the video and audio streams are decoded: no subtitle frames come.
    for frame in cast(Iterator[av.VideoFrame | av.AudioFrame], container.decode(video=0, audio=0)):
        if isinstance(frame, av.VideoFrame):
            decoded += 1
            if decoded > MAX_FRAMES:
                raise _TooManyFrames
        if frame.time is None:
            continue
        if frame.time > limit:
            raise _TooLong
        if isinstance(frame, av.AudioFrame):
            pcm += [f.to_ndarray().ravel() for f in resampler.resample(frame)]
            continue
        first_t = frame.time if first_t is None else first_t
        t = frame.time - first_t
        timed += 1
        if timed > MAX_FPS * (t + 1.0) + 1:  # a second's grace: refused early, without decoding on
            raise _TooManyFrames
        latest = max(latest, t)
        last_t = max(last_t, t + 1.0 / float(video.average_rate or 25))
        if t + 1e-6 >= next_sample:
            if len(frames) % CROP_EVERY == 0:
                rgb = frame.to_ndarray(width=out_w, height=out_h, format="rgb24")
                frames.append(_Frame(t, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)))
            else:
                gray = frame.to_ndarray(width=out_w, height=out_h, format="gray")
                frames.append(_Frame(t, None, gray))
            next_sample += 1.0 / SAMPLE_FPS
    if timed > 2 and latest > 0 and (timed - 1) / latest > MAX_FPS * 1.02:  # 2%: phones' variable rates
        raise _TooManyFrames
    pcm += [f.to_ndarray().ravel() for f in resampler.resample(None)]
    samples = np.concatenate(pcm).astype(np.int16) if pcm else np.zeros(0, np.int16)
    return _Media(frames, samples, last_t)


# --- checks -----------------------------------------------------------------


def _check_one_face(track: face.FaceTrack) -> Check:
    n = len(track.counts)
    single = sum(c == 1 for c in track.counts) / n
    several = sum(c >= 2 for c in track.counts) / n
    if several >= 0.3:
        return Check("one_face", False, "More than one face is in the video; record yourself alone.")
    if single < 0.6:
        return Check(
            "one_face", False, f"A face was found in only {single:.0%} of the video; keep your face in the frame."
        )
    return Check("one_face", True, f"One face was found in {single:.0%} of the video.")


def _check_head_turns(track: face.FaceTrack, expected: list[str]) -> Check:
    seen = face.head_turns(track)
    asked = ", then ".join(expected)
    if seen == list(expected):
        return Check("head_turns", True, f"Head turns seen as asked: {asked}.")
    if not seen:
        return Check("head_turns", False, f"No head turn was seen; turn your head {asked}.")
    return Check(
        "head_turns", False, f"The head turns seen ({', then '.join(seen)}) do not match the challenge ({asked})."
    )


def _check_motion(frames: list[_Frame], track: face.FaceTrack) -> Check:
    if face.is_still([f.gray for f in frames], track):
        return Check("still_image", False, "Nothing in the video moves; it looks like a photo, not a live recording.")
    return Check("still_image", True, "The video shows live movement.")


def _check_lip_sync(track: face.FaceTrack, audio: np.ndarray[Any, Any]) -> Check:
    """Do the lips open and close with the speech? Dubbed speech (text-to-speech over a
    photo, or another take's audio) leaves the mouth still or moving out of step."""
    mouths = track.mouths
    seen = [i for i, m in enumerate(mouths) if m is not None]
    if len(seen) < 10:
        return Check("lip_sync", False, "The mouth could not be seen clearly enough; face the camera while you speak.")
    mouth = np.array([mouths[i] for i in seen])
    if float(np.std(mouth)) < MIN_MOUTH_MOVEMENT:
        return Check(
            "lip_sync", False, "Your lips did not move while the digits were spoken; read them aloud yourself."
        )
    loud = voice.loudness_at(audio, [track.times[i] for i in seen])
    near, far = (
        _best_correlation(mouth, loud, *(round(s * SAMPLE_FPS) for s in span)) for span in (LIP_NEAR_S, LIP_FAR_S)
    )
    if near < MIN_LIP_SYNC or near < far - LIP_SYNC_MARGIN:
        return Check(
            "lip_sync",
            False,
            "Your lips did not move in time with the voice; record yourself reading the digits aloud, in one take.",
        )
    return Check("lip_sync", True, f"The lips move in time with the voice (correlation {near:.2f}).")


def _best_correlation(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], min_lag: int, max_lag: int) -> float:
    """Highest correlation of a against b shifted by min_lag..max_lag samples either way."""
    best = -1.0
    for lag in (lag for lag in range(-max_lag, max_lag + 1) if abs(lag) >= min_lag):
        x, y = (a[lag:], b[: len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        if len(x) > 5 and np.std(x) > 0 and np.std(y) > 0:
            best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best


def _check_digits(heard: str, expected: str) -> Check:
    wrong = sum(a != b for a, b in zip(heard, expected)) + abs(len(heard) - len(expected))
    # Recognisers mishear a digit now and then; one slip in five or six digits
    # still proves the recording was made for this challenge.
    allowed = 1 if len(expected) >= 5 else 0
    if wrong <= allowed:
        return Check("digits", True, "The spoken digits match the challenge.")
    return Check(
        "digits",
        False,
        f"The digits heard ({' '.join(heard) or 'none'}) do not match the challenge ({' '.join(expected)}).",
    )
