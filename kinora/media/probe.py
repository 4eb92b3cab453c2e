"""Decode an MP4 back into facts and samples (for tests, the generator's checks)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import av
import numpy as np


@dataclass
class ProbeResult:
    width: int
    height: int
    fps: float
    duration_s: float
    video_codec: str
    pix_fmt: str
    frame_count: int
    audio_codec: str | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None
    frames: list[np.ndarray] = field(default_factory=list)  # HxWx3 uint8, when decoded
    audio: np.ndarray | None = None  # float32 (channels, samples), when decoded

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def probe_mp4(
    data: bytes, *, decode_frames: bool = False, decode_audio: bool = False, frame_step: int = 1
) -> ProbeResult:
    """Read stream facts; optionally decode every `frame_step`-th frame and all audio.

    Audio is returned aligned to the media timeline: the encoder's priming samples
    are dropped using packet timestamps, so sample i plays at i / rate seconds.
    """
    with av.open(io.BytesIO(data)) as container:
        vstream = container.streams.video[0]
        astreams = container.streams.audio
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        result = ProbeResult(
            width=vstream.codec_context.width,
            height=vstream.codec_context.height,
            fps=float(vstream.average_rate or vstream.guessed_rate or 0),
            duration_s=duration,
            video_codec=vstream.codec_context.name,
            pix_fmt=vstream.codec_context.pix_fmt or "",
            frame_count=vstream.frames,
        )
        if astreams:
            a = astreams[0]
            result.audio_codec = a.codec_context.name
            result.audio_rate = a.codec_context.sample_rate
            result.audio_channels = a.codec_context.channels
    if decode_frames:
        with av.open(io.BytesIO(data)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index % frame_step == 0:
                    result.frames.append(frame.to_ndarray(format="rgb24"))
    if decode_audio and result.has_audio:
        with av.open(io.BytesIO(data)) as container:
            pieces = []
            rate = result.audio_rate
            for frame in container.decode(audio=0):
                samples = frame.to_ndarray().astype(np.float32)
                if samples.ndim == 1 or samples.shape[0] != result.audio_channels:
                    samples = samples.reshape(-1, result.audio_channels).T  # packed -> planar
                start = int(round(float(frame.pts * frame.time_base) * rate)) if frame.pts is not None else None
                pieces.append((start, samples))
            total = max((s + p.shape[1]) for s, p in pieces if s is not None) if pieces else 0
            out = np.zeros((result.audio_channels, max(total, 0)), dtype=np.float32)
            for start, samples in pieces:
                if start is None:
                    continue
                if start < 0:  # priming samples before time zero
                    samples = samples[:, -start:]
                    start = 0
                out[:, start : start + samples.shape[1]] = samples
            result.audio = out
    return result
