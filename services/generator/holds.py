"""Billing holds on waiting jobs: renewed before they lapse, and a job whose
hold is gone fails uncharged instead of running free.

Billing lets a hold go after KINORA_BILLING_HOLD_TTL_SECONDS (its sweep
expires it), and a free job can wait in the queue longer than that. Each
maintenance round (API server and workers) renews the holds of queued and
running jobs that lapse within KINORA_HOLD_RENEW_MARGIN_SECONDS, and a worker
renews a job's hold as it claims it, so the run itself has a full TTL.
Billing never revives a hold that is no longer held: the job then fails with
`hold_expired`, and since billing already gave the units back, nothing is
settled again (billing_state `hold_lost`).

Renewing is idempotent, so two processes renewing the same hold is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, NotFound
from kinora.runtime.events import EventTables
from services.generator.domain import ACTIVE, Billing, now
from services.generator.models import generations
from services.generator.queue import emit_failed, failed_values

log = logging.getLogger("kinora.generator.holds")

HOLD_LOST = "hold_expired"
HOLD_LOST_MESSAGE = (
    "this video's reservation ran out while it waited, so it was not made and nothing was charged; please try again"
)

g = generations.c


async def renew(sessions: sessionmaker[Session], tables: EventTables, billing: Billing, generation_id: str) -> bool:
    """Renew one job's hold. True while the job may run; False when the hold
    was gone (the job has failed uncharged). Billing being unreachable raises
    (Unavailable): the caller retries later."""
    try:
        expires_at = await billing.extend(generation_id)
    except (FailedPrecondition, NotFound) as exc:
        log.warning("the hold of %s is gone (%s); failing the job uncharged", generation_id, exc.message)
        await asyncio.to_thread(_fail_lost, sessions, tables, generation_id)
        return False
    await asyncio.to_thread(_record, sessions, generation_id, expires_at)
    return True


async def renew_due(
    sessions: sessionmaker[Session], tables: EventTables, billing: Billing, margin_s: float, limit: int = 100
) -> int:
    """Renew the holds of active jobs that lapse within `margin_s`; returns how many were looked at."""
    cutoff = now() + timedelta(seconds=margin_s)
    with sessions() as session:
        ids = (
            session.execute(
                select(g.id)
                .where(g.status.in_(ACTIVE), g.billing_state == "held", g.hold_expires_at < cutoff)
                .order_by(g.hold_expires_at)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    for generation_id in ids:
        try:
            await renew(sessions, tables, billing, generation_id)
        except Exception:  # noqa: BLE001 - billing may be briefly down; the next round retries
            log.warning("renewing the hold of %s failed; will retry", generation_id, exc_info=True)
    return len(ids)


def _record(sessions: sessionmaker[Session], generation_id: str, expires_at: datetime | None) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(generations)
            .where(g.id == generation_id, g.billing_state == "held")
            .values(hold_expires_at=expires_at)
        )


def _fail_lost(sessions: sessionmaker[Session], tables: EventTables, generation_id: str) -> None:
    with transaction(sessions) as session:
        row = session.execute(select(generations).where(g.id == generation_id).with_for_update()).first()
        if row is None or row.status not in ACTIVE or row.billing_state != "held":
            return  # finished or canceled meanwhile: its own settlement stands
        stamp_at = now()
        # Clearing the lease also stops a worker running it: its next heartbeat finds the job gone.
        values = failed_values(HOLD_LOST, HOLD_LOST_MESSAGE, stamp_at) | {
            "billing_state": "hold_lost",
            "hold_expires_at": None,
        }
        session.execute(update(generations).where(g.id == generation_id).values(**values))
        emit_failed(session, tables, row, HOLD_LOST, HOLD_LOST_MESSAGE, stamp_at)
