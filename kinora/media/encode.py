"""Encode frames and audio into one MP4 (H.264 yuv420p + AAC 48 kHz stereo), once.

Frames arrive as an iterable of HxWx3 uint8 arrays so the caller can render and
encode in a pipeline without holding the whole clip in memory.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable
from fractions import Fraction

import av
import numpy as np
from PIL import Image

AUDIO_RATE = 48_000


def encode_mp4(
    frames: Iterable[np.ndarray],
    width: int,
    height: int,
    fps: int,
    audio: np.ndarray | None,
    *,
    preset: str = "ultrafast",
    crf: int = 23,
    threads: int = 0,
    luma_mark: Callable[[np.ndarray], None] | None = None,
) -> bytes:
    """Return MP4 bytes. `audio` is float32 (2, samples) in -1..1 at 48 kHz or None.
    `luma_mark` is called with each frame's Y plane (HxW uint8, writable) after the
    conversion to yuv420p the encoder makes anyway: the invisible watermark lives in
    luma, and marking one plane there costs a third of marking RGB."""
    if width % 2 or height % 2:
        raise ValueError("H.264 yuv420p needs even width and height")
    # A real file (not BytesIO) because +faststart rewrites it to put the index
    # first, which lets players start a feed clip before it has fully downloaded.
    with tempfile.TemporaryDirectory(prefix="kinora-encode-") as folder:
        path = os.path.join(folder, "clip.mp4")
        _encode_to(path, frames, width, height, fps, audio, preset, crf, threads, luma_mark)
        with open(path, "rb") as handle:
            return handle.read()


def _encode_to(path, frames, width, height, fps, audio, preset, crf, threads, luma_mark=None) -> None:
    container = av.open(path, "w", format="mp4", options={"movflags": "+faststart"})
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.options = {"preset": preset, "crf": str(crf), "threads": str(threads)}
    # Keyframe every 2 s so players can seek a feed clip quickly.
    video.codec_context.gop_size = 2 * fps
    sound = None
    if audio is not None:
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        sound.bit_rate = 128_000

    try:
        _write(container, video, sound, frames, width, height, fps, audio, luma_mark)
    finally:
        container.close()


def _write(container, video, sound, frames, width, height, fps, audio, luma_mark=None) -> None:
    count = 0
    for frame in frames:
        if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {count} has shape {frame.shape} {frame.dtype}, expected ({height}, {width}, 3) uint8"
            )
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if luma_mark is not None:
            vf = vf.reformat(format="yuv420p")
            plane = vf.planes[0]
            luma_mark(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width])
        vf.pts = count
        vf.time_base = Fraction(1, fps)
        container.mux(video.encode(vf))
        count += 1
    container.mux(video.encode(None))

    if sound is not None:
        pcm = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
        if pcm.ndim != 2 or pcm.shape[0] != 2:
            raise ValueError("audio must be float32 shaped (2, samples)")
        block = 1024  # AAC frame size
        for start in range(0, pcm.shape[1], block):
            chunk = np.ascontiguousarray(pcm[:, start : start + block])
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            af.sample_rate = AUDIO_RATE
            af.pts = start
            af.time_base = Fraction(1, AUDIO_RATE)
            container.mux(sound.encode(af))
        container.mux(sound.encode(None))


def thumbnail_jpeg(frame: np.ndarray, max_side: int = 640, quality: int = 85) -> bytes:
    """A JPEG of one frame, scaled so its longest side is at most `max_side`."""
    image = Image.fromarray(frame)
    image.thumbnail((max_side, max_side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()
