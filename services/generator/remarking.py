"""The invisible mark when a worker joins stored clips (a stitch, an extension).

Each source's own mark comes out before the new generation's goes in: the same chips
with the opposite sign. Left in, the marks of several clips would overlap and none of
them could be read back. The new mark is drawn on every frame as it is encoded, which
is also where the join reports progress and notices a cancellation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kinora.media.invisible_mark import Embedder
from kinora.models.contract import ModelCancelled

MODEL_STRENGTH = 4.0  # the invisible mark's strength as the models apply it (Embedder's default)

FrameFn = Callable[[Any], None]


def unmarker(watermark_id: int | None, width: int, height: int) -> FrameFn | None:
    """What takes a clip's own mark out of its frames (None for a clip without one)."""
    if watermark_id is None:
        return None
    return Embedder(watermark_id, width, height, strength=-MODEL_STRENGTH).apply


def marker(
    row: Any, total_frames: int, progress: Any, cancel: threading.Event, *, start: float, span: float, stage: str
) -> FrameFn:
    """Draws `row`'s mark on each frame, moves `progress` from `start` by up to `span`
    percent over `total_frames`, and stops the join (ModelCancelled) once `cancel` is set."""
    embedder = Embedder(row.watermark_id, row.width, row.height) if row.watermark_id is not None else None
    total = max(1, total_frames)
    done = 0

    def mark(frame: Any) -> None:
        nonlocal done
        if cancel.is_set():
            raise ModelCancelled()
        if embedder is not None:
            embedder.apply(frame)
        done += 1
        progress.percent, progress.stage = start + span * min(1.0, done / total), stage

    return mark
