"""The work queue: generations rows claimed by workers under leases.

* Claim: one `SELECT ... FOR UPDATE SKIP LOCKED` picks the next job of a
  pool's models — highest tier first (pro > paid > free), then `fair_rank`
  (how many of the same user's jobs were already queued when it arrived, so a
  user with twenty jobs takes turns with a user with one), then age.
* Lease: the claiming worker owns the job until `lease_expires_at`; it renews
  the lease with every heartbeat. A worker that dies stops renewing, and
  `requeue_expired` puts the job back (or fails it after `max_attempts`).
* Fencing: every write from a worker names its worker id and attempt, so a
  worker that lost its lease cannot complete, fail or progress the job: a late
  duplicate completion changes nothing and never captures twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import events_pb2
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.events import EventTables
from services.generator import metrics
from services.generator.domain import emit_generation, facts, now, stamp
from services.generator.models import fingerprints, generations, pools, workers
from services.generator.tracing import in_job_trace
from services.generator.wakeup import notify_job_queued

TIER_NAMES = {
    common_pb2.TIER_FREE: "free",
    common_pb2.TIER_PAID: "paid",
    common_pb2.TIER_PRO: "pro",
    common_pb2.TIER_UNSPECIFIED: "free",
}


@dataclass(frozen=True)
class Claim:
    generation_id: str
    attempt: int
    worker_id: str
    row: object
    claimed_at: float = field(default_factory=time.perf_counter)


class JobQueue:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        lease_seconds: float,
        max_attempts: int,
        outage_seconds: float = 600.0,
    ):
        self.sessions, self.tables = sessions, tables
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.outage = timedelta(seconds=outage_seconds)

    def pool_active(self, session: Session, pool_name: str) -> bool:
        state = session.execute(select(pools.c.state).where(pools.c.name == pool_name)).scalar()
        return state in (None, "active")

    def claim(self, worker_id: str, pool_name: str, models: list[str]) -> Claim | None:
        g = generations.c
        with transaction(self.sessions) as session:
            if not self.pool_active(session, pool_name):
                return None
            query = (
                select(generations)
                .where(g.status == "queued", g.model.in_(models))
                .order_by(g.tier.desc(), g.fair_rank, g.created_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = session.execute(query).first()
            if row is None:
                return None
            started = now()
            attempt = row.attempts + 1
            session.execute(
                update(generations)
                .where(g.id == row.id)
                .values(
                    status="in_progress",
                    stage="starting",
                    attempts=attempt,
                    lease_owner=worker_id,
                    lease_expires_at=started + self.lease,
                    pool_name=pool_name,
                    started_at=started,
                    updated_at=started,
                )
            )
            wait = (started - row.created_at).total_seconds()
            with in_job_trace(row):  # the event continues the trace of the call that created the job
                emit_generation(
                    session,
                    self.tables,
                    row.id,
                    stamp(
                        events_pb2.GenerationStarted(
                            facts=facts(row),
                            pool_name=pool_name,
                            worker_id=worker_id,
                            attempt=attempt,
                            wait_seconds=wait,
                        ),
                        started,
                    ),
                )
        if attempt == 1:
            metrics.QUEUE_WAIT.labels(TIER_NAMES.get(row.tier, "free")).observe(wait)
        return Claim(row.id, attempt, worker_id, row)

    def _mine(self, claim: Claim):
        g = generations.c
        return (
            g.id == claim.generation_id,
            g.lease_owner == claim.worker_id,
            g.attempts == claim.attempt,
            g.status == "in_progress",
        )

    def heartbeat(self, claim: Claim, progress: int, stage: str, emit_progress: bool) -> bool:
        """Renew the lease and record progress; False when the job is no longer
        this worker's (canceled, taken over after an expired lease, deleted)."""
        stamp_at = now()
        with transaction(self.sessions) as session:
            changed = session.execute(
                update(generations)
                .where(*self._mine(claim))
                .values(lease_expires_at=stamp_at + self.lease, progress=progress, stage=stage, updated_at=stamp_at)
            ).rowcount
            if changed and emit_progress:
                emit_generation(
                    session,
                    self.tables,
                    claim.generation_id,
                    stamp(
                        events_pb2.GenerationProgress(facts=facts(claim.row), progress=progress, stage=stage), stamp_at
                    ),
                )
        return bool(changed)

    def complete(
        self,
        claim: Claim,
        media: list[dict],
        report: dict,
        compute_seconds: float,
        expires_at: datetime | None,
        media_refs,
        frame_hashes: list[int] = (),
    ) -> bool:
        """Record the result if the job is still this worker's; schedules the capture."""
        stamp_at = now()
        with transaction(self.sessions) as session:
            changed = session.execute(
                update(generations)
                .where(*self._mine(claim))
                .values(
                    status="completed",
                    progress=100,
                    stage="completed",
                    media=json.dumps(media),
                    scene_report=json.dumps(report),
                    compute_seconds=compute_seconds,
                    billing_state="capture_pending",
                    completed_at=stamp_at,
                    updated_at=stamp_at,
                    expires_at=expires_at,
                    lease_owner="",
                    lease_expires_at=None,
                )
            ).rowcount
            if not changed:
                return False
            if frame_hashes:
                session.execute(
                    fingerprints.insert(),
                    [
                        {"generation_id": claim.generation_id, "kind": "frame", "position": i, "hash": h}
                        for i, h in enumerate(frame_hashes)
                    ],
                )
            row = claim.row
            event = events_pb2.GenerationCompleted(
                facts=facts(row),
                media=media_refs,
                compute_seconds=compute_seconds,
                total_seconds=(stamp_at - row.created_at).total_seconds(),
                prompt=row.prompt,
            )
            if expires_at is not None:
                set_timestamp(event.expires_at, expires_at)
            emit_generation(session, self.tables, claim.generation_id, stamp(event, stamp_at))
        metrics.GENERATIONS.labels(claim.row.model, "completed").inc()
        return True

    def fail(self, claim: Claim, code: str, message: str, retryable: bool, outage: bool = False) -> str | None:
        """Fail the job (or put it back when retryable and attempts remain).
        `outage`: the platform failed, not the job (a model or consent server
        could not be reached); the job goes back without using an attempt
        until it has waited `outage_seconds` since it was created.
        Returns the new status, or None when the job was no longer ours."""
        stamp_at = now()
        waited = stamp_at - claim.row.created_at
        if outage and waited >= self.outage:
            message = f"{message} (still unavailable after {waited.total_seconds() / 60:.0f} minutes)"
        with transaction(self.sessions) as session:
            keep_attempt = outage and waited < self.outage
            if retryable and (keep_attempt or claim.attempt < self.max_attempts):
                changed = session.execute(
                    update(generations)
                    .where(*self._mine(claim))
                    .values(
                        status="queued",
                        stage="queued",
                        progress=0,
                        lease_owner="",
                        lease_expires_at=None,
                        attempts=claim.attempt - 1 if keep_attempt else claim.attempt,
                        updated_at=stamp_at,
                    )
                ).rowcount
                if changed:
                    notify_job_queued(session)
                return "queued" if changed else None
            changed = session.execute(
                update(generations).where(*self._mine(claim)).values(**failed_values(code, message, stamp_at))
            ).rowcount
            if not changed:
                return None
            emit_failed(session, self.tables, claim.row, code, message, stamp_at)
        return "failed"

    def requeue_expired(self) -> list[str]:
        """Put jobs whose worker stopped renewing back in the queue; fail those
        out of attempts. Returns the ids that failed (their release is pending)."""
        g = generations.c
        stamp_at = now()
        failed: list[str] = []
        with transaction(self.sessions) as session:
            query = (
                select(generations)
                .where(g.status == "in_progress", g.lease_expires_at < stamp_at)
                .with_for_update(skip_locked=True)
            )
            for row in session.execute(query).all():
                if row.attempts >= self.max_attempts:
                    message = f"the job was interrupted {row.attempts} times (workers stopped responding)"
                    session.execute(
                        update(generations)
                        .where(g.id == row.id)
                        .values(**failed_values("worker_lost", message, stamp_at))
                    )
                    emit_failed(session, self.tables, row, "worker_lost", message, stamp_at)
                    failed.append(row.id)
                else:
                    session.execute(
                        update(generations)
                        .where(g.id == row.id)
                        .values(
                            status="queued",
                            stage="queued",
                            progress=0,
                            lease_owner="",
                            lease_expires_at=None,
                            updated_at=stamp_at,
                        )
                    )
                    notify_job_queued(session)
        return failed

    def record_worker(self, worker_id: str, pool_name: str, slots: int, running: int) -> None:
        stamp_at = now()
        with transaction(self.sessions) as session:
            changed = session.execute(
                update(workers)
                .where(workers.c.worker_id == worker_id)
                .values(pool_name=pool_name, slots=slots, running=running, last_seen=stamp_at)
            ).rowcount
            if not changed:
                session.execute(
                    workers.insert().values(
                        worker_id=worker_id, pool_name=pool_name, slots=slots, running=running, last_seen=stamp_at
                    )
                )

    def forget_worker(self, worker_id: str) -> None:
        with transaction(self.sessions) as session:
            session.execute(workers.delete().where(workers.c.worker_id == worker_id))


def failed_values(code: str, message: str, stamp_at: datetime) -> dict:
    return dict(
        status="failed",
        stage="failed",
        error_code=code,
        error_message=message,
        billing_state="release_pending",
        lease_owner="",
        lease_expires_at=None,
        completed_at=stamp_at,
        updated_at=stamp_at,
    )


def emit_failed(session: Session, tables: EventTables, row, code: str, message: str, stamp_at: datetime) -> None:
    emit_generation(
        session,
        tables,
        row.id,
        stamp(
            events_pb2.GenerationFailed(facts=facts(row), error=common_pb2.Error(code=code, message=message)), stamp_at
        ),
    )
    metrics.GENERATIONS.labels(row.model, "failed").inc()
