"""ltx2_frames: what one LTX-2 request turns into on the pipeline side (`Plan`), the start
image at generation size, and the pipeline's output to the clip's frames (crop, resize, visible
and invisible watermark) and 48 kHz stereo audio (kinora.models.ltx2)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from kinora.media import watermark
from kinora.media.encode import AUDIO_RATE
from kinora.media.invisible_mark import Embedder
from kinora.media.watermark import text_mask
from kinora.models.contract import ModelInputError


@dataclass(frozen=True)
class Plan:
    """What one request turns into on the pipeline side."""

    gen_width: int
    gen_height: int
    num_frames: int  # frames the pipeline makes (8k+1), >= frames kept
    frames: int  # frames in the clip
    crop_width: int  # centre part of a generated frame that becomes the clip (before any upscale)
    crop_height: int
    steps: int
    sigmas: list[float]  # the schedule as run (float64 values; the scheduler keeps float32)
    context: int = 0  # frames at the start of the run given as conditioning and dropped (shots, extend)


def _decode_image(data: bytes, what: str):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ModelInputError(f"{what} is not a readable image (PNG or JPEG expected)") from exc
    if min(image.size) < 16:
        raise ModelInputError(f"{what} is {image.size[0]}x{image.size[1]}; at least 16x16 pixels are needed")
    return image.convert("RGB")


def _cover(image, width: int, height: int):
    """Scale to cover width x height, then centre-crop: no stretching of faces."""
    from PIL import Image

    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return image.crop((left, top, left + width, top + height))


def _start_frame(image, plan: Plan):
    """The start image at generation size: covered to the clip's own frame, then padded
    out to the 32-px grid with its edge pixels, so the centre crop of the first generated
    frame is the covered image itself."""
    from PIL import Image

    covered = np.asarray(_cover(image, plan.crop_width, plan.crop_height))
    top, left = (plan.gen_height - plan.crop_height) // 2, (plan.gen_width - plan.crop_width) // 2
    padded = np.pad(
        covered,
        ((top, plan.gen_height - plan.crop_height - top), (left, plan.gen_width - plan.crop_width - left), (0, 0)),
        mode="edge",
    )
    return Image.fromarray(padded)


def _to_frames(
    video: np.ndarray,
    count: int,
    width: int,
    height: int,
    watermark: str,
    fps: int,
    watermark_id: int | None = None,
    crop: tuple[int, int] | None = None,
) -> list[np.ndarray]:
    """Pipeline output (F, H, W, 3) floats in 0..1 -> `count` uint8 frames at the asked size:
    the centre `crop` (width, height) of each frame, scaled to the asked size when the
    model ran at a fraction of it (same aspect: no stretching)."""
    import cv2

    mark = text_mask(watermark, max(14, height // 40)) if watermark else None
    invisible = None if watermark_id is None else Embedder(watermark_id, width, height)
    frames = []
    for index in range(count):
        frame = video[min(index, len(video) - 1)]
        if frame.dtype != np.uint8:  # a storyboard's frames arrive as uint8 already
            frame = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        else:
            frame = frame.copy()
        if crop is not None and frame.shape[:2] != (crop[1], crop[0]):
            top, left = (frame.shape[0] - crop[1]) // 2, (frame.shape[1] - crop[0]) // 2
            frame = np.ascontiguousarray(frame[top : top + crop[1], left : left + crop[0]])
        if frame.shape[:2] != (height, width):
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)
        if mark is not None:
            _stamp(frame, mark, index / fps)
        if invisible is not None:
            invisible.apply(frame)
        frames.append(frame)
    return frames


def _stamp(frame: np.ndarray, mask: np.ndarray, t: float) -> None:
    """Draw the watermark in place (uint8 frame)."""
    height, width = frame.shape[:2]
    mask = mask[:height, :width]
    mh, mw = mask.shape
    x0, y0 = watermark.position(t, width, height, mw, mh)
    view = frame[y0 : y0 + mh, x0 : x0 + mw].astype(np.float32) / 255.0
    alpha = mask[..., None]
    view *= 1.0 - watermark.DARKEN * alpha
    view += (1.0 - view) * (watermark.LIGHTEN * alpha)
    frame[y0 : y0 + mh, x0 : x0 + mw] = (view * 255.0 + 0.5).astype(np.uint8)


def _to_48k_stereo(audio: np.ndarray, rate: int, seconds: int) -> np.ndarray:
    """Vocoder output (channels, samples) at `rate` -> float32 (2, seconds * 48000)."""
    pcm = _resample_48k_stereo(audio, rate)
    want = seconds * AUDIO_RATE
    if pcm.shape[1] < want:
        pcm = np.pad(pcm, ((0, 0), (0, want - pcm.shape[1])))
    return np.ascontiguousarray(pcm[:, :want], dtype=np.float32)


def _resample_48k_stereo(audio: np.ndarray, rate: int) -> np.ndarray:
    """Vocoder output (channels, samples) at `rate` -> float32 stereo at 48 kHz, all of it."""
    import av

    pcm = np.asarray(audio, dtype=np.float32)
    if pcm.ndim == 1:
        pcm = pcm[None]
    if pcm.shape[0] == 1:
        pcm = np.repeat(pcm, 2, axis=0)
    pcm = np.ascontiguousarray(np.clip(pcm[:2], -1.0, 1.0))
    if rate != AUDIO_RATE:
        # libswresample's polyphase filter: no aliasing, unlike linear interpolation.
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="stereo")
        frame.sample_rate = rate
        out = [f.to_ndarray() for f in resampler.resample(frame)] + [f.to_ndarray() for f in resampler.resample(None)]
        pcm = np.concatenate(out, axis=1) if out else np.zeros((2, 0), np.float32)
    return np.ascontiguousarray(pcm, dtype=np.float32)
