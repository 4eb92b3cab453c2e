"""Plans and their rules: which plan a user is on (Free, or Pro while a
subscription runs), the daily allowance granted on a UTC day's first touch,
the models, sizes and lengths each plan allows, demand pricing and quotes,
and the balance a user sees.

Plain Python over SQLAlchemy; no gRPC or Kafka here."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from kinora import videospec
from kinora.billing.v1 import billing_pb2 as bpb
from kinora.common.v1 import common_pb2 as cpb
from kinora.generator.v1 import events_pb2 as gen_events
from kinora.runtime.bulk import insert_ignore
from kinora.runtime.convert import datetime_or_none
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument
from kinora.videospec import canonical_model
from services.billing.core import BillingCore, next_reset, utc_day
from services.billing.ledger import (
    ALLOWANCE,
    CREDITS,
    ISSUED,
    PLATFORM,
    USER_ALLOWANCE,
    USER_CREDITS,
    USER_HELD,
    Posting,
    user_accounts,
)
from services.billing.models import billing_users, demand, quotes, subscriptions


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    tier: int
    daily_allowance: int
    models: tuple[str, ...]
    max_seconds: int
    sizes: tuple[str, ...]
    price_minor: int
    period_days: int


@dataclass(frozen=True)
class Offer:
    rule: int
    price_credits: int
    tier: int
    description: str
    wait_seconds: float = 0.0

    @property
    def uses_allowance(self) -> bool:
        return self.rule in (bpb.PRICE_RULE_ALLOWANCE, bpb.PRICE_RULE_DEMAND_WAIT)


@dataclass(frozen=True)
class BalanceView:
    user_id: str
    credits: int
    credits_held: int
    daily_limit: int
    used_today: int
    held_today: int
    remaining: int
    resets_at: datetime
    plan: Plan


class PlanRules:
    def __init__(self, core: BillingCore):
        self.core = core
        s = core.settings
        self.plans = {
            "free": Plan(
                "free",
                "Free",
                cpb.TIER_FREE,
                s.free_daily,
                tuple(s.free_models),
                s.free_max_seconds,
                tuple(s.free_sizes),
                0,
                0,
            ),
            "pro": Plan(
                "pro",
                "Pro",
                cpb.TIER_PRO,
                s.pro_daily,
                tuple(s.pro_models),
                s.pro_max_seconds,
                tuple(s.pro_sizes),
                s.pro_price_minor,
                s.pro_period_days,
            ),
        }
        self._all_models = set(s.free_models) | set(s.pro_models)
        self._all_sizes = set(s.free_sizes) | set(s.pro_sizes)
        self._demand_cache: tuple[float, tuple[bool, float]] = (0.0, (False, 0.0))

    # -- plan and allowance ---------------------------------------------------

    def current_subscription(self, session: Session, user_id: str, now: datetime) -> Row[Any] | None:
        """The subscription giving entitlements now, if any."""
        return session.execute(
            select(subscriptions)
            .where(
                subscriptions.c.user_id == user_id,
                subscriptions.c.status.in_(("active", "canceling")),
                subscriptions.c.current_period_end > now,
            )
            .order_by(subscriptions.c.current_period_end.desc())
            .limit(1)
        ).first()

    def plan_for(self, session: Session, user_id: str, now: datetime) -> tuple[Plan, object]:
        sub = self.current_subscription(session, user_id, now)
        return (self.plans[sub.plan_id] if sub is not None else self.plans["free"]), sub

    def ensure_day(self, session: Session, user: Row[Any], plan: Plan, now: datetime) -> int:
        """Grant today's allowance on the first touch of a UTC day (yesterday's
        unused units expire); top up mid-day after an upgrade. Needs the user
        row locked. Returns what was granted for today."""
        today = utc_day(now)
        uid = user.user_id
        mine, issued = (uid, USER_ALLOWANCE, ALLOWANCE), (PLATFORM, ISSUED, ALLOWANCE)
        postings = []
        if user.allowance_day != today:
            leftover = self.core.ledger.balances(session, [mine])[mine]
            if leftover:
                postings.append(
                    Posting(
                        "expire",
                        [(mine, -leftover), (issued, leftover)],
                        user_id=uid,
                        description=f"unused allowance of {user.allowance_day} expired",
                    )
                )
            grant = plan.daily_allowance
        else:
            grant = max(0, plan.daily_allowance - user.allowance_granted)
        if grant:
            postings.append(
                Posting(
                    "allowance_grant",
                    [(issued, -grant), (mine, grant)],
                    user_id=uid,
                    description=f"{plan.name} allowance for {today.isoformat()}",
                )
            )
        granted = (user.allowance_granted if user.allowance_day == today else 0) + grant
        if postings or user.allowance_day != today:
            self.core.post(session, postings, now)
            session.execute(
                update(billing_users)
                .where(billing_users.c.user_id == uid)
                .values(allowance_day=today, allowance_granted=granted)
            )
        return granted

    # -- demand ---------------------------------------------------------------

    def record_demand(self, session: Session, message: gen_events.DemandChanged) -> None:
        free = [t for t in message.tiers if t.tier == cpb.TIER_FREE]
        depth = sum(t.queue_depth for t in free)
        wait = max((max(t.p50_wait_seconds, t.oldest_wait_seconds) for t in free), default=0.0)
        measured = datetime_or_none(message, "measured_at") or self.core.clock()
        row = session.execute(
            select(demand.c.measured_at).where(demand.c.pool_name == message.pool_name).with_for_update()
        ).first()
        values: dict[str, Any] = {"free_queue_depth": depth, "free_wait_seconds": wait, "measured_at": measured}
        if row is None:
            session.execute(insert_ignore(demand), [{"pool_name": message.pool_name, **values}])
        elif row.measured_at <= measured:  # reports may arrive out of order
            session.execute(update(demand).where(demand.c.pool_name == message.pool_name).values(**values))
        self._demand_cache = (0.0, self._demand_cache[1])

    def _demand(self, session: Session, now: datetime) -> tuple[bool, float]:
        """(demand is high, estimated free wait in seconds); cached for a second."""
        checked, value = self._demand_cache
        if time.monotonic() - checked < 1.0:
            return value
        since = now - timedelta(seconds=self.core.settings.demand_stale_seconds)
        rows = session.execute(select(demand).where(demand.c.measured_at >= since)).all()
        aggregate = [r for r in rows if r.pool_name == ""]
        rows = aggregate or rows
        depth = sum(r.free_queue_depth for r in rows)
        wait = max((r.free_wait_seconds for r in rows), default=0.0)
        s = self.core.settings
        high = depth >= s.demand_queue_depth or (wait > 0 and wait >= s.demand_wait_seconds)
        value = (high, wait)
        self._demand_cache = (time.monotonic(), value)
        return value

    def cached_demand(self, now: datetime) -> tuple[bool, float]:
        """_demand without a caller's session: one is opened only when the
        cached value is over a second old."""
        if time.monotonic() - self._demand_cache[0] < 1.0:
            return self._demand_cache[1]
        with self.core.sessions() as session:
            return self._demand(session, now)

    # -- pricing --------------------------------------------------------------

    def credits_for(self, seconds: int, size: str) -> int:
        lines = min(int(part) for part in size.split("x"))
        return math.ceil(seconds / 10) * self.core.settings.credits_per_10s * (2 if lines >= 1080 else 1)

    def validate(self, plan: Plan, model: str, seconds: int, size: str) -> None:
        if model not in self._all_models:
            raise InvalidArgument(
                f"unknown model {model!r}; choose one of {', '.join(sorted(self._all_models))}", "unknown_model"
            )
        if size not in self._all_sizes:
            raise InvalidArgument(
                f"unknown size {size!r}; choose one of {', '.join(sorted(self._all_sizes))}", "invalid_size"
            )
        try:  # the same length rule as the gateway's and the generator's (kinora/videospec.py)
            videospec.billed_seconds(seconds)
        except videospec.SpecError as err:
            raise InvalidArgument(err.message, err.code) from None
        if model not in plan.models:
            raise FailedPrecondition(f"the {model} model needs a Pro subscription", "plan_required")
        if size not in plan.sizes:
            raise FailedPrecondition(f"{size} needs a Pro subscription", "plan_required")
        if seconds > plan.max_seconds:
            pro = self.plans["pro"]
            hint = f" (Pro allows {pro.max_seconds} s)" if plan.id != "pro" and seconds <= pro.max_seconds else ""
            raise FailedPrecondition(
                f"the {plan.name} plan allows clips up to {plan.max_seconds} s{hint}",
                "plan_required" if hint else "invalid_seconds",
            )

    def price_now(
        self,
        session: Session,
        user: Row[Any],
        plan: Plan,
        model: str,
        seconds: int,
        size: str,
        prefer_wait: bool,
        granted: int,
        now: datetime,
    ) -> Offer:
        uid = user.user_id
        keys = [(uid, USER_ALLOWANCE, ALLOWANCE), (uid, USER_CREDITS, CREDITS)]
        balance = self.core.ledger.balances(session, keys)
        return self.offer(
            lambda: self._demand(session, now),
            plan,
            seconds,
            size,
            prefer_wait,
            granted,
            balance[keys[0]],
            balance[keys[1]],
        )

    def offer(
        self,
        demand: Callable[[], tuple[bool, float]],
        plan: Plan,
        seconds: int,
        size: str,
        prefer_wait: bool,
        granted: int,
        allowance_left: int,
        credits: int,
    ) -> Offer:
        """What this generation costs now; `demand()` gives (demand is high,
        estimated free wait), asked only when it matters."""
        price = self.credits_for(seconds, size)
        paid_tier = cpb.TIER_PRO if plan.tier == cpb.TIER_PRO else cpb.TIER_PAID
        with_credits = f"{price} credit{'s' if price != 1 else ''}"
        if plan.tier == cpb.TIER_PRO or allowance_left <= 0:
            high, wait = False, 0.0  # pro is never reduced; without allowance only credits are left anyway
        else:
            high, wait = demand()
        used = granted - allowance_left
        if allowance_left > 0 and not (high and used >= self.core.settings.demand_free_allowance):
            return Offer(bpb.PRICE_RULE_ALLOWANCE, 0, plan.tier, f"Free: {allowance_left} of {granted} left today")
        if allowance_left > 0:  # demand is high and the reduced allowance is used up
            minutes = max(1, round(wait / 60))
            if credits >= price and not prefer_wait:
                return Offer(
                    bpb.PRICE_RULE_DEMAND_CREDITS,
                    price,
                    paid_tier,
                    f"Demand is high: {with_credits} now, or wait ~{minutes} min free",
                    wait,
                )
            return Offer(
                bpb.PRICE_RULE_DEMAND_WAIT,
                0,
                cpb.TIER_FREE,
                f"Demand is high: free, but expect to wait ~{minutes} min behind paid and Pro",
                wait,
            )
        if credits >= price:
            return Offer(bpb.PRICE_RULE_CREDITS, price, paid_tier, f"Today's allowance is used up: {with_credits}")
        return Offer(
            bpb.PRICE_RULE_UNAVAILABLE,
            price,
            plan.tier,
            f"Today's allowance of {granted} is used up and this costs {with_credits} "
            f"(you have {credits}); buy credits or wait for the reset at 00:00 UTC",
        )

    def quote(self, user_id: str, model: str, seconds: int, size: str, prefer_wait: bool = False) -> Row[Any]:
        model = canonical_model(model)  # `sora-2` is `standard` here too, as at the gateway and the generator
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            user = self.core.lock_user(session, user_id, create=True)
            plan, _ = self.plan_for(session, user_id, now)
            self.validate(plan, model, seconds, size)
            granted = self.ensure_day(session, user, plan, now)
            offer = self.price_now(session, user, plan, model, seconds, size, prefer_wait, granted, now)
            row = {
                "id": str(uuid.uuid4()),
                "user_id": user_id,
                "model": model,
                "seconds": seconds,
                "size": size,
                "rule": offer.rule,
                "price_credits": offer.price_credits,
                "tier": offer.tier,
                "description": offer.description,
                "estimated_wait_seconds": offer.wait_seconds,
                "created_at": now,
                "expires_at": now + timedelta(seconds=self.core.settings.quote_ttl_seconds),
            }
            session.execute(quotes.insert().values(**row))
            return session.execute(select(quotes).where(quotes.c.id == row["id"])).one()

    # -- balance --------------------------------------------------------------

    def balance(self, user_id: str, create: bool = True) -> BalanceView:
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            return self.balance_in(session, user_id, now, create)

    def balance_in(self, session: Session, user_id: str, now: datetime, create: bool = True) -> BalanceView:
        user = self.core.lock_user(session, user_id, create=create)
        plan, _ = self.plan_for(session, user_id, now)
        granted = self.ensure_day(session, user, plan, now)
        b = self.core.ledger.balances(session, user_accounts(user_id))
        remaining = b[(user_id, USER_ALLOWANCE, ALLOWANCE)]
        held = b[(user_id, USER_HELD, ALLOWANCE)]
        return BalanceView(
            user_id,
            b[(user_id, USER_CREDITS, CREDITS)],
            b[(user_id, USER_HELD, CREDITS)],
            plan.daily_allowance,
            max(0, granted - remaining - held),
            held,
            remaining,
            next_reset(now),
            plan,
        )

    def entitlements(self, user_id: str) -> tuple[Plan, object]:
        with self.core.sessions() as session:
            return self.plan_for(session, user_id, self.core.clock())
