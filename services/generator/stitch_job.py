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

from kinora.media.stitch import StitchError, plan, stitch_mp4, total_frames
from kinora.models.contract import ModelCancelled, ModelResult
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unavailable
from services.generator.remarking import marker, unmarker
from services.generator.stitching import check_consent, usable_sources, video_record

STAGE = "stitching"


def _sources(worker, row) -> tuple[list, list[bytes]]:
    with worker.sessions() as session:
        rows = usable_sources(session, row.user_id, tuple(json.loads(row.stitch_of)))
    return rows, [worker.blobs.get(video_record(r)["key"]) for r in rows]


def _stitch(row, sources, mp4s: list[bytes], progress, cancel: threading.Event) -> bytes:
    facts, overlap = plan(mp4s, row.crossfade_seconds, "equal_power")
    mark = marker(row, total_frames(facts, overlap), progress, cancel, start=0.0, span=95.0, stage=STAGE)
    unmark = [unmarker(s.watermark_id, row.width, row.height) for s in sources]  # remarking.py says why
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
    report = {
        "stitch_of": [r.id for r in rows],
        "crossfade_seconds": row.crossfade_seconds,
        "timings_s": {"total": round(compute_s, 3)},
    }
    await worker._finish(
        claim, ModelResult(mp4, b"", report), compute_s, ingredients=tuple((r.id, data) for r, data in zip(rows, mp4s))
    )
