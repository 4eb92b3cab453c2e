"""The visible watermark every model draws before encoding: the creator's
handle, drifting around the frame so it cannot simply be cropped out."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DARKEN = 0.35  # soft dark halo keeps the text legible on bright frames
LIGHTEN = 0.8


def text_mask(text: str, size: int) -> np.ndarray:
    """Coverage of `text` rendered at `size` px, float32 in 0..1, (h, w)."""
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        font = ImageFont.load_default()
    box = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    image = Image.new("L", (box[2] - box[0] + 6, box[3] - box[1] + 6), 0)
    ImageDraw.Draw(image).text((3 - box[0], 3 - box[1]), text, fill=255, font=font)
    return np.asarray(image, dtype=np.float32) / 255.0


def position(t: float, frame_w: int, frame_h: int, mask_w: int, mask_h: int) -> tuple[int, int]:
    """Top-left corner of the mark at time `t` seconds."""
    x0 = int((0.5 + 0.42 * math.sin(t * 0.45 + 0.5)) * max(0, frame_w - mask_w))
    y0 = int((0.5 + 0.42 * math.sin(t * 0.31 + 2.0)) * max(0, frame_h - mask_h))
    return x0, y0
