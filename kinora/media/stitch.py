"""Stitch finished clips into one: concatenate, optionally crossfade picture and
sound at each join, and encode once (kinora/media/encode.py).

Pictures stream source by source: only the frames of one crossfade (at most
one second of the previous clip's tail) are held besides the frame being
encoded, never whole clips. Sound is small next to pictures (10 clips of 25 s
are 96 MB of float32 stereo against ~16 GB of 720x1280 frames), so each
source's track is decoded whole and laid into the output track before any
picture is encoded.

At a crossfade the picture dissolves linearly and the sound fades with the
chosen curve: "equal_power" (cos/sin, constant loudness for unrelated sounds)
or "linear" (constant amplitude, for the same sound on both sides). A hard cut
(no crossfade) still fades each side's sound over DECLICK_S, to silence and
back, so the waveform stays continuous across the join instead of jumping from
one track's level to the other's.
"""

from __future__ import annotations

import io
import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import av
import numpy as np

from kinora.media.encode import AUDIO_RATE, encode_mp4
from kinora.media.probe import probe_mp4

MAX_SOURCES = 10
MAX_CROSSFADE_S = 1.0
DECLICK_S = 0.005  # 5 ms: short enough to be inaudible, long enough to remove the step
CURVES = ("equal_power", "linear")


class StitchError(ValueError):
    """Sources that can't be stitched as asked: a stable `code` and a sentence."""

    def __init__(self, message: str, code: str = "stitch_invalid"):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Source:
    width: int
    height: int
    fps: int
    frames: int

    @property
    def samples(self) -> int:
        return samples_for(self.frames, self.fps)


def samples_for(frames: int, fps: int) -> int:
    return int(round(frames * AUDIO_RATE / fps))


def describe(mp4: bytes, index: int) -> Source:
    try:
        facts = probe_mp4(mp4)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the caller's mistake
        raise StitchError(f"clip {index + 1} can't be read as a video: {exc}", "stitch_source_unreadable") from exc
    fps = int(round(facts.fps))
    if fps <= 0 or abs(facts.fps - fps) > 1e-3:
        raise StitchError(
            f"clip {index + 1} has a frame rate of {facts.fps:g}; only whole frame rates can be stitched",
            "stitch_source_unreadable",
        )
    frames = facts.frame_count or int(round(facts.duration_s * fps))
    return Source(facts.width, facts.height, fps, frames)


def plan(sources: list[bytes], crossfade_s: float, curve: str) -> tuple[list[Source], int]:
    """Check the sources and the crossfade; returns each source's facts and the
    crossfade's length in frames."""
    if not 2 <= len(sources) <= MAX_SOURCES:
        raise StitchError(f"a stitch takes 2 to {MAX_SOURCES} clips; got {len(sources)}", "stitch_source_count")
    if not (0.0 <= crossfade_s <= MAX_CROSSFADE_S) or math.isnan(crossfade_s):
        raise StitchError(
            f"the crossfade must be 0 to {MAX_CROSSFADE_S:g} seconds; got {crossfade_s:g}", "invalid_crossfade"
        )
    if curve not in CURVES:
        raise StitchError(f"the crossfade curve must be one of {', '.join(CURVES)}", "invalid_crossfade")
    facts = [describe(mp4, i) for i, mp4 in enumerate(sources)]
    first = facts[0]
    for i, f in enumerate(facts[1:], start=2):
        if (f.width, f.height, f.fps) != (first.width, first.height, first.fps):
            raise StitchError(
                f"clip {i} is {f.width}x{f.height} at {f.fps} fps but clip 1 is "
                f"{first.width}x{first.height} at {first.fps} fps; stitched clips must share one "
                "size and frame rate",
                "stitch_mismatch",
            )
    overlap = int(round(crossfade_s * first.fps))
    for i, f in enumerate(facts, start=1):
        ends = 1 if i in (1, len(facts)) else 2  # the first and last clips fade at one end only
        if f.frames < ends * overlap + 1:
            raise StitchError(
                f"clip {i} is {f.frames / f.fps:.2f} s long: too short for a {crossfade_s:g} s "
                f"crossfade at {'its end' if ends == 1 else 'each end'}",
                "invalid_crossfade",
            )
    return facts, overlap


def stitch_mp4(
    sources: list[bytes],
    crossfade_s: float = 0.0,
    *,
    curve: str = "equal_power",
    mark: Callable[[np.ndarray], None] | None = None,
    prepare: Sequence[Callable[[np.ndarray], None] | None] = (),
    preset: str = "veryfast",
    crf: int = 20,
    threads: int = 0,
) -> bytes:
    """One MP4 of `sources` (MP4 bytes, in order) played one after the other,
    each join a `crossfade_s` dissolve (0: a cut). Its length is the sum of the
    sources' less one crossfade per join. `mark`, when given, is called with
    each output frame (HxWx3 uint8, writable) before it is encoded: the new
    clip's invisible watermark. `prepare[k]`, when given, is called with each
    decoded frame of source k before any dissolve (e.g. to take out that
    source's own invisible mark). Raises StitchError for sources that don't fit."""
    facts, overlap = plan(sources, float(crossfade_s), curve)
    first = facts[0]
    audio = mix_audio(sources, facts, overlap, curve)
    frames = _frames(sources, facts, overlap, mark, list(prepare) + [None] * (len(sources) - len(prepare)))
    return encode_mp4(frames, first.width, first.height, first.fps, audio, preset=preset, crf=crf, threads=threads)


