"""Perceptual fingerprints of clips and images, for takedowns: find the copies of a
clip (re-encoded, scaled, cropped) and block its frames as new inputs.

A frame's fingerprint is a 64-bit DCT perceptual hash (pHash): grey, 32x32 area
resize, 2-D DCT, the 8x8 lowest frequencies compared with their median. It depends
on the picture's coarse layout of light and dark, so compression, scaling and a few
percent of cropping change only a few bits, while a different scene changes about
half. Hashes are stored as signed 64-bit integers (PostgreSQL BIGINT).

Cropping moves the picture under a whole-frame hash, so the stored hash is of the
frame's centre (CENTRE_MARGIN cut from every side), and a probe is hashed under a
few assumed crops (`PROBE_CROPS`: none, and crops of 5% and 10% of each side at a
grid of offsets): under the right assumption the probe's region is the stored
centre again. A copy cropped by more than CENTRE_MARGIN is not found.

A clip is hashed at SAMPLES_PER_SECOND frames a second. A probe (a clip, or one
image) matches a stored clip when at least MATCH_FRACTION of its frames lie within
MAX_DISTANCE bits of one of the stored clip's frames, at a consistent time offset
for clips (a copy plays in the same order; clips that merely share a background
match a frame here and there, at no consistent offset). Thresholds and the margin
to false matches between worldsim clips: benchmarks/takedown_bench.py, BENCHMARKS.md.

What it does not find: mirrored or rotated copies, heavy edits (large crops, overlays
covering much of the frame, colour grading that inverts contrast), re-shoots.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import av
import cv2
import numpy as np

# Measured on 12 worldsim clips with different prompts (benchmarks/takedown_request_bench.py,
# BENCHMARKS.md): copies (CRF 28, 50% downscale, 10% crop, all three) lie within 10 bits
# frame by frame (p95 8) and match with >= 0.78 of their frames; other clips, which share
# backgrounds, reached 0.50 at most: the threshold sits between. A single frame against its
# own clip: 92% within 4 bits at 8 samples a second (88% at 4); against other clips none
# within 4 (closest 8 here; 3% within 6 in an earlier run).
SAMPLES_PER_SECOND = 8
CENTRE_MARGIN = 0.1
HASH_SIDE = 32
WORK_SIDE = 160  # px, the short side a frame is reduced to before any hash
MAX_DISTANCE = 10  # bits (of 64) for a probe frame to count as a stored frame
MATCH_FRACTION = 0.65  # of the probe's frames, at one time offset
IMAGE_MAX_DISTANCE = 4  # one image against a clip's frames (no time order to lean on)
OFFSET_SLACK = 1  # samples either side of the voted offset


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def phash(frame: np.ndarray) -> int:
    """64-bit pHash of an RGB (HxWx3) or grey (HxW) uint8 frame, as a signed int."""
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return _signed(value)


def _small(frame: np.ndarray) -> np.ndarray:
    """The frame reduced by a whole factor to WORK_SIDE..2*WORK_SIDE px on its short side
    (area average; a whole factor is OpenCV's fast path, ~1 ms for 720x1280): every hash is
    taken from this, so each assumed crop costs a small resize instead of a full-frame one."""
    h, w = frame.shape[:2]
    k = min(h, w) // WORK_SIDE
    if k <= 1:
        return frame
    return cv2.resize(frame, (w // k, h // k), interpolation=cv2.INTER_AREA)


def centre_hash(frame: np.ndarray) -> int:
    """The stored hash: pHash of the frame's centre."""
    frame = _small(frame)
    h, w = frame.shape[:2]
    return phash(
        frame[
            int(round(CENTRE_MARGIN * h)) : int(round((1 - CENTRE_MARGIN) * h)),
            int(round(CENTRE_MARGIN * w)) : int(round((1 - CENTRE_MARGIN) * w)),
        ]
    )


def _crops() -> list[tuple[float, float, float]]:
    """(kept share s, left offset, top offset) of an assumed crop, in the original's units."""
    out = [(1.0, 0.0, 0.0)]
    for kept, steps in ((0.95, (0.0, 0.025, 0.05)), (0.9, (0.0, 0.05, 0.1))):
        out += [(kept, ox, oy) for oy in steps for ox in steps]
    return out


PROBE_CROPS = _crops()


def probe_hashes(frame: np.ndarray) -> list[int]:
    """The hash of the original's centre under each assumed crop of `frame` (index
    as PROBE_CROPS; index 0: not cropped, equal to centre_hash)."""
    frame = _small(frame)
    h, w = frame.shape[:2]
    out = []
    for kept, ox, oy in PROBE_CROPS:
        # original x in [m, 1-m] -> probe x = (x - ox) / kept
        x0, x1 = (CENTRE_MARGIN - ox) / kept, (1 - CENTRE_MARGIN - ox) / kept
        y0, y1 = (CENTRE_MARGIN - oy) / kept, (1 - CENTRE_MARGIN - oy) / kept
        region = frame[
            max(0, int(round(y0 * h))) : min(h, int(round(y1 * h))),
            max(0, int(round(x0 * w))) : min(w, int(round(x1 * w))),
        ]
        out.append(phash(region))
    return out


def distance(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def distances(probe: Sequence[int], stored: Sequence[int]) -> np.ndarray:
    """(len(probe), len(stored)) Hamming distances."""
    a = np.asarray(probe, dtype=np.int64).view(np.uint64)[:, None]
    b = np.asarray(stored, dtype=np.int64).view(np.uint64)[None, :]
    x = a ^ b
    # popcount of uint64 by bytes
    as_bytes = x.view(np.uint8).reshape(x.shape + (8,))
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1)


class FrameSampler:
    """Collects hashes of frames decoded elsewhere (the worker's thumbnail pass),
    one every 1/SAMPLES_PER_SECOND seconds of presentation time."""

    def __init__(self, per_second: int = SAMPLES_PER_SECOND):
        self.step = 1.0 / per_second
        self.next_t = 0.0
        self.hashes: list[int] = []

    def wants(self, t: float) -> bool:
        return t + 1e-6 >= self.next_t

    def add(self, t: float, frame: np.ndarray) -> None:
        self.hashes.append(centre_hash(frame))
        self.advance(t)

    def advance(self, t: float) -> None:
        while self.next_t <= t + 1e-6:
            self.next_t += self.step


def video_frames(data: bytes, per_second: int = SAMPLES_PER_SECOND, max_seconds: float = 120.0) -> list[np.ndarray]:
    """Grey frames of a video file sampled `per_second`."""
    sampler = FrameSampler(per_second)
    frames = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t > max_seconds:
                break
            if sampler.wants(t):
                frames.append(frame.to_ndarray(format="gray"))
                sampler.advance(t)
    if not frames:
        raise ValueError("the video has no decodable frames")
    return frames


def clip_hashes(data: bytes) -> list[int]:
    """A clip's stored fingerprint (what the worker computes), from a file."""
    return [centre_hash(f) for f in video_frames(data)]


def probe_video(data: bytes) -> list[list[int]]:
    """An uploaded copy: per sampled frame, its hashes under each assumed crop."""
    return [probe_hashes(f) for f in video_frames(data)]


def decode_image(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"))


def image_hash(data: bytes) -> int:
    """An input image's stored hash (its centre, as a clip's frames are stored)."""
    return centre_hash(decode_image(data))


def probe_image(data: bytes) -> list[int]:
    """An uploaded or input image: its hashes under each assumed crop."""
    return probe_hashes(decode_image(data))


def is_video(data: bytes) -> bool:
    head = data[:64]
    return head[4:8] == b"ftyp" or head[:4] == b"\x1aE\xdf\xa3"  # MP4/MOV, Matroska/WebM


@dataclass(frozen=True)
class Match:
    score: float  # fraction of the probe's frames that matched
    offset: int  # stored sample index minus probe sample index
    matched: int
    frames: int


def match_clip(probe: Sequence[Sequence[int]], stored: Sequence[int], max_distance: int = MAX_DISTANCE) -> Match:
    """How well a probe's frames follow a stored clip's, under the best assumed crop
    (one for the whole probe) and at the best time offset."""
    best = Match(0.0, 0, 0, len(probe))
    if not probe or not stored:
        return best
    for crop in range(len(probe[0])):
        found = _match_one([frame[crop] for frame in probe], stored, max_distance)
        if found.score > best.score:
            best = found
    return best


def _match_one(probe: Sequence[int], stored: Sequence[int], max_distance: int) -> Match:
    if not probe or not stored:
        return Match(0.0, 0, 0, len(probe))
    close = distances(probe, stored) <= max_distance  # (P, S)
    if len(probe) == 1:
        return Match(float(close.any()), 0, int(close.any()), 1)
    pi, si = np.nonzero(close)
    if not len(pi):
        return Match(0.0, 0, 0, len(probe))
    offsets = si - pi
    best, best_count = 0, -1
    for offset in np.unique(offsets):
        near = np.abs(offsets - offset) <= OFFSET_SLACK
        count = len(np.unique(pi[near]))
        if count > best_count:
            best, best_count = int(offset), count
    return Match(best_count / len(probe), best, best_count, len(probe))


def is_copy(probe: Sequence[Sequence[int]], stored: Sequence[int]) -> bool:
    return match_clip(probe, stored).score >= MATCH_FRACTION


def image_matches(image: Sequence[int], stored: Sequence[int], max_distance: int = IMAGE_MAX_DISTANCE) -> bool:
    """Whether an image (its probe hashes) is a frame of a clip (its stored hashes)."""
    return bool(len(stored)) and bool((distances(image, stored) <= max_distance).any())
