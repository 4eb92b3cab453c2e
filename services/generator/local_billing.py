"""LocalAllowanceBilling: the embedded `Billing` used when KINORA_BILLING_ADDR
is unset (single-process local runs, and tests that do not run billing).

It keeps only daily allowances, in the generator's own tables: a reservation
holds one unit of today's allowance, capture uses it, release gives it back.
Credits, demand pricing and the ledger belong to the billing service.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kinora.common.v1 import common_pb2
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, NotFound, ResourceExhausted
from services.generator.domain import Reservation
from services.generator.models import local_billing_plans, local_billing_reservations

R = local_billing_reservations.c


class LocalAllowanceBilling:
    def __init__(self, sessions: sessionmaker[Session], free_daily: int = 30, pro_daily: int = 100):
        self.sessions = sessions
        self.daily = {common_pb2.TIER_FREE: free_daily, common_pb2.TIER_PRO: pro_daily}

    def set_plan(self, user_id: str, tier: int) -> None:
        with transaction(self.sessions) as session:
            if not session.execute(update(local_billing_plans).where(local_billing_plans.c.user_id == user_id)
                                   .values(tier=tier)).rowcount:
                session.execute(local_billing_plans.insert().values(user_id=user_id, tier=tier))

    async def reserve(self, generation_id: str, user_id: str, model: str, seconds: int, size: str,
                      quote_id: str = "") -> Reservation:
        try:
            return await asyncio.to_thread(self._reserve, generation_id, user_id, model)
        except IntegrityError:  # a concurrent retry reserved this generation first
            existing = self.reservation(generation_id)
            if existing is None:
                raise
            return Reservation(existing.reservation_id, existing.tier)

    def _reserve(self, generation_id: str, user_id: str, model: str) -> Reservation:
        stamp = datetime.now(timezone.utc)
        day = stamp.date().isoformat()
        with transaction(self.sessions) as session:
            existing = session.execute(select(local_billing_reservations).where(
                R.generation_id == generation_id)).first()
            if existing is not None:
                return Reservation(existing.reservation_id, existing.tier)
            tier = session.execute(select(local_billing_plans.c.tier).where(
                local_billing_plans.c.user_id == user_id).with_for_update()).scalar() or common_pb2.TIER_FREE
            if model == "pro" and tier != common_pb2.TIER_PRO:
                raise ResourceExhausted("the pro model is part of the Pro plan", "plan_required")
            used = session.execute(select(func.count()).select_from(local_billing_reservations).where(
                R.user_id == user_id, R.day == day, R.status.in_(("held", "captured")))).scalar_one()
            limit = self.daily.get(tier, self.daily[common_pb2.TIER_FREE])
            if used >= limit:
                raise ResourceExhausted(f"you've used today's {limit} generations; more become available tomorrow",
                                        "allowance_exhausted")
            reservation_id = "res_" + generation_id.removeprefix("gen_")
            session.execute(local_billing_reservations.insert().values(
                generation_id=generation_id, reservation_id=reservation_id, user_id=user_id, day=day, tier=tier,
                status="held", created_at=stamp))
        return Reservation(reservation_id, tier)

    async def extend(self, generation_id: str) -> None:
        """Holds here never lapse; one no longer held is refused as billing refuses it."""
        row = await asyncio.to_thread(self.reservation, generation_id)
        if row is None:
            raise NotFound(f"no reservation for {generation_id}", "reservation_not_found")
        if row.status != "held":
            raise FailedPrecondition(f"generation {generation_id}'s hold was already {row.status}",
                                     "reservation_settled")

    async def capture(self, generation_id: str) -> None:
        await asyncio.to_thread(self._settle, generation_id, "captured")

    async def release(self, generation_id: str, reason: str) -> None:
        await asyncio.to_thread(self._settle, generation_id, "released")

    def _settle(self, generation_id: str, status: str) -> None:
        with transaction(self.sessions) as session:
            row = session.execute(select(local_billing_reservations).where(R.generation_id == generation_id)
                                  .with_for_update()).first()
            if row is None:
                raise NotFound(f"no reservation for {generation_id}", "reservation_not_found")
            if row.status != "held":
                return  # settled before: idempotent
            session.execute(update(local_billing_reservations).where(R.generation_id == generation_id).values(
                status=status, settled_at=datetime.now(timezone.utc),
                capture_count=row.capture_count + (1 if status == "captured" else 0)))

    def reservation(self, generation_id: str):
        with self.sessions() as session:
            return session.execute(select(local_billing_reservations).where(
                R.generation_id == generation_id)).first()
