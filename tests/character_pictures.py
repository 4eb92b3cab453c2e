"""Pictures for the character tests (tests/cameo, tests/gateway): a cartoon dog drawn with PIL,
in which dlib's detector finds no face, and real photographs of a person (skimage's astronaut),
as images and as short H.264 videos decoded by the real service."""

from __future__ import annotations

import io

import av
import numpy as np
import skimage.data
from PIL import Image, ImageDraw


def dog(size: tuple[int, int] = (640, 480), shift: int = 0) -> Image.Image:
    """A brown cartoon dog on grass: body, head, snout, ears, legs, tail, collar."""
    w, h = size
    img = Image.new("RGB", size, (135, 190, 235))
    d = ImageDraw.Draw(img)
    d.rectangle([0, int(h * 0.7), w, h], fill=(90, 160, 70))
    x = 150 + shift
    brown, dark = (150, 95, 45), (90, 55, 25)
    d.ellipse([x, 200, x + 260, 330], fill=brown)
    for lx in (x + 30, x + 80, x + 170, x + 220):
        d.rectangle([lx, 300, lx + 22, 380], fill=brown)
    d.line([x + 255, 240, x + 320, 170], fill=brown, width=16)
    d.ellipse([x - 80, 130, x + 60, 250], fill=brown)
    d.ellipse([x - 110, 190, x - 40, 235], fill=brown)
    d.ellipse([x - 120, 198, x - 100, 215], fill=(20, 20, 20))
    d.polygon([(x - 40, 140), (x - 10, 60), (x + 10, 150)], fill=dark)
    d.polygon([(x + 10, 150), (x + 50, 80), (x + 55, 170)], fill=dark)
    d.ellipse([x - 35, 165, x - 22, 178], fill=(20, 20, 20))
    d.rectangle([x - 5, 240, x + 40, 255], fill=(200, 30, 30))
    return img


def person(size: tuple[int, int] = (640, 480)) -> Image.Image:
    """The astronaut portrait (a real photograph of a face) on a plain background."""
    canvas = Image.new("RGB", size, (70, 110, 150))
    face = Image.fromarray(skimage.data.astronaut()).resize((360, 360))
    canvas.paste(face, ((size[0] - 360) // 2, (size[1] - 360) // 2))
    return canvas


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def video(frames: list[Image.Image], fps: int = 10) -> bytes:
    """An MP4 (H.264) of the frames."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def dog_video(seconds: int = 3, fps: int = 10) -> bytes:
    """The dog walking right."""
    return video([dog(shift=4 * i) for i in range(seconds * fps)], fps)


def dog_video_with_a_person(seconds: int = 3, fps: int = 10) -> bytes:
    """The dog, except that for 0.6 s in the middle the picture is the astronaut's face."""
    n = seconds * fps
    middle = range(int(n * 0.4), int(n * 0.6))
    return video([person() if i in middle else dog(shift=4 * i) for i in range(n)], fps)
