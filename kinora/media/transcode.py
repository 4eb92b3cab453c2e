"""What happens to a clip after it leaves the platform, reproduced for the provenance
benchmark and tests: a re-upload re-encodes it (H.264 at some CRF), scales, crops,
and drops metadata (a re-mux keeps the frames and loses the C2PA manifest)."""

from __future__ import annotations

import io

import av
import cv2
import numpy as np

from kinora.media.encode import encode_mp4


def decode_rgb(mp4: bytes) -> tuple[list[np.ndarray], int]:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        fps = int(round(float(stream.average_rate or 24)))
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)], fps


def reencode(mp4: bytes, *, crf: int = 28, scale: float = 1.0, crop: float = 0.0, preset: str = "medium") -> bytes:
    """Crop `crop` of each side's length (off-centre: 30% of it from the top, 70% from
    the left), then scale by `scale`, then encode H.264 at `crf`, without audio."""
    frames, fps = decode_rgb(mp4)
    out = []
    for frame in frames:
        h, w = frame.shape[:2]
        if crop:
            ch, cw = int(h * (1 - crop)), int(w * (1 - crop))
            y0, x0 = int(h * crop * 0.3), int(w * crop * 0.7)
            frame = frame[y0 : y0 + ch, x0 : x0 + cw]
        if scale != 1.0:
            size = (int(frame.shape[1] * scale) // 2 * 2, int(frame.shape[0] * scale) // 2 * 2)
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        out.append(np.ascontiguousarray(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]))
    return encode_mp4(out, out[0].shape[1], out[0].shape[0], fps, None, preset=preset, crf=crf)


def strip_metadata(mp4: bytes) -> bytes:
    """Re-mux the streams' packets into a fresh MP4: same frames, no C2PA manifest."""
    src = io.BytesIO(mp4)
    dst = io.BytesIO()
    with av.open(src) as inp, av.open(dst, "w", format="mp4") as out:
        mapping = {}
        for stream in inp.streams:
            if stream.type in ("video", "audio"):
                mapping[stream.index] = out.add_stream_from_template(stream)
        for packet in inp.demux():
            if packet.stream.index in mapping and packet.dts is not None:
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    return dst.getvalue()
