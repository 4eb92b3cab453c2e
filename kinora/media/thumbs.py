"""Thumbnail and spritesheet for a finished clip, made from its keyframes.

Decoding only keyframes (the encoder puts one every 2 s) keeps this to a few
tens of milliseconds even for a 20 s 1080p clip, which matters because it sits
on the path between the model finishing and the user seeing the result.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Still:
    jpeg: bytes
    width: int
    height: int


def keyframes(mp4: bytes, limit: int = 16, sampler=None) -> list[tuple[float, np.ndarray]]:
    """(time in seconds, HxWx3 uint8) for up to `limit` keyframes, in order.

    With a `sampler` (kinora.media.fingerprint.FrameSampler) every frame is decoded
    in this same pass and the sampled ones are handed to it for the clip's perceptual
    fingerprint, so the MP4 is decoded once (cost: benchmarks/takedown_bench.py)."""
    found: list[tuple[float, np.ndarray]] = []
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        if sampler is None:
            stream.codec_context.skip_frame = "NONKEY"
        else:
            stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if sampler is not None and sampler.wants(t):
                sampler.add(t, frame.to_ndarray(format="gray"))
            if frame.key_frame and len(found) < limit:
                found.append((t, frame.to_ndarray(format="rgb24")))
            if sampler is None and len(found) >= limit:
                break
    if not found:
        raise ValueError("the video has no decodable frames")
    return found


def _jpeg(image: Image.Image, quality: int) -> Still:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return Still(out.getvalue(), image.width, image.height)


def thumbnail(frames: list[tuple[float, np.ndarray]], max_side: int = 640, quality: int = 85) -> Still:
    """The keyframe nearest one second in (the first frame is often a fade-in)."""
    _, frame = min(frames, key=lambda item: abs(item[0] - 1.0))
    image = Image.fromarray(frame)
    image.thumbnail((max_side, max_side))
    return _jpeg(image, quality)


def spritesheet(
    frames: list[tuple[float, np.ndarray]], tile_width: int = 160, columns: int = 5, quality: int = 80
) -> Still:
    """A grid of frames in time order, `columns` wide, each tile `tile_width` px wide."""
    height, width = frames[0][1].shape[:2]
    tile_height = max(2, round(height * tile_width / width))
    columns = min(columns, len(frames))
    rows = math.ceil(len(frames) / columns)
    sheet = Image.new("RGB", (columns * tile_width, rows * tile_height))
    for index, (_, frame) in enumerate(frames):
        tile = Image.fromarray(frame).resize((tile_width, tile_height), Image.BILINEAR)
        sheet.paste(tile, ((index % columns) * tile_width, (index // columns) * tile_height))
    return _jpeg(sheet, quality)


def stills(mp4: bytes, sampler=None) -> tuple[Still, Still]:
    """(thumbnail, spritesheet) for a clip; fingerprint samples go to `sampler`."""
    frames = keyframes(mp4, sampler=sampler)
    return thumbnail(frames), spritesheet(frames)
