"""Liveness clips: a person reading digits aloud and turning their head, made
from material that ships in packages. Used by `kinora demo` (to verify a cameo
the way a phone would record it) and by the identity tests.

The face is scikit-image's public-domain astronaut portrait. Two ways to move it:
- `head="3d"` (the genuine recording): the portrait turned in 3D from its
  landmarks and its mouth opening with the speech's loudness (`head3d.py`);
- `head="slide"` (the photo attack): the flat photo squeezed horizontally and
  slid toward the side the nose would point to, lips never moving. This is
  what an attacker holding up a photo and playing synthetic speech produces;
  the liveness check must refuse it.
Speech is the digits read by espeak-ng (Debian package, installed by
scripts/system-deps.sh). Clips are encoded with PyAV.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

from kinora.media import head3d

DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
AUDIO_RATE = 48_000  # Opus only takes 48 kHz; AAC is fine with it too


@dataclass(frozen=True)
class Turn:
    direction: str  # "left" | "right", in the speaker's own frame
    start_s: float
    end_s: float


def _face_patch(height: int) -> np.ndarray:
    """The astronaut's head and shoulders, scaled to `height` pixels (RGB)."""
    portrait = skimage.data.astronaut()  # 512x512 RGB, face around x=224, y=113
    crop = portrait[0:300, 90:360]
    width = round(crop.shape[1] * height / crop.shape[0])
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=4)
def _head(height: int) -> head3d.Head:
    return head3d.build_head(_face_patch(height))


def mouth_track(audio: np.ndarray):
    """How open the mouth is (0..1) at time t, following the loudness of `audio`
    (mono float at AUDIO_RATE): the way lips move with one's own speech."""
    hop = AUDIO_RATE // 50  # 20 ms
    n = len(audio) // hop
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1)) if n else np.zeros(1)
    rms = np.convolve(rms, np.ones(4) / 4, mode="same")  # lips are slower than the waveform
    floor, loud = np.percentile(rms, 20), np.percentile(rms, 95)
    level = np.clip((rms - 3 * floor) / max(loud - 3 * floor, 1e-6), 0, 1)
    return lambda t: float(level[min(len(level) - 1, max(0, int(t * 50)))])


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    # A smooth gradient with a little texture, like a wall behind the speaker.
    x = np.linspace(90, 150, width, dtype=np.float32)
    y = np.linspace(0, 30, height, dtype=np.float32)[:, None]
    base = (x[None, :] + y)[..., None] * np.array([1.0, 0.95, 0.85], np.float32)
    base += rng.normal(0, 3, (height, width, 1)).astype(np.float32)
    return np.clip(base, 0, 255).astype(np.uint8)


def _turn_amount(t: float, turns: list[Turn]) -> float:
    """Signed yaw in [-1, 1] at time t: + for the speaker's left, - for right."""
    for turn in turns:
        if turn.start_s <= t <= turn.end_s:
            # Smooth ramp out and back so the turn looks like a head movement.
            phase = (t - turn.start_s) / (turn.end_s - turn.start_s)
            amount = np.sin(np.pi * phase) ** 0.5
            return amount if turn.direction == "left" else -amount
    return 0.0


def _paste(frame: np.ndarray, patch: np.ndarray, cx: float, top: int) -> None:
    h, w = patch.shape[:2]
    x0 = int(round(cx - w / 2))
    fx0, fx1 = max(0, x0), min(frame.shape[1], x0 + w)
    fy1 = min(frame.shape[0], top + h)
    if fx1 > fx0:
        frame[top:fy1, fx0:fx1] = patch[: fy1 - top, fx0 - x0 : fx1 - x0]


