"""Extensions and edits: what the worker reads of the source clip, and how an
extension's continuation becomes the whole longer clip.

An extension's model call makes only the new part (`model_seconds`), resuming the
source's world from its report (`plan`, and `state` at its last frame once the model
reports one) and its video. The worker then joins source + continuation into one clip
(kinora/media/stitch.py, a cut, one re-encode): the extended generation's video is the
whole clip, its `seconds` the source's plus the new part's, and its C2PA manifest lists
the source as an ingredient. The source's own invisible mark is taken out and the new
generation's drawn over every frame, so the clip reads back as one generation.

An edit's model call remakes the source's whole length from its plan and video, changed
as the instruction (the edit's prompt) says; its video is the model's clip as made.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import select

from kinora.generator.v1 import generator_pb2 as pb
from kinora.media.stitch import stitch_mp4
from kinora.models.contract import SourceClip
from services.generator.blobs import BlobStore
from services.generator.models import generations
from services.generator.remarking import marker, unmarker

STAGE = "joining"


class SourceGone(Exception):
    """The source clip can no longer be read (deleted, taken down or its video expired)."""


def source_row(sessions: Any, source_id: str) -> Any:
    with sessions() as session:
        return session.execute(select(generations).where(generations.c.id == source_id)).first()


def source_video(blobs: BlobStore, row: Any) -> bytes:
    if row is None or row.deleted_at is not None or row.taken_down or row.status != "completed":
        raise SourceGone("the source clip was deleted or taken down")
    record = next((m for m in json.loads(row.media) if m.get("variant") == pb.MEDIA_VARIANT_VIDEO), None)
    if record is None:
        raise SourceGone("the source clip's video is no longer stored")
    try:
        return blobs.get(record["key"])
    except (FileNotFoundError, KeyError) as exc:
        raise SourceGone("the source clip's video is no longer stored") from exc


def source_clip(kind: str, row: Any, video: bytes, instruction: str = "") -> SourceClip:
    """The model's view of the source: its report's plan and state, its video."""
    report = json.loads(row.scene_report) if row.scene_report else {}
    plan, state = report.get("plan"), report.get("state")
    return SourceClip(
        kind, plan if isinstance(plan, dict) else None, state if isinstance(state, dict) else None, video, instruction
    )


def join_extension(
    row: Any, source: Any, source_mp4: bytes, continuation: bytes, progress: Any, cancel: threading.Event
) -> bytes:
    """Source + continuation as one clip carrying `row`'s invisible mark (in a thread)."""
    mark = marker(row, row.seconds * 24, progress, cancel, start=90.0, span=5.0, stage=STAGE)
    return stitch_mp4(
        [source_mp4, continuation],
        0.0,
        mark=mark,
        prepare=[
            unmarker(source.watermark_id, row.width, row.height),
            unmarker(row.watermark_id, row.width, row.height),
        ],
    )
