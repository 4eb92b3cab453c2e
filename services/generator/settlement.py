"""Settling a generation's reservation with billing after it ends.

Billing is exact across crashes: a terminal transition sets `billing_state` to
`capture_pending` or `release_pending` in the same transaction, then the
call to billing is made and the state settled. Anything left pending (a crash
between the two) is retried by `settle_pending`; billing is idempotent per
generation, so a retry never charges twice."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition
from services.generator.models import generations
from services.generator.ports import Billing

log = logging.getLogger("kinora.generator")


async def settle(sessions: sessionmaker[Session], billing: Billing, generation_id: str) -> None:
    """Carry out a pending capture or release, then record it."""
    with sessions() as session:
        row = session.execute(
            select(generations.c.billing_state, generations.c.status, generations.c.reservation_id).where(
                generations.c.id == generation_id
            )
        ).first()
    if row is None or row.billing_state not in ("capture_pending", "release_pending"):
        return
    final = "captured" if row.billing_state == "capture_pending" else "released"
    try:
        if not row.reservation_id:  # a stitch: free, nothing was reserved
            final = "free"
        elif final == "captured":
            await billing.capture(generation_id)
        else:
            await billing.release(generation_id, row.status)
    except FailedPrecondition as exc:
        # Billing settled the hold another way: retrying can't change that, so record
        # it for an operator instead of looping forever. (Holds of waiting jobs are
        # renewed, and a job whose hold lapsed fails uncharged: see holds.py.)
        log.error("billing refused to settle %s as %s: %s", generation_id, final, exc.message)
        final = "settle_conflict"
    with transaction(sessions) as session:
        session.execute(
            update(generations)
            .where(generations.c.id == generation_id, generations.c.billing_state == row.billing_state)
            .values(billing_state=final)
        )


async def settle_pending(sessions: sessionmaker[Session], billing: Billing, limit: int = 100) -> int:
    """Retry settlements a crash left behind; returns how many were settled."""
    with sessions() as session:
        ids = (
            session.execute(
                select(generations.c.id)
                .where(generations.c.billing_state.in_(("capture_pending", "release_pending")))
                .limit(limit)
            )
            .scalars()
            .all()
        )
    done = 0
    for generation_id in ids:
        try:
            await settle(sessions, billing, generation_id)
            done += 1
        except Exception:  # noqa: BLE001 - billing may be briefly down; retried next round
            log.warning("settlement for %s failed; will retry", generation_id, exc_info=True)
    return done