def total_frames(facts: list[Source], overlap: int) -> int:
    return sum(f.frames for f in facts) - overlap * (len(facts) - 1)


# -- sound ------------------------------------------------------------------------


def fade_gains(n: int, curve: str) -> tuple[np.ndarray, np.ndarray]:
    """(outgoing, incoming) gains over n samples, sampled mid-sample so neither
    side is ever exactly silent or exactly full inside the overlap."""
    x = (np.arange(n, dtype=np.float64) + 0.5) / n
    if curve == "linear":
        return (1.0 - x).astype(np.float32), x.astype(np.float32)
    return np.cos(x * np.pi / 2).astype(np.float32), np.sin(x * np.pi / 2).astype(np.float32)


def source_audio(mp4: bytes, length: int) -> np.ndarray:
    """The source's sound as float32 (2, length) on its own timeline: cut or
    padded with silence to `length`, mono doubled; silence when it has none."""
    out = np.zeros((2, length), dtype=np.float32)
    facts = probe_mp4(mp4, decode_audio=True)
    if facts.audio is None or facts.audio.size == 0:
        return out
    pcm = facts.audio
    if facts.audio_rate != AUDIO_RATE:
        raise StitchError(f"a clip's sound is at {facts.audio_rate} Hz; {AUDIO_RATE} Hz is expected", "stitch_mismatch")
    if pcm.shape[0] == 1:
        pcm = np.repeat(pcm, 2, axis=0)
    take = min(length, pcm.shape[1])
    out[:, :take] = pcm[:2, :take]
    return out


def mix_audio(sources: list[bytes], facts: list[Source], overlap: int, curve: str) -> np.ndarray:
    """The stitched track: each source at its place, overlapping the previous one
    by the crossfade (or, at a cut, faded out and in over DECLICK_S)."""
    fps = facts[0].fps
    fade = samples_for(overlap, fps)
    total = samples_for(total_frames(facts, overlap), fps)
    out = np.zeros((2, total), dtype=np.float32)
    declick = max(1, int(round(DECLICK_S * AUDIO_RATE)))
    out_gain, in_gain = fade_gains(fade, curve) if fade else (None, None)
    ramp = (np.arange(declick, dtype=np.float32) + 0.5) / declick
    start_frame = 0
    for index, (mp4, f) in enumerate(zip(sources, facts)):
        pcm = source_audio(mp4, f.samples)
        first, last = index == 0, index == len(sources) - 1
        if fade:
            if not first:
                pcm[:, :fade] *= in_gain
            if not last:
                pcm[:, -fade:] *= out_gain
        else:
            if not first:
                pcm[:, :declick] *= ramp
            if not last:
                pcm[:, -declick:] *= ramp[::-1]
        start = samples_for(start_frame, fps)
        end = min(total, start + pcm.shape[1])
        out[:, start:end] += pcm[:, : end - start]
        start_frame += f.frames - overlap
    return np.clip(out, -1.0, 1.0, out=out)


# -- pictures -----------------------------------------------------------------------


def _decode(mp4: bytes, expected: int) -> Iterator[np.ndarray]:
    """The source's frames (HxWx3 uint8), exactly `expected` of them: a short
    stream repeats its last frame, a long one is cut."""
    count, last = 0, None
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if count == expected:
                break
            last = frame.to_ndarray(format="rgb24")
            yield last
            count += 1
    if last is None:
        raise StitchError("a clip has no decodable frames", "stitch_source_unreadable")
    while count < expected:
        yield last.copy()
        count += 1


def _dissolve(tail: np.ndarray, head: np.ndarray, weight: float) -> np.ndarray:
    mixed = tail.astype(np.float32) * (1.0 - weight) + head.astype(np.float32) * weight
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


def _frames(
    sources: list[bytes],
    facts: list[Source],
    overlap: int,
    mark: Callable[[np.ndarray], None] | None,
    prepare: list[Callable[[np.ndarray], None] | None],
) -> Iterator[np.ndarray]:
    """Output frames, one source decoded at a time. The last `overlap` frames of
    a source wait in `tail` until the next source's first frames dissolve into them."""
    tail: deque[np.ndarray] = deque()
    for index, (mp4, f) in enumerate(zip(sources, facts)):
        last = index == len(sources) - 1
        for i, frame in enumerate(_decode(mp4, f.frames)):
            if prepare[index] is not None:
                prepare[index](frame)
            if i < overlap and tail:
                frame = _dissolve(tail.popleft(), frame, (i + 1) / (overlap + 1))
            if not last and overlap and i >= f.frames - overlap:
                tail.append(frame)
                continue
            if mark is not None:
                mark(frame)
            yield frame
