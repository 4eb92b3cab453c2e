"""The invisible watermark: a key-derived spread-spectrum tile added to every
frame's luma, carrying a 48-bit payload (the generation's watermark id).

Why this shape (measured in benchmarks/watermark_bench.py):
- The tile is 32x32 chips of +-1, each chip a block of `chip_px` pixels
  (about 1/90 of the short side), repeated over the whole frame. It is the same
  in every frame, so a detector averages frames and the moving content fades
  while the mark adds up.
- A repeated tile synchronises itself: the tile period shows in the
  autocorrelation (undoes a downscale), and the cyclic offset comes from a
  circular cross-correlation of the frame folded modulo the period (undoes a
  crop). No side information is needed.
- Chips are split by the key into a sync set (known signs) and 72 payload
  groups; a payload bit flips the signs of its group. 72 bits = 48-bit id +
  CRC-24, so a clip not made here (or marked with another key) yields no payload
  except with odds of about 2^-24 per candidate, on top of the sync threshold.
- Amplitude follows local texture (flat sky gets less), a few luma levels.

This is not a secret-key cryptographic mark: anyone holding the key can
detect and, with effort, remove it; it survives ordinary re-encoding,
scaling and cropping, not rotation or heavy edits. See docs/ops.md.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

TILE = 32  # chips per side
PAYLOAD_BITS = 48
CRC_BITS = 24
CODED_BITS = PAYLOAD_BITS + CRC_BITS
SYNC_CHIPS = 1024 - 10 * CODED_BITS  # 304 sync chips, 10 chips per coded bit
NORM = 4  # pixels per chip in the detector's normalised fold
DEFAULT_KEY = "kinora-development-watermark-key"  # deployments set KINORA_WATERMARK_KEY
SYNC_THRESHOLD = 7.0  # sync peak, in standard deviations of the correlation surface
MAX_PAYLOAD = (1 << PAYLOAD_BITS) - 1
CHASE_BITS = 8
MAX_SPAN_FRAMES = 576  # 24 s at 24 fps
MAX_PIXELS = 4096 * 4096  # largest frame a detector decodes


def key_from_env(env=os.environ) -> str:
    return env.get("KINORA_WATERMARK_KEY") or DEFAULT_KEY


@dataclass(frozen=True)
class Layout:
    pn: np.ndarray  # (TILE, TILE) +-1
    group: np.ndarray  # (TILE, TILE) int: -1 sync chip, else coded bit index


@lru_cache(maxsize=8)
def layout(key: str) -> Layout:
    seed = int.from_bytes(hashlib.sha256(b"kinora-invisible-mark\0" + key.encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    pn = rng.choice(np.array([-1.0, 1.0], np.float32), size=(TILE, TILE))
    order = rng.permutation(TILE * TILE)
    group = np.full(TILE * TILE, -1, np.int32)
    group[order[SYNC_CHIPS:]] = np.arange(TILE * TILE - SYNC_CHIPS) % CODED_BITS
    return Layout(pn, group.reshape(TILE, TILE))


def _crc24(value: int) -> int:
    """CRC-24 (OpenPGP polynomial) of the payload's 6 bytes."""
    crc = 0xB704CE
    for byte in value.to_bytes(PAYLOAD_BITS // 8, "big"):
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _coded_bits(payload: int) -> np.ndarray:
    word = (payload << CRC_BITS) | _crc24(payload)
    return np.array([(word >> (CODED_BITS - 1 - i)) & 1 for i in range(CODED_BITS)], np.int8)


def chip_px(width: int, height: int) -> int:
    return max(4, round(min(width, height) / 90))


@lru_cache(maxsize=8)
def chip_tile(key: str, payload: int) -> np.ndarray:
    """The tile's chip signs (TILE, TILE) float32 +-1 for this payload."""
    lay = layout(key)
    signs = 1.0 - 2.0 * _coded_bits(payload).astype(np.float32)  # bit 0 -> +1, bit 1 -> -1
    tile = lay.pn.copy()
    payload_chips = lay.group >= 0
    tile[payload_chips] *= signs[lay.group[payload_chips]]
    return tile


class Embedder:
    """Adds the mark to frames of one clip (HxWx3 uint8 RGB, in place). Built once
    per clip. The texture mask is measured on the chip grid and refreshed every
    MASK_EVERY frames (content moves slowly next to that; the mark only needs to be
    weaker on flat areas, not exact); in between, a frame costs two saturating
    uint8 passes (add the positive chips, subtract the negative ones)."""

    MASK_EVERY = 8

    def __init__(
        self, payload: int, width: int, height: int, key: str | None = None, strength: float = 4.0, floor: float = 0.6
    ):
        if not 0 <= payload <= MAX_PAYLOAD:
            raise ValueError(f"watermark payload must fit in {PAYLOAD_BITS} bits")
        self.width, self.height = width, height
        self.chip = chip = chip_px(width, height)
        self.grid = (-(-width // chip), -(-height // chip))  # chips across, down
        tile = chip_tile(key or key_from_env(), payload)
        reps = (-(-self.grid[1] // TILE), -(-self.grid[0] // TILE))
        self.signs = (np.tile(tile, reps)[: self.grid[1], : self.grid[0]] * np.float32(strength)).astype(np.float32)
        self.floor = floor
        self.small = (max(1, width // 4), max(1, height // 4))
        self._count = 0
        self._plus = self._minus = np.zeros((0,), np.uint8)

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """Per-chip gain: flat areas get `floor`, textured ones up to 1.6 (RGB or luma frame)."""
        small = cv2.resize(frame, self.small, interpolation=cv2.INTER_AREA)
        gray = (cv2.cvtColor(small, cv2.COLOR_RGB2GRAY) if small.ndim == 3 else small).astype(np.float32)
        detail = cv2.resize(np.abs(gray - cv2.blur(gray, (3, 3))), self.grid, interpolation=cv2.INTER_AREA)
        return np.clip(self.floor + cv2.blur(detail, (3, 3)) / 6.0, self.floor, 1.6)

    def _refresh(self, frame: np.ndarray) -> None:
        chips = np.rint(self.signs * self.mask(frame))
        size = (self.grid[0] * self.chip, self.grid[1] * self.chip)
        planes = []
        for part in (np.maximum(chips, 0), np.maximum(-chips, 0)):
            full = cv2.resize(part.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)[: self.height, : self.width]
            if frame.ndim == 3:
                full = np.repeat(full[..., None], 3, axis=2)  # the same delta on R, G, B is a luma delta
            planes.append(np.ascontiguousarray(full))
        self._plus, self._minus = planes

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Mark an RGB frame (HxWx3) or a luma plane (HxW, e.g. the encoder's Y plane), in place."""
        if self._count % self.MASK_EVERY == 0 or self._plus.ndim != frame.ndim:
            self._refresh(frame)
        self._count += 1
        cv2.add(frame, self._plus, dst=frame)
        cv2.subtract(frame, self._minus, dst=frame)
        return frame


@dataclass(frozen=True)
class Detection:
    payload: int | None  # None: no valid mark found
    sync_score: float  # sync peak in standard deviations
    period_px: float  # tile period found in the checked frames
    bit_margin: float  # mean |soft bit| / its spread; low means unsure
    frames: int
    bits: tuple[int, ...] = ()  # hard decisions on the coded bits at the best lock (before Chase/CRC)


def luma_frames_from_video(data: bytes, max_frames: int = 48, max_pixels: int = MAX_PIXELS) -> list[np.ndarray]:
    """Up to `max_frames` luma planes spread over the clip (float32). Refuses frames over
    `max_pixels` before decoding any (an upload must not make the checker allocate gigabytes)."""
    import io

    import av

    frames: list[np.ndarray] = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        if stream.codec_context.width * stream.codec_context.height > max_pixels:
            raise ValueError("frames too large to check")
        stream.thread_type = "AUTO"
        total = stream.frames or 0
        # spread over at most MAX_SPAN_FRAMES decoded frames: a long upload costs no more
        step = max(1, min(total // max_frames, MAX_SPAN_FRAMES // max_frames)) if total else 1
        for index, frame in enumerate(container.decode(stream)):
            if index % step == 0:
                frames.append(frame.to_ndarray(format="gray").astype(np.float32))
                if len(frames) >= max_frames:
                    break
    return frames


def luma_from_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:  # reads the header only
        if image.width * image.height > max_pixels:
            raise ValueError("image too large to check")
        return np.asarray(image.convert("L"), dtype=np.float32)


def _residual(frames: Iterable[np.ndarray]) -> np.ndarray:
    """High-passed frame average, with strong edges clipped so content does not dominate."""
    acc = None
    count = 0
    for frame in frames:
        res = frame - cv2.GaussianBlur(frame, (0, 0), 2.0)
        # whiten: divide by the local residual level, so busy texture (content,
        # large) counts less than flat areas where the mark dominates
        level = np.sqrt(cv2.GaussianBlur(res * res, (0, 0), 6.0)) + 1.0
        res /= level
        np.clip(res, -2.5, 2.5, out=res)
        acc = res if acc is None else acc + res
        count += 1
    if acc is None:
        raise ValueError("no frames")
    return acc / count


def _period_candidates(res: np.ndarray) -> list[float]:
    """Tile periods the autocorrelation suggests, best first. A tile repeats along
    x, y and both diagonals at once, so a lag scores by its weakest direction:
    content that happens to repeat (floor planks, a fence) rarely does all four."""
    h, w = res.shape
    fh, fw = cv2.getOptimalDFTSize(2 * h), cv2.getOptimalDFTSize(2 * w)
    spec = np.fft.rfft2(res, (fh, fw))
    auto = np.fft.irfft2(spec * np.conj(spec), (fh, fw))
    lo, hi = 40, int(min(h, w) * 0.7)
    if hi <= lo + 32:
        return []
    lags = np.arange(lo, hi)
    directions = (
        auto[0, lags] / (h * (w - lags)),
        auto[lags, 0] / ((h - lags) * w),
        auto[lags, lags] / ((h - lags) * (w - lags)),
        auto[lags, -lags] / ((h - lags) * (w - lags)),
    )
    scores = []
    for prof in directions:
        prof = prof.astype(np.float32)
        peak = prof - cv2.blur(prof.reshape(1, -1), (31, 1)).ravel()
        scores.append(peak / (np.median(np.abs(peak)) + 1e-12))
    score = np.minimum.reduce(scores)
    out: list[float] = []
    for idx in np.argsort(score)[::-1][:60]:
        if 0 < idx < len(score) - 1 and score[idx] >= score[idx - 1] and score[idx] >= score[idx + 1]:
            a, b, c = score[idx - 1], score[idx], score[idx + 1]
            den = a - 2 * b + c
            frac = 0.5 * (a - c) / den if den != 0 else 0.0
            period = lo + idx + float(np.clip(frac, -0.5, 0.5))
            for cand in (period, period / 2):
                if cand >= 24 and all(abs(cand - p) > 1.0 for p in out):
                    out.append(cand)
        if len(out) >= 6:
            break
    return out


def _nominal_periods() -> list[float]:
    """Tile periods of the allowed clip sizes at common rescales: tried when the
    autocorrelation offers nothing that locks (busy periodic content can hide the peak)."""
    out: list[float] = []
    for short in (720, 1024, 1080):
        for scale in (1.0, 0.5, 0.75, 2 / 3, 1.5, 2.0):
            period = TILE * chip_px(short, short) * scale
            if all(abs(period - p) > 1.0 for p in out):
                out.append(period)
    return out


def _fold(res: np.ndarray, period: float) -> np.ndarray:
    size = TILE * NORM
    h, w = res.shape
    iy = ((np.arange(h) % period) * (size / period)).astype(np.int64).clip(0, size - 1)
    ix = ((np.arange(w) % period) * (size / period)).astype(np.int64).clip(0, size - 1)
    idx = (iy[:, None] * size + ix[None, :]).ravel()
    sums = np.bincount(idx, weights=res.ravel(), minlength=size * size)
    counts = np.bincount(idx, minlength=size * size)
    return (sums / np.maximum(counts, 1)).reshape(size, size)


@lru_cache(maxsize=8)
def _sync_ref_fft(key: str) -> np.ndarray:
    lay = layout(key)
    ref = np.where(lay.group < 0, lay.pn, 0.0).astype(np.float64)
    ref = np.kron(ref, np.ones((NORM, NORM)))
    return np.conj(np.fft.fft2(ref))


def _sync(folded: np.ndarray, key: str) -> tuple[float, int, int]:
    corr = np.fft.ifft2(np.fft.fft2(folded) * _sync_ref_fft(key)).real
    peak = int(np.argmax(corr))
    dy, dx = divmod(peak, corr.shape[1])
    score = float((corr.flat[peak] - corr.mean()) / (corr.std() + 1e-12))
    return score, dy, dx


def _read_bits(folded: np.ndarray, dy: int, dx: int, key: str) -> tuple[np.ndarray, float]:
    lay = layout(key)
    aligned = np.roll(folded, (-dy, -dx), axis=(0, 1))
    # chip centres only: the blocks' edges are where scaling and blur smear neighbours
    inner = aligned.reshape(TILE, NORM, TILE, NORM)[:, 1 : NORM - 1, :, 1 : NORM - 1].mean(axis=(1, 3))
    chips = (inner * lay.pn).ravel()
    groups = lay.group.ravel()
    soft = np.bincount(groups[groups >= 0], weights=chips[groups >= 0], minlength=CODED_BITS)
    margin = float(np.mean(np.abs(soft)) / (np.std(np.abs(soft)) + 1e-9))
    return soft, margin


def _decode(soft: np.ndarray) -> int | None:
    """Hard decision, then (Chase decoding) the least reliable bits flipped in
    every combination until the CRC holds. Flipping CHASE_BITS bits spends that
    many of the CRC's 24 bits of protection: 2^-16 false matches per sync lock."""
    hard = (soft < 0).astype(np.int64)
    weights = np.array([1 << (CODED_BITS - 1 - i) for i in range(CODED_BITS)], dtype=object)
    word = int(np.dot(hard.astype(object), weights))
    weak = np.argsort(np.abs(soft))[:CHASE_BITS]
    for flips in range(1 << CHASE_BITS):
        trial = word
        for j in range(CHASE_BITS):
            if flips >> j & 1:
                trial ^= 1 << (CODED_BITS - 1 - int(weak[j]))
        payload, crc = trial >> CRC_BITS, trial & ((1 << CRC_BITS) - 1)
        if _crc24(payload) == crc:
            return payload
    return None


def detect(frames: list[np.ndarray], key: str | None = None) -> Detection:
    """Find the mark in luma frames (float32 HxW, all the same size)."""
    key = key or key_from_env()
    res = _residual(frames)
    best = Detection(None, 0.0, 0.0, 0.0, len(frames))
    found = _period_candidates(res)
    hi = min(res.shape) * 0.7
    extra = [p for p in _nominal_periods() if p <= hi and all(abs(p - q) > 0.01 * p for q in found)]
    for coarse in found + extra:
        # the autocorrelation is good to a fraction of a pixel; refine on the sync peak
        local = max(
            (
                (*_sync(folded, key), folded, period)
                for period in (coarse * (1 + step * 0.0015) for step in range(-4, 5))
                for folded in (_fold(res, period),)
            ),
            key=lambda item: item[0],
        )
        score, dy, dx, folded, period = local
        soft, margin = _read_bits(folded, dy, dx, key)
        payload = _decode(soft) if score >= SYNC_THRESHOLD else None
        bits = tuple(int(v < 0) for v in soft)
        if payload is not None:
            return Detection(payload, score, period, margin, len(frames), bits)
        if score > best.sync_score:
            best = Detection(None, score, period, margin, len(frames), bits)
    return best


def detect_video(data: bytes, key: str | None = None, max_frames: int = 48) -> Detection:
    return detect(luma_frames_from_video(data, max_frames), key)


def detect_image(data: bytes, key: str | None = None) -> Detection:
    return detect([luma_from_image(data)], key)
