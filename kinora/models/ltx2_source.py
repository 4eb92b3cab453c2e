"""ltx2_source: the source clip of an extension or an edit, read back from its MP4 (PyAV):
its last frames (what an extension is conditioned on), all its frames (what an edit
starts from) and its sound (what an edit keeps). Every problem with the source is a
`ModelInputError` that says what is wrong with it (kinora.models.ltx2)."""

from __future__ import annotations

import collections
import io

import numpy as np

from kinora.media.encode import AUDIO_RATE
from kinora.models.contract import ModelInputError


def _open(data: bytes | None, kind: str):
    import av

    if not data:
        raise ModelInputError(f"an {kind} with LTX-2 needs the source clip's video (source.video is empty)")
    try:
        container = av.open(io.BytesIO(data))
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ModelInputError(f"the source video of this {kind} is not a readable MP4 ({exc})") from None
    if not container.streams.video:
        container.close()
        raise ModelInputError(f"the source video of this {kind} has no video stream")
    return container


def _frames(data: bytes | None, kind: str, keep_last: int | None):
    """Decoded RGB frames (all, or only the last `keep_last`) and how many there were."""
    import av

    kept: collections.deque[np.ndarray] = collections.deque(maxlen=keep_last)
    count = 0
    with _open(data, kind) as container:
        try:
            for frame in container.decode(video=0):
                kept.append(frame.to_ndarray(format="rgb24"))
                count += 1
        except (av.FFmpegError, ValueError) as exc:
            raise ModelInputError(
                f"the source video of this {kind} could not be decoded after frame {count} ({exc})"
            ) from None
    return list(kept), count


def last_frames(data: bytes | None, count: int) -> list[np.ndarray]:
    """The source's last `count` frames (H, W, 3 uint8), oldest first, for an extension."""
    frames, total = _frames(data, "extension", count)
    if total < count:
        raise ModelInputError(
            f"the source video is too short to extend: it has {total} frame(s), LTX-2 conditions on its last {count}"
        )
    return frames


def all_frames(data: bytes | None, frames: int, pad_to: int, seconds: int) -> list[np.ndarray]:
    """The source's frames (H, W, 3 uint8) for an edit, which keeps its length: `frames`
    of them (one short is allowed), the last repeated up to `pad_to` (the run's 8k+1
    frames); a longer source is cut to `seconds`."""
    decoded, total = _frames(data, "edit", None)
    if total < frames - 1:
        raise ModelInputError(
            f"the source video is too short for a {seconds} s edit: it has {total} frame(s), "
            f"the edit keeps the source's length ({frames} frames at 24 fps)"
        )
    decoded = decoded[:frames]
    while len(decoded) < pad_to:
        decoded.append(decoded[-1])
    return decoded


def audio_48k_stereo(data: bytes | None, seconds: int) -> np.ndarray | None:
    """The source's sound as float32 (2, seconds x 48000), or None when it has no audio
    track. Priming samples before time zero are dropped; the end is cut or padded."""
    import av

    with _open(data, "edit") as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        pieces: list[np.ndarray] = []
        skip = None
        try:
            for frame in container.decode(audio=0):
                if skip is None:
                    start = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                    skip = max(0, round(-start * AUDIO_RATE))
                pieces.extend(out.to_ndarray() for out in resampler.resample(frame))
            pieces.extend(out.to_ndarray() for out in resampler.resample(None))
        except (av.FFmpegError, ValueError) as exc:
            raise ModelInputError(f"the source video's audio could not be decoded ({exc})") from None
    pcm = np.concatenate(pieces, axis=1) if pieces else np.zeros((2, 0), np.float32)
    pcm = pcm[:, skip or 0 :]
    want = seconds * AUDIO_RATE
    if pcm.shape[1] < want:
        pcm = np.pad(pcm, ((0, 0), (0, want - pcm.shape[1])))
    return np.ascontiguousarray(pcm[:, :want], dtype=np.float32)
