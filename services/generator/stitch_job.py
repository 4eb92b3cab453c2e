"""A worker runs a stitch (services/generator/stitching.py) where other jobs
call the model: it checks the sources and their cameos' consent again, joins
the sources' stored videos (kinora/media/stitch.py) with the new clip's
invisible mark on every frame, and hands the result to the same finishing
path as a model's clip (likeness scan, C2PA signing with the sources as
ingredients, stills, storage, completion and its events).

The stitch runs in a thread while the worker's heartbeat renews the lease; a
cancellation stops it at the next frame."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from kinora.media.invisible_mark import Embedder
from kinora.media.stitch import StitchError, plan, stitch_mp4, total_frames
from kinora.models.contract import ModelCancelled, ModelResult
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from services.generator.stitching import check_consent, usable_sources, video_record

STAGE = "stitching"
MODEL_STRENGTH = 4.0  # the invisible mark's strength as the models apply it (Embedder's default)


def _sources(worker, row) -> tuple[list, list[bytes]]:
    with worker.sessions() as session:
        rows = usable_sources(session, row.user_id, tuple(json.loads(row.stitch_of)))
    return rows, [worker.blobs.get(video_record(r)["key"]) for r in rows]


def _stitch(row, sources, mp4s: list[bytes], progress, cancel: threading.Event) -> bytes:
    facts, overlap = plan(mp4s, row.crossfade_seconds, "equal_power")
    total = max(1, total_frames(facts, overlap))
    embedder = Embedder(row.watermark_id, row.width, row.height) if row.watermark_id is not None else None
    # Each source's own mark comes out before the stitch's goes in: the same chips with
    # the opposite sign. Left in, the marks of several clips would overlap and none of
    # them could be read back.
    unmark = [Embedder(s.watermark_id, row.width, row.height, strength=-MODEL_STRENGTH).apply
              if s.watermark_id is not None else None for s in sources]
    done = 0

    def mark(frame) -> None:
        nonlocal done
        if cancel.is_set():
            raise ModelCancelled()
        if embedder is not None:
            embedder.apply(frame)
        done += 1
        progress.percent, progress.stage = 95.0 * done / total, STAGE

    return stitch_mp4(mp4s, row.crossfade_seconds, mark=mark, prepare=unmark)


async def run_stitch(worker, claim) -> None:
    """The job of a stitch row, on `worker` (services/generator/worker.py)."""
    from services.generator.worker import JobProgress  # noqa: PLC0415 - the worker imports this module

    row = claim.row
    try:
        rows, mp4s = await asyncio.to_thread(_sources, worker, row)
    except (InvalidArgument, FileNotFoundError, KeyError) as exc:
        message = getattr(exc, "message", None) or f"a source's video can't be read: {exc}"
        await worker._fail(claim, "stitch_source_invalid", message, False)
        return
    try:  # consent again, now: it may have been withdrawn while the job was queued
        await check_consent(worker.consent, row.user_id, rows, row.id)
    except (PermissionDenied, NotFound, FailedPrecondition) as exc:
        await asyncio.to_thread(worker._cancel_for_consent, claim, exc.message)
        await worker._settle(row.id)
        return
    except Unavailable as exc:
        await worker._fail(claim, "consent_unavailable", exc.message, True, outage=True)
        return

    progress, cancel = JobProgress(stage=STAGE), threading.Event()
    started = time.perf_counter()
    call = asyncio.create_task(asyncio.to_thread(_stitch, row, rows, mp4s, progress, cancel))
    lost = await worker._heartbeat_until(call, claim, progress, cancel)
    try:
        mp4 = await call
    except ModelCancelled:
        return
    except StitchError as exc:
        await worker._fail(claim, exc.code, exc.message, False)
        return
    if lost or cancel.is_set():
        return
    compute_s = time.perf_counter() - started
    report = {"stitch_of": [r.id for r in rows], "crossfade_seconds": row.crossfade_seconds,
              "timings_s": {"total": round(compute_s, 3)}}
    await worker._finish(claim, ModelResult(mp4, b"", report), compute_s,
                         ingredients=tuple((r.id, data) for r, data in zip(rows, mp4s)))