def render_frames(
    *,
    width: int,
    height: int,
    fps: int,
    duration_s: float,
    turns: list[Turn] = (),
    faces: int = 1,
    still: bool = False,
    seed: int = 0,
    head: str = "3d",
    mouth=None,
):
    """Yield RGB frames of `faces` astronauts (0, 1 or 2) turning as scripted.
    `head`: "3d" turns the head in depth, "slide" slides a flat photo (the attack).
    `mouth(t)` (3d only): how open the mouth is at time t, 0..1; closed if None."""
    if head not in ("3d", "slide"):
        raise ValueError(f"head must be '3d' or 'slide', not {head!r}")
    rng = np.random.default_rng(seed)
    background = _background(width, height, rng)
    patch = _face_patch(int(height * 0.8)) if faces else None
    model = _head(int(height * 0.8)) if faces and head == "3d" else None
    centres = [width / 2] if faces == 1 else [width * 0.27, width * 0.73]
    still_frame = None
    for i in range(round(duration_s * fps)):
        if still and still_frame is not None:
            yield still_frame
            continue
        t = i / fps
        frame = background.copy()
        if faces == 0:
            # Something moving but no face: drifting shapes.
            cx = int(width * (0.3 + 0.4 * (t / duration_s)))
            cv2.circle(frame, (cx, height // 2), height // 5, (200, 60, 60), -1)
            cv2.rectangle(frame, (width - cx - 20, 20), (width - cx + 20, 60), (40, 160, 40), -1)
        else:
            yaw = 0.0 if still else _turn_amount(t, list(turns))
            # Natural sway so a live clip is never pixel-still.
            sway = 0.0 if still else 2.0 * np.sin(2 * np.pi * 0.7 * t)
            if model is not None:
                # Turning to one's left shows the nose toward the camera's right.
                turned = head3d.render(model, yaw * head3d.MAX_YAW_DEG, mouth(t) if mouth and not still else 0.0)
                shift = 0.0
            else:
                squeeze = 1.0 - 0.4 * abs(yaw)
                pw = max(8, int(patch.shape[1] * squeeze))
                turned = cv2.resize(patch, (pw, patch.shape[0]), interpolation=cv2.INTER_AREA)
                # Turning to one's left shows the face moving to the camera's right.
                shift = yaw * 0.45 * patch.shape[1]
            for cx in centres[:faces]:
                _paste(frame, turned, cx + shift + sway, height - patch.shape[0])
        if still:
            still_frame = frame
        yield frame


def read_aloud(digits: str) -> np.ndarray:
    """espeak-ng reading `digits` with a pause after each: mono float32 at AUDIO_RATE."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed; run scripts/system-deps.sh")
    text = ", ".join(DIGIT_WORDS[int(d)] for d in digits)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            [espeak, "-v", "en-us+f2", "-s", "140", "-g", "25", "-w", str(wav), text], check=True, capture_output=True
        )
        return _decode_audio(wav.read_bytes())


def speak_digits(digits: str, *, seconds: float, start_s: float = 0.4, seed: int = 0) -> np.ndarray:
    """Mono float32 audio at AUDIO_RATE: espeak-ng reading `digits` with pauses,
    over faint room noise (digital silence is not what microphones record).
    Speech longer than `seconds` is cut off."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 0.002, int(seconds * AUDIO_RATE)).astype(np.float32)
    if digits:
        begin = int(start_s * AUDIO_RATE)
        speech = read_aloud(digits)[: len(audio) - begin]
        audio[begin : begin + len(speech)] += 0.6 * speech
    return audio


def _decode_audio(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().ravel() for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().ravel() for f in resampler.resample(None)]
    return np.concatenate(chunks)


def encode_clip(frames, audio: np.ndarray | None, *, width: int, height: int, fps: int, kind: str = "mp4") -> bytes:
    """Encode RGB frames (+ mono float audio) as MP4/MOV (H.264+AAC) or WebM (VP9+Opus)."""
    video_codec, audio_codec, fmt = {
        "mp4": ("libx264", "aac", "mp4"),
        "mov": ("libx264", "aac", "mov"),
        "webm": ("libvpx-vp9", "libopus", "webm"),
    }[kind]
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        vstream = container.add_stream(video_codec, rate=fps)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        if video_codec == "libx264":
            vstream.options = {"preset": "ultrafast", "crf": "23"}
        else:
            vstream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "35", "b": "0"}
        astream = None
        if audio is not None:
            astream = container.add_stream(audio_codec, rate=AUDIO_RATE)
            astream.layout = "mono"
        for frame in frames:
            container.mux(vstream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(vstream.encode(None))
        if astream is not None:
            chunk = astream.codec_context.frame_size or 960
            for pts in range(0, len(audio), chunk):
                piece = audio[pts : pts + chunk]
                if len(piece) < chunk:
                    piece = np.pad(piece, (0, chunk - len(piece)))
                aframe = av.AudioFrame.from_ndarray(piece[None, :].astype(np.float32), format="fltp", layout="mono")
                aframe.sample_rate, aframe.pts = AUDIO_RATE, pts
                container.mux(astream.encode(aframe))
            container.mux(astream.encode(None))
    return out.getvalue()


def make_clip(
    digits: str,
    turns: list[Turn],
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 15,
    duration_s: float = 6.0,
    faces: int = 1,
    still: bool = False,
    kind: str = "mp4",
    seed: int = 0,
    head: str = "3d",
    lips_from: str | None = None,
) -> bytes:
    """A clip of the astronaut reading `digits` and turning as scripted. With the
    default `head="3d"` the lips move with the speech: with this clip's own audio,
    or, given `lips_from`, with another take reading those digits (dubbed audio)."""
    audio = speak_digits(digits, seconds=duration_s, seed=seed)
    lips = audio if lips_from is None else speak_digits(lips_from, seconds=duration_s, start_s=1.3, seed=seed + 1)
    frames = render_frames(
        width=width,
        height=height,
        fps=fps,
        duration_s=duration_s,
        turns=turns,
        faces=faces,
        still=still,
        seed=seed,
        head=head,
        mouth=mouth_track(lips) if head == "3d" else None,
    )
    return encode_clip(frames, audio, width=width, height=height, fps=fps, kind=kind)


def turns_for(directions: list[str], duration_s: float = 6.0) -> list[Turn]:
    """Spread the challenge's turns over the clip, each ~1.1 s, with frontal gaps."""
    slot = (duration_s - 1.0) / max(1, len(directions))
    return [Turn(d, 0.8 + i * slot, 0.8 + i * slot + min(1.1, slot * 0.7)) for i, d in enumerate(directions)]


# pocketsphinx's small English model mishears espeak-ng's "six", "eight" and
# "nine"; a synthetic speaker can only answer challenges without them.
MISHEARD_DIGITS = frozenset("689")


def speakable(digits: str) -> bool:
    """Whether espeak-ng's reading of these digits is recognised reliably."""
    return not set(digits) & MISHEARD_DIGITS


def clip_for_challenge(
    digits: str,
    head_turns: list[str],
    *,
    duration_s: float = 6.0,
    seed: int = 0,
    head: str = "3d",
    lips_from: str | None = None,
) -> bytes:
    """An MP4 answering a liveness challenge: `digits` as shown (spaces are
    ignored) read aloud, and the head turns ("left"/"right") in order; at
    least `duration_s` long, longer when the digits need it. `head="slide"`
    makes the photo attack instead; `lips_from` dubs the speech over lips
    reading other digits (see `make_clip`)."""
    spoken = "".join(ch for ch in digits if ch.isdigit())
    bad = [d for d in head_turns if d not in ("left", "right")]
    if bad:
        raise ValueError(f"only left and right head turns can be simulated, not {', '.join(bad)}")
    # Six digits take espeak-ng about 7 s: make the clip long enough to say them all.
    duration_s = max(duration_s, round(len(read_aloud(spoken)) / AUDIO_RATE + 1.2, 1))
    return make_clip(
        spoken,
        turns_for(list(head_turns), duration_s),
        duration_s=duration_s,
        seed=seed,
        head=head,
        lips_from=lips_from,
    )
