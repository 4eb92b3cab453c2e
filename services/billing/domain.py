"""Billing rules: plans and daily allowances, quotes under demand pricing,
reservations (hold -> capture/release/expire), credit purchases and refunds,
the Pro subscription, statements, metering and reconciliation.

Plain Python over SQLAlchemy; no gRPC or Kafka here. Every change of money,
credits or allowance is a ledger posting (see ledger.py) made in the same
database transaction as the row it belongs to, and its outbox event.

The day: allowances are per UTC calendar day and reset at 00:00 UTC for
everyone. A hold uses the allowance of the day it was made on; released after
that day is over, the unit expires instead of returning to the new day."""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import psycopg
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from psycopg.rows import namedtuple_row
from sqlalchemy import and_, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import events_pb2 as epb
from kinora.common.v1 import common_pb2 as cpb
from kinora.runtime.bulk import as_json, bytea, insert_ignore, insert_rows, one_of, random_uuids
from kinora.runtime.db import transaction
from kinora.runtime.errors import (Conflict, FailedPrecondition, InvalidArgument, KinoraError, NotFound,
                                   ResourceExhausted)
from kinora.runtime.events import EventTables, event_type_of
from kinora.runtime.pgfast import PgStatements
from kinora.runtime.telemetry import inject_context
from services.billing import metrics
from services.billing.ledger import (ALLOWANCE, CLEARING, CREDITS, ISSUED, PLATFORM, REVENUE, USER_ALLOWANCE,
                                     USER_CREDITS, USER_HELD, Ledger, LedgerError, Posting, user_accounts)
from services.billing.models import (accounts, billing_users, demand, generation_outcomes, ledger_entries,
                                     ledger_transactions, payment_events, purchases, quotes, reservations,
                                     subscriptions)
from services.billing.payments import DECLINED, IGNORED, SUCCEEDED, OutcomeUnknown, PaymentProvider
from services.billing.settings import BillingSettings, PackSpec

TOPIC_USAGE = "kinora.billing.usage.v1"
TOPIC_PAYMENTS = "kinora.billing.payments.v1"
TOPIC_RECONCILIATION = "kinora.billing.reconciliation.v1"

HELD, CAPTURED, RELEASED, EXPIRED = "held", "captured", "released", "expired"
MAX_ID_LEN = 64
MAX_SECONDS_ANY_PLAN = 600
_SUBSCRIPTION_IDS = uuid.UUID("5b0f6c2e-8a4d-4d8e-9a57-3f1f0c6a9e21")  # uuid5 namespace: (user, idempotency key)


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


@dataclass
class SettleResult:
    generation_id: str
    row: object | None  # the reservation after settling, None if unknown
    replayed: bool = False
    conflict: str = ""  # why it could not be settled this way


@dataclass
class DriftReport:
    run_id: str
    uncaptured_generation_ids: list[str] = field(default_factory=list)
    unmatched_capture_generation_ids: list[str] = field(default_factory=list)
    mismatched_account_ids: list[str] = field(default_factory=list)
    unbalanced_transaction_ids: list[str] = field(default_factory=list)
    dangling_entry_ids: list[str] = field(default_factory=list)  # account or transaction missing
    drift: int = 0


def utc_day(now: datetime) -> date:
    return now.astimezone(timezone.utc).date()


def next_reset(now: datetime) -> datetime:
    day = utc_day(now) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _check_id(value: str, what: str) -> str:
    if not value or len(value) > MAX_ID_LEN:
        raise InvalidArgument(f"{what} is required (at most {MAX_ID_LEN} characters)", f"invalid_{what.replace(' ', '_')}")
    return value


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _ts(value: datetime | None) -> Timestamp:
    """A protobuf Timestamp, exact to the microsecond (Timestamp.FromDatetime
    is pure Python and shows in Reserve's profile)."""
    if value is None:
        return Timestamp()
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86400 + since.seconds, nanos=since.microseconds * 1000)


class Billing:
    def __init__(self, settings: BillingSettings, sessions: sessionmaker[Session], event_tables: EventTables,
                 provider: PaymentProvider, clock=None):
        self.settings, self.sessions, self.event_tables, self.provider = settings, sessions, event_tables, provider
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.ledger = Ledger()
        # Reserve's fast path: its own per-thread connections.
        self.fast = PgStatements(sessions.kw["bind"].url.render_as_string(hide_password=False), namedtuple_row)
        s = settings
        self.plans = {
            "free": Plan("free", "Free", cpb.TIER_FREE, s.free_daily, tuple(s.free_models), s.free_max_seconds,
                         tuple(s.free_sizes), 0, 0),
            "pro": Plan("pro", "Pro", cpb.TIER_PRO, s.pro_daily, tuple(s.pro_models), s.pro_max_seconds,
                        tuple(s.pro_sizes), s.pro_price_minor, s.pro_period_days),
        }
        self.packs: dict[str, PackSpec] = {p.id: p for p in s.packs}
        self._all_models = set(s.free_models) | set(s.pro_models)
        self._all_sizes = set(s.free_sizes) | set(s.pro_sizes)
        self._demand_cache: tuple[float, tuple[bool, float]] = (0.0, (False, 0.0))

    def close(self) -> None:
        self.fast.close()

    # -- events ---------------------------------------------------------------

    def _emit(self, session: Session, topic: str, items: list[tuple[Message, str, str]]) -> None:
        """Outbox rows for (message, aggregate type, aggregate id) in one INSERT;
        same row shape as kinora.runtime.events.emit, batched for metering."""
        if not items:
            return
        headers = inject_context({})
        headers["time_ms"] = str(int(time.time() * 1000))
        encoded = json.dumps(headers)
        insert_rows(session, self.event_tables.outbox, [
            {"event_id": event_id, "aggregate_type": agg_type, "aggregate_id": agg_id,
             "event_type": event_type_of(msg), "topic": topic, "payload": bytea(msg.SerializeToString()),
             "headers": encoded} for (msg, agg_type, agg_id), event_id in zip(items, random_uuids(len(items)))])

    # -- users, plans, allowance ---------------------------------------------

    def prepare(self) -> None:
        """Open the platform accounts up front, so they have the lowest ids and
        every transaction locks them before user accounts (no deadlocks)."""
        cur = self.settings.currency
        with transaction(self.sessions) as session:
            self.ledger.open_accounts(session, [
                (PLATFORM, ISSUED, ALLOWANCE), (PLATFORM, REVENUE, ALLOWANCE), (PLATFORM, ISSUED, CREDITS),
                (PLATFORM, REVENUE, CREDITS), (PLATFORM, CLEARING, cur), (PLATFORM, REVENUE, cur)])

    def open_user(self, session: Session, user_id: str) -> None:
        _check_id(user_id, "user id")
        session.execute(insert_ignore(billing_users), [{"user_id": user_id, "allowance_granted": 0}])
        self.ledger.open_accounts(session, user_accounts(user_id))

    def _lock_user(self, session: Session, user_id: str, create: bool = False):
        _check_id(user_id, "user id")
        query = select(billing_users).where(billing_users.c.user_id == user_id).with_for_update()
        row = session.execute(query).first()
        if row is None:
            if not create:
                raise NotFound(f"user {user_id} has no billing account", "unknown_user")
            self.open_user(session, user_id)
            row = session.execute(query).first()
        return row

    def _subscription(self, session: Session, user_id: str, now: datetime):
        """The subscription giving entitlements now, if any."""
        return session.execute(
            select(subscriptions).where(subscriptions.c.user_id == user_id,
                                        subscriptions.c.status.in_(("active", "canceling")),
                                        subscriptions.c.current_period_end > now)
            .order_by(subscriptions.c.current_period_end.desc()).limit(1)).first()

    def _plan_for(self, session: Session, user_id: str, now: datetime) -> tuple[Plan, object]:
        sub = self._subscription(session, user_id, now)
        return (self.plans[sub.plan_id] if sub is not None else self.plans["free"]), sub

    def _ensure_day(self, session: Session, user, plan: Plan, now: datetime) -> int:
        """Grant today's allowance on the first touch of a UTC day (yesterday's
        unused units expire); top up mid-day after an upgrade. Needs the user
        row locked. Returns what was granted for today."""
        today = utc_day(now)
        uid = user.user_id
        mine, issued = (uid, USER_ALLOWANCE, ALLOWANCE), (PLATFORM, ISSUED, ALLOWANCE)
        postings = []
        if user.allowance_day != today:
            leftover = self.ledger.balances(session, [mine])[mine]
            if leftover:
                postings.append(Posting("expire", [(mine, -leftover), (issued, leftover)], user_id=uid,
                                        description=f"unused allowance of {user.allowance_day} expired"))
            grant = plan.daily_allowance
        else:
            grant = max(0, plan.daily_allowance - user.allowance_granted)
        if grant:
            postings.append(Posting("allowance_grant", [(issued, -grant), (mine, grant)], user_id=uid,
                                    description=f"{plan.name} allowance for {today.isoformat()}"))
        granted = (user.allowance_granted if user.allowance_day == today else 0) + grant
        if postings or user.allowance_day != today:
            self._post(session, postings, now)
            session.execute(update(billing_users).where(billing_users.c.user_id == uid)
                            .values(allowance_day=today, allowance_granted=granted))
        return granted

    def _post(self, session: Session, postings: list[Posting], now: datetime) -> None:
        self.ledger.post(session, postings, now)
        for p in postings:
            metrics.LEDGER_TRANSACTIONS.labels(p.kind).inc()

    # -- demand ---------------------------------------------------------------

    def record_demand(self, session: Session, message) -> None:
        free = [t for t in message.tiers if t.tier == cpb.TIER_FREE]
        depth = sum(t.queue_depth for t in free)
        wait = max((max(t.p50_wait_seconds, t.oldest_wait_seconds) for t in free), default=0.0)
        measured = message.measured_at.ToDatetime(tzinfo=timezone.utc) if message.HasField("measured_at") \
            else self.clock()
        row = session.execute(select(demand.c.measured_at).where(demand.c.pool_name == message.pool_name)
                              .with_for_update()).first()
        values = {"free_queue_depth": depth, "free_wait_seconds": wait, "measured_at": measured}
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
        since = now - timedelta(seconds=self.settings.demand_stale_seconds)
        rows = session.execute(select(demand).where(demand.c.measured_at >= since)).all()
        aggregate = [r for r in rows if r.pool_name == ""]
        rows = aggregate or rows
        depth = sum(r.free_queue_depth for r in rows)
        wait = max((r.free_wait_seconds for r in rows), default=0.0)
        high = depth >= self.settings.demand_queue_depth or (wait > 0 and wait >= self.settings.demand_wait_seconds)
        value = (high, wait)
        self._demand_cache = (time.monotonic(), value)
        return value

    def _cached_demand(self, now: datetime) -> tuple[bool, float]:
        """_demand without a caller's session: one is opened only when the
        cached value is over a second old."""
        if time.monotonic() - self._demand_cache[0] < 1.0:
            return self._demand_cache[1]
        with self.sessions() as session:
            return self._demand(session, now)

    # -- pricing --------------------------------------------------------------

    def credits_for(self, seconds: int, size: str) -> int:
        lines = min(int(part) for part in size.split("x"))
        return math.ceil(seconds / 10) * self.settings.credits_per_10s * (2 if lines >= 1080 else 1)

    def _validate(self, plan: Plan, model: str, seconds: int, size: str) -> None:
        if model not in self._all_models:
            raise InvalidArgument(f"unknown model {model!r}; choose one of {', '.join(sorted(self._all_models))}",
                                  "unknown_model")
        if size not in self._all_sizes:
            raise InvalidArgument(f"unknown size {size!r}; choose one of {', '.join(sorted(self._all_sizes))}",
                                  "invalid_size")
        if not 0 < seconds <= MAX_SECONDS_ANY_PLAN:
            raise InvalidArgument("seconds must be a positive number of seconds", "invalid_seconds")
        if model not in plan.models:
            raise FailedPrecondition(f"the {model} model needs a Pro subscription", "plan_required")
        if size not in plan.sizes:
            raise FailedPrecondition(f"{size} needs a Pro subscription", "plan_required")
        if seconds > plan.max_seconds:
            pro = self.plans["pro"]
            hint = f" (Pro allows {pro.max_seconds} s)" if plan.id != "pro" and seconds <= pro.max_seconds else ""
            raise FailedPrecondition(f"the {plan.name} plan allows clips up to {plan.max_seconds} s{hint}",
                                     "plan_required" if hint else "invalid_seconds")

    def _price_now(self, session: Session, user, plan: Plan, model: str, seconds: int, size: str,
                   prefer_wait: bool, granted: int, now: datetime) -> Offer:
        uid = user.user_id
        keys = [(uid, USER_ALLOWANCE, ALLOWANCE), (uid, USER_CREDITS, CREDITS)]
        balance = self.ledger.balances(session, keys)
        return self._offer(lambda: self._demand(session, now), plan, seconds, size, prefer_wait, granted,
                           balance[keys[0]], balance[keys[1]])

    def _offer(self, demand, plan: Plan, seconds: int, size: str, prefer_wait: bool, granted: int,
               allowance_left: int, credits: int) -> Offer:
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
        if allowance_left > 0 and not (high and used >= self.settings.demand_free_allowance):
            return Offer(bpb.PRICE_RULE_ALLOWANCE, 0, plan.tier,
                         f"Free: {allowance_left} of {granted} left today")
        if allowance_left > 0:  # demand is high and the reduced allowance is used up
            minutes = max(1, round(wait / 60))
            if credits >= price and not prefer_wait:
                return Offer(bpb.PRICE_RULE_DEMAND_CREDITS, price, paid_tier,
                             f"Demand is high: {with_credits} now, or wait ~{minutes} min free", wait)
            return Offer(bpb.PRICE_RULE_DEMAND_WAIT, 0, cpb.TIER_FREE,
                         f"Demand is high: free, but expect to wait ~{minutes} min behind paid and Pro", wait)
        if credits >= price:
            return Offer(bpb.PRICE_RULE_CREDITS, price, paid_tier,
                         f"Today's allowance is used up: {with_credits}")
        return Offer(bpb.PRICE_RULE_UNAVAILABLE, price, plan.tier,
                     f"Today's allowance of {granted} is used up and this costs {with_credits} "
                     f"(you have {credits}); buy credits or wait for the reset at 00:00 UTC")

    def quote(self, user_id: str, model: str, seconds: int, size: str, prefer_wait: bool = False):
        now = self.clock()
        with transaction(self.sessions) as session:
            user = self._lock_user(session, user_id, create=True)
            plan, _ = self._plan_for(session, user_id, now)
            self._validate(plan, model, seconds, size)
            granted = self._ensure_day(session, user, plan, now)
            offer = self._price_now(session, user, plan, model, seconds, size, prefer_wait, granted, now)
            row = {"id": str(uuid.uuid4()), "user_id": user_id, "model": model, "seconds": seconds, "size": size,
                   "rule": offer.rule, "price_credits": offer.price_credits, "tier": offer.tier,
                   "description": offer.description, "estimated_wait_seconds": offer.wait_seconds,
                   "created_at": now, "expires_at": now + timedelta(seconds=self.settings.quote_ttl_seconds)}
            session.execute(quotes.insert().values(**row))
            return session.execute(select(quotes).where(quotes.c.id == row["id"])).one()

    # -- reservations ---------------------------------------------------------

    def reserve(self, generation_id: str, user_id: str, model: str, seconds: int, size: str,
                quote_id: str = "", prefer_wait: bool = False):
        """Hold one allowance unit or the price in credits. Idempotent by
        generation id. Returns (reservation row, replayed)."""
        _check_id(generation_id, "generation id")
        now = self.clock()
        if not quote_id:
            held = self._reserve_fast(generation_id, user_id, model, seconds, size, prefer_wait, now)
            if held is not None:
                return held, False
        try:
            with transaction(self.sessions) as session:
                return self._reserve(session, generation_id, user_id, model, seconds, size, quote_id,
                                     prefer_wait, now)
        except IntegrityError:  # the same generation id reserved concurrently for another user
            with self.sessions() as session:
                existing = self._reservation(session, generation_id)
            if existing is None:
                raise
            if existing.user_id != user_id:
                raise Conflict(f"generation {generation_id} is already reserved for another user",
                               "reservation_conflict") from None
            return existing, True

    def _reservation(self, session: Session, generation_id: str, lock: bool = False):
        query = select(reservations).where(reservations.c.generation_id == generation_id)
        return session.execute(query.with_for_update() if lock else query).first()

    def _reserve(self, session, generation_id, user_id, model, seconds, size, quote_id, prefer_wait, now):
        user = self._lock_user(session, user_id)  # serialises this user's reservations
        existing = self._reservation(session, generation_id)
        if existing is not None:
            if existing.user_id != user_id:
                raise Conflict(f"generation {generation_id} is already reserved for another user",
                               "reservation_conflict")
            return existing, True
        plan, _ = self._plan_for(session, user_id, now)
        self._validate(plan, model, seconds, size)
        granted = self._ensure_day(session, user, plan, now)
        offer = self._quoted_offer(session, user_id, quote_id, model, seconds, size, now) if quote_id else None
        if offer is not None and not self._affordable(session, user_id, offer):
            offer = None  # the quote can no longer be paid the way it said: price now
        if offer is None:
            offer = self._price_now(session, user, plan, model, seconds, size, prefer_wait, granted, now)
        if offer.rule == bpb.PRICE_RULE_UNAVAILABLE:
            raise ResourceExhausted(offer.description, "insufficient_balance")
        if offer.uses_allowance:
            unit, units, credits = ALLOWANCE, 1, 0
            legs = [((user_id, USER_ALLOWANCE, ALLOWANCE), -1), ((user_id, USER_HELD, ALLOWANCE), 1)]
        else:
            unit, units, credits = CREDITS, 0, offer.price_credits
            legs = [((user_id, USER_CREDITS, CREDITS), -credits), ((user_id, USER_HELD, CREDITS), credits)]
        reservation_id = str(uuid.uuid4())
        row = {"id": reservation_id, "generation_id": generation_id, "user_id": user_id, "status": HELD,
               "rule": offer.rule, "tier": offer.tier, "allowance_units": units, "credits": credits,
               "model": model, "seconds": seconds, "size": size, "quote_id": quote_id or None,
               "day": utc_day(now), "created_at": now,
               "expires_at": now + timedelta(seconds=self.settings.hold_ttl_seconds)}
        held = session.execute(reservations.insert().values(**row).returning(*reservations.c)).one()
        self._post(session, [Posting("reserve", legs, user_id=user_id, generation_id=generation_id,
                                     description=f"hold {units or credits} {unit} for generation {generation_id}")],
                   now)
        metrics.RESERVATIONS.labels(bpb.PriceRule.Name(offer.rule)).inc()
        return held, False

    def _reserve_fast(self, generation_id, user_id, model, seconds, size, prefer_wait, now):
        """The common Reserve (no quote, today's allowance already granted, a
        new generation id) in two statements outside any transaction: read the
        user's state, decide here, then ONE statement locks the user and the
        accounts, checks that what was read is unchanged, and posts the hold
        and the reservation. Returns None when the general path must decide
        (a replay, the first Reserve of the day, or a concurrent change)."""
        _check_id(user_id, "user id")
        rows = self.fast.fetch(_USER_STATE, {"uid": user_id, "gen": generation_id, "now": now})
        if len(rows) != 4 or rows[0].reserved_for is not None:
            return None  # unknown user, missing accounts, a replay or a conflict
        first, today = rows[0], utc_day(now)
        plan = self.plans[first.plan_id or "free"]
        if first.allowance_day != today or first.allowance_granted < plan.daily_allowance:
            return None  # the day's allowance must be granted first
        self._validate(plan, model, seconds, size)
        by_key = {(r.kind, r.unit): r for r in rows}
        allowance, credits = by_key[(USER_ALLOWANCE, ALLOWANCE)], by_key[(USER_CREDITS, CREDITS)]
        offer = self._offer(lambda: self._cached_demand(now), plan, seconds, size, prefer_wait,
                            first.allowance_granted, allowance.balance, credits.balance)
        if offer.rule == bpb.PRICE_RULE_UNAVAILABLE:
            raise ResourceExhausted(offer.description, "insufficient_balance")
        if offer.uses_allowance:
            unit, units, amount, source = ALLOWANCE, 1, 1, allowance
        else:
            unit, units, amount, source = CREDITS, 0, offer.price_credits, credits
        try:
            held = self.fast.fetch(_HOLD, {
                "uid": user_id, "day": today, "granted": first.allowance_granted,
                "alw": allowance.id, "alw_seen": allowance.balance, "cred": credits.id, "cred_seen": credits.balance,
                "src": source.id, "dst": by_key[(USER_HELD, unit)].id, "n": amount, "tx": str(uuid.uuid4()),
                "gen": generation_id, "desc": f"hold {amount} {unit} for generation {generation_id}", "now": now,
                "rid": str(uuid.uuid4()), "rule": offer.rule, "tier": offer.tier, "units": units,
                "credits": 0 if units else amount, "model": model, "seconds": seconds, "size": size,
                "expires": now + timedelta(seconds=self.settings.hold_ttl_seconds)})
        except psycopg.errors.UniqueViolation:
            return None  # the same generation id reserved meanwhile: the general path replays it
        if not held:
            return None  # the user's balances or day changed since the read
        metrics.LEDGER_TRANSACTIONS.labels("reserve").inc()
        metrics.RESERVATIONS.labels(bpb.PriceRule.Name(offer.rule)).inc()
        return held[0]

    def _quoted_offer(self, session, user_id, quote_id, model, seconds, size, now) -> Offer | None:
        q = session.execute(select(quotes).where(quotes.c.id == quote_id)).first()
        if q is None or q.user_id != user_id:
            raise NotFound(f"quote {quote_id} does not exist", "unknown_quote")
        if (q.model, q.seconds, q.size) != (model, seconds, size):
            raise InvalidArgument(f"quote {quote_id} was for {q.model} {q.seconds} s {q.size}, "
                                  f"not {model} {seconds} s {size}", "quote_mismatch")
        if q.expires_at <= now or q.rule == bpb.PRICE_RULE_UNAVAILABLE:
            return None
        return Offer(q.rule, q.price_credits, q.tier, q.description, q.estimated_wait_seconds)

    def _affordable(self, session, user_id, offer: Offer) -> bool:
        key = (user_id, USER_ALLOWANCE, ALLOWANCE) if offer.uses_allowance else (user_id, USER_CREDITS, CREDITS)
        need = 1 if offer.uses_allowance else offer.price_credits
        return self.ledger.balances(session, [key])[key] >= need

    def extend(self, generation_id: str):
        """Push a held reservation's expiry to now + the hold TTL (a queued job
        renews its hold while it waits). A hold already settled, or past its
        expiry though the sweep has not run yet, is never revived: the latter
        is expired here and both are refused, so the job is not run free."""
        _check_id(generation_id, "generation id")
        now = self.clock()
        with transaction(self.sessions) as session:
            r = self._reservation(session, generation_id, lock=True)
            if r is None:
                raise NotFound(f"generation {generation_id} has no reservation", "unknown_reservation")
            lapsed = r.status == HELD and r.expires_at <= now
            if lapsed:
                self.settle(session, [generation_id], EXPIRED, "hold expired", now)
            elif r.status == HELD:
                session.execute(update(reservations).where(reservations.c.id == r.id).values(
                    expires_at=now + timedelta(seconds=self.settings.hold_ttl_seconds)))
                return self._reservation(session, generation_id)
        status = EXPIRED if lapsed else r.status
        raise FailedPrecondition(f"generation {generation_id}'s hold was already {status}", "reservation_settled")

    def capture(self, generation_id: str):
        return self._settle_one(generation_id, CAPTURED, "")

    def release(self, generation_id: str, reason: str = ""):
        return self._settle_one(generation_id, RELEASED, reason[:64])

    def _settle_one(self, generation_id: str, outcome: str, reason: str):
        _check_id(generation_id, "generation id")
        with transaction(self.sessions) as session:
            result = self.settle(session, [generation_id], outcome, reason, self.clock())[0]
        if result.row is None:
            raise NotFound(f"generation {generation_id} has no reservation", "unknown_reservation")
        if result.conflict:
            raise FailedPrecondition(result.conflict, "reservation_settled")
        return result.row, result.replayed

    def settle(self, session: Session, generation_ids: list[str], outcome: str, reason: str,
               now: datetime) -> list[SettleResult]:
        """Capture, release or expire holds, many at once, in the caller's
        transaction, with a result per generation (metering needs none and
        calls `_settle_held`). Settling twice the same way is a replay;
        settling a hold already settled another way is a conflict (reported,
        nothing changes)."""
        ids = sorted(set(generation_ids))
        rows = session.execute(select(reservations).where(one_of(reservations.c.generation_id, ids))
                               .order_by(reservations.c.generation_id).with_for_update()).all()
        by_gen = {r.generation_id: r for r in rows}
        results, settle_rows = [], []
        settling: set[str] = set()
        for gen in generation_ids:
            r = by_gen.get(gen)
            if r is None:
                results.append(SettleResult(gen, None))
            elif r.status == outcome:
                results.append(SettleResult(gen, r, replayed=True))
            elif r.status != HELD:
                results.append(SettleResult(gen, r, conflict=f"generation {gen}'s hold was already {r.status}"))
            elif r.id in settling:
                results.append(SettleResult(gen, r, replayed=True))  # twice in one batch
            else:
                settle_rows.append(r)
                settling.add(r.id)
                results.append(SettleResult(gen, r))
        if not settle_rows:
            return results
        fresh = {r.generation_id: r for r in self._settle_held(session, [r.generation_id for r in settle_rows],
                                                                 outcome, reason, now)}
        for res in results:
            if res.row is not None and res.generation_id in fresh and not res.conflict:
                res.row = fresh[res.generation_id]
        return results

    def _settle_held(self, session: Session, generation_ids: list[str], outcome: str, reason: str,
                     now: datetime) -> list:
        """Settle those of these generations whose holds are still held (locking
        them), post the ledger transactions, emit UsageRecorded; returns the
        settled reservation rows. Unknown or already settled ones are skipped."""
        settled = self._settle_in_sql(session, generation_ids, outcome, reason, now)
        if not settled:
            return settled
        metrics.LEDGER_TRANSACTIONS.labels(_SETTLE_KIND[outcome][0]).inc(len(settled))
        metrics.SETTLEMENTS.labels(outcome).inc(len(settled))
        usage_outcome = {CAPTURED: epb.USAGE_OUTCOME_CAPTURED, RELEASED: epb.USAGE_OUTCOME_RELEASED,
                         EXPIRED: epb.USAGE_OUTCOME_EXPIRED}[outcome]
        ts = _ts(now)
        self._emit(session, TOPIC_USAGE, [
            (epb.UsageRecorded(user_id=r.user_id, generation_id=r.generation_id, reservation_id=r.id,
                               outcome=usage_outcome, rule=r.rule, allowance_units=r.allowance_units,
                               credits=r.credits, model=r.model, seconds=r.seconds, size=r.size, tier=r.tier,
                               occurred_at=ts), "reservation", r.user_id) for r in settled])
        return settled

    def _settle_in_sql(self, session: Session, generation_ids: list[str], outcome: str, reason: str,
                       now: datetime) -> list:
        """`_settle_held`'s ledger and reservation work, for thousands of holds in one statement (see _SETTLE)."""
        self.ledger.ids(session, [(PLATFORM, REVENUE, ALLOWANCE), (PLATFORM, REVENUE, CREDITS),
                                  (PLATFORM, ISSUED, ALLOWANCE)])  # opens them if missing
        rules = [{"unit": unit, "same_day": same_day, "platform": owner == PLATFORM, "kind": kind}
                 for unit in (ALLOWANCE, CREDITS) for same_day in (True, False)
                 for owner, kind in [_settle_destination("", outcome, unit, same_day)]]
        kind, what = _SETTLE_KIND[outcome]
        settled = session.execute(_SETTLE, {
            "gens": as_json(generation_ids), "rules": as_json(rules), "today": utc_day(now), "now": now,
            "kind": kind, "what": f" {what}", "outcome": outcome, "reason": reason}).all()
        if settled and not settled[0].legs_complete:  # a leg found no account: nothing may stay of this
            raise LedgerError(f"settling {len(settled)} holds: an account is missing")
        return settled

    def expire_stale(self, limit: int = 500) -> int:
        """Release holds past their expiry (the generation never finished)."""
        now = self.clock()
        with transaction(self.sessions) as session:
            ids = session.execute(select(reservations.c.generation_id)
                                  .where(reservations.c.status == HELD, reservations.c.expires_at < now)
                                  .order_by(reservations.c.expires_at).limit(limit)
                                  .with_for_update(skip_locked=True)).scalars().all()
            if ids:
                self.settle(session, list(ids), EXPIRED, "hold expired", now)
        return len(ids)

    # -- metering -------------------------------------------------------------

    def meter(self, session: Session, outcomes: list[tuple[str, str, str]]) -> None:
        """Apply generation outcomes (generation id, user id, completed |
        failed | canceled) from events, in the consumer's transaction."""
        now = self.clock()
        if not outcomes:
            return
        recorded_at = now.isoformat()  # one string for every row: no per-row JSON conversion
        insert_rows(session, generation_outcomes,
                    [{"generation_id": g, "user_id": u, "outcome": o, "recorded_at": recorded_at}
                     for g, u, o in outcomes], ignore_conflicts=True)
        # Holds no longer held (a redelivered or conflicting outcome) are skipped in SQL.
        for outcome, settled_as, reason in (("completed", CAPTURED, ""), ("failed", RELEASED, "failed"),
                                            ("canceled", RELEASED, "canceled")):
            ids = [g for g, _, o in outcomes if o == outcome]
            if ids:
                self._settle_held(session, ids, settled_as, reason, now)

    # -- balance --------------------------------------------------------------

    def balance(self, user_id: str, create: bool = True) -> BalanceView:
        now = self.clock()
        with transaction(self.sessions) as session:
            return self._balance(session, user_id, now, create)

    def _balance(self, session: Session, user_id: str, now: datetime, create: bool = True) -> BalanceView:
        user = self._lock_user(session, user_id, create=create)
        plan, _ = self._plan_for(session, user_id, now)
        granted = self._ensure_day(session, user, plan, now)
        b = self.ledger.balances(session, user_accounts(user_id))
        remaining = b[(user_id, USER_ALLOWANCE, ALLOWANCE)]
        held = b[(user_id, USER_HELD, ALLOWANCE)]
        return BalanceView(user_id, b[(user_id, USER_CREDITS, CREDITS)], b[(user_id, USER_HELD, CREDITS)],
                           plan.daily_allowance, max(0, granted - remaining - held), held, remaining,
                           next_reset(now), plan)

    # -- purchases ------------------------------------------------------------

    def purchase(self, user_id: str, pack_id: str, token: str, idempotency_key: str = "",
                 expected_minor: int | None = None, expected_currency: str = ""):
        """Buy a credit pack. Returns (purchase row, balance)."""
        pack = self.packs.get(pack_id)
        if pack is None:
            raise NotFound(f"there is no credit pack {pack_id!r}; ListCreditPacks shows the packs", "unknown_pack")
        if expected_currency and expected_currency.upper() != self.settings.currency:
            raise InvalidArgument(f"currency mismatch: packs are priced in {self.settings.currency}, "
                                  f"not {expected_currency}", "currency_mismatch")
        if expected_minor is not None and expected_minor != pack.price_minor:
            raise FailedPrecondition(f"the {pack_id} pack costs {pack.price_minor} minor units, "
                                     f"not {expected_minor}; refresh the price and try again", "price_changed")
        if len(idempotency_key) > 128:
            raise InvalidArgument("the idempotency key is too long (at most 128 characters)", "invalid_idempotency_key")
        self.provider.check_token(token)
        now = self.clock()
        with transaction(self.sessions) as session:
            self._lock_user(session, user_id, create=True)
            existing = None
            if idempotency_key:
                existing = session.execute(select(purchases).where(
                    purchases.c.user_id == user_id, purchases.c.idempotency_key == idempotency_key)).first()
                if existing is not None:
                    if existing.pack_id != pack_id:
                        raise Conflict("this idempotency key was used for a different pack", "idempotency_conflict")
                    # Asked before but never answered (provider unreachable, or a crash between the two
                    # transactions): ask again under the same reference, which the provider's
                    # idempotency key comes from, so it answers what it did the first time.
                    unanswered = (existing.status == "pending" and existing.provider_payment_id is None
                                  and existing.provider == self.provider.name)
                    if not unanswered:
                        return existing, self._balance(session, user_id, now)
            if existing is None:
                purchase_id = str(uuid.uuid4())
                session.execute(purchases.insert().values(
                    id=purchase_id, user_id=user_id, pack_id=pack_id, credits=pack.credits,
                    amount_minor=pack.price_minor, currency=self.settings.currency, status="pending",
                    provider=self.provider.name, idempotency_key=idempotency_key or None, created_at=now,
                    updated_at=now))
            else:
                purchase_id = existing.id
        try:
            result = self.provider.charge(token, pack.price_minor, self.settings.currency, purchase_id, user_id)
        except OutcomeUnknown:
            raise  # stays pending until the provider's webhook or a retry settles it
        except KinoraError as refused:  # nothing was charged: say so on the purchase
            with transaction(self.sessions) as session:
                session.execute(update(purchases).where(purchases.c.id == purchase_id, purchases.c.status == "pending",
                                                        purchases.c.provider_payment_id.is_(None))
                                .values(status="failed", failure_message=refused.message[:500], updated_at=now))
            raise
        with transaction(self.sessions) as session:
            p = session.execute(select(purchases).where(purchases.c.id == purchase_id).with_for_update()).one()
            session.execute(update(purchases).where(purchases.c.id == purchase_id)
                            .values(provider_payment_id=result.payment_id or p.provider_payment_id, updated_at=now))
            if p.status == "pending":  # a webhook may have been faster
                if result.status == SUCCEEDED:
                    self._complete_purchase(session, p, now)
                elif result.status == DECLINED:
                    self._set_purchase(session, purchase_id, "declined", now, result.message)
            return (session.execute(select(purchases).where(purchases.c.id == purchase_id)).one(),
                    self._balance(session, user_id, now))

    def _set_purchase(self, session, purchase_id, status, now, message=""):
        session.execute(update(purchases).where(purchases.c.id == purchase_id)
                        .values(status=status, failure_message=message, updated_at=now))

    def _complete_purchase(self, session: Session, p, now: datetime) -> None:
        cur = p.currency
        self._post(session, [Posting("purchase", [
            ((p.user_id, USER_CREDITS, CREDITS), p.credits), ((PLATFORM, ISSUED, CREDITS), -p.credits),
            ((PLATFORM, CLEARING, cur), p.amount_minor), ((PLATFORM, REVENUE, cur), -p.amount_minor)],
            user_id=p.user_id, purchase_id=p.id, description=f"bought the {p.pack_id} pack")], now)
        self._set_purchase(session, p.id, "succeeded", now)
        self._emit(session, TOPIC_PAYMENTS, [(epb.CreditsPurchased(
            user_id=p.user_id, purchase_id=p.id, pack_id=p.pack_id, credits=p.credits,
            amount=cpb.Money(amount_minor=p.amount_minor, currency=cur), occurred_at=_ts(now)),
            "purchase", p.user_id)])

    def refund(self, purchase_id: str, reason: str, user_id: str | None):
        """Refund a purchase whose credits are still unused. user_id None = a
        service acting (support tooling); otherwise it must be the buyer's."""
        now = self.clock()
        with transaction(self.sessions) as session:
            p = session.execute(select(purchases).where(purchases.c.id == purchase_id).with_for_update()).first()
            if p is None or (user_id is not None and p.user_id != user_id):
                raise NotFound(f"purchase {purchase_id} does not exist", "unknown_purchase")
            if p.status == "refunded":
                return p
            if p.status != "succeeded":
                raise FailedPrecondition(f"purchase {purchase_id} is {p.status}; only paid purchases can be refunded",
                                         "not_refundable")
            self._lock_user(session, p.user_id)
            key = (p.user_id, USER_CREDITS, CREDITS)
            available = self.ledger.balances(session, [key], lock=True)[key]
            if available < p.credits:
                raise FailedPrecondition(f"only {available} of this purchase's {p.credits} credits are unused; "
                                         "a purchase can be refunded while its credits are unused", "credits_used")
            self.provider.refund(p.provider_payment_id, p.amount_minor, p.currency)
            self._post(session, [Posting("refund", [
                (key, -p.credits), ((PLATFORM, ISSUED, CREDITS), p.credits),
                ((PLATFORM, CLEARING, p.currency), -p.amount_minor), ((PLATFORM, REVENUE, p.currency), p.amount_minor)],
                user_id=p.user_id, purchase_id=p.id, description=f"refund: {reason[:200]}".strip())], now)
            self._set_purchase(session, p.id, "refunded", now)
            self._emit(session, TOPIC_PAYMENTS, [(epb.CreditsRefunded(
                user_id=p.user_id, purchase_id=p.id, credits=p.credits,
                amount=cpb.Money(amount_minor=p.amount_minor, currency=p.currency), reason=reason[:200],
                occurred_at=_ts(now)), "purchase", p.user_id)])
            return session.execute(select(purchases).where(purchases.c.id == purchase_id)).one()

    def handle_webhook(self, provider: str, payload: bytes, signature: str) -> tuple[str, bool]:
        """Apply a provider callback once. Returns (event id, duplicate)."""
        if provider != self.provider.name:
            raise InvalidArgument(f"unknown payment provider {provider!r}", "unknown_provider")
        if len(payload) > 64 * 1024:
            raise InvalidArgument("the webhook body is too large", "bad_webhook_body")
        event = self.provider.parse_webhook(payload, signature)
        if event.type == IGNORED:  # genuine, but about nothing billing sells: acknowledged, not stored
            return event.id, False
        now = self.clock()
        key = f"{provider}:{event.id}"
        try:
            with transaction(self.sessions) as session:
                if session.execute(select(payment_events.c.event_key).where(payment_events.c.event_key == key)).first():
                    return event.id, True
                session.execute(payment_events.insert().values(event_key=key, type=event.type,
                                                               provider_payment_id=event.payment_id, received_at=now))
                self._apply_webhook(session, event, now)
        except IntegrityError:  # the same event delivered twice at once
            return event.id, True
        return event.id, False

    def _apply_webhook(self, session: Session, event, now: datetime) -> None:
        p = session.execute(select(purchases).where(purchases.c.provider_payment_id == event.payment_id)
                            .with_for_update()).first()
        sub = None if p is not None else session.execute(
            select(subscriptions).where(subscriptions.c.provider_payment_id == event.payment_id).with_for_update()).first()
        if p is None and sub is None and event.reference:
            p = self._purchase_by_reference(session, event)
        if p is None and sub is None and event.reference and event.type == "payment.succeeded":
            sub = self._subscription_by_reference(session, event, now)
            if sub is not None:
                return  # recorded and paid from the provider's word
        if p is None and sub is None:
            raise InvalidArgument(f"the webhook is about payment {event.payment_id}, which billing does not know",
                                  "unknown_payment")
        currency, amount = (p.currency, p.amount_minor) if p is not None else (
            self.settings.currency, self.plans[sub.plan_id].price_minor)
        self._check_amount(event, amount, currency)
        if sub is not None:
            if sub.status == "past_due" and event.type == "payment.succeeded":
                self._post_subscription_payment(session, sub.user_id, sub.plan_id, sub.id, now)
                self._set_subscription(session, sub, "active", now)
            elif sub.status == "past_due" and event.type == "payment.failed":
                self._set_subscription(session, sub, "ended", now)
            elif sub.status != "ended" and event.type == "subscription.ended":  # ended at the provider
                self._set_subscription(session, sub, "ended", now)
            return
        if p.status == "pending" and event.type == "payment.succeeded":
            self._complete_purchase(session, p, now)
        elif p.status == "pending" and event.type == "payment.failed":
            self._set_purchase(session, p.id, "failed", now, event.message or "the payment failed")
        # Anything else confirms what already happened (e.g. refund.succeeded after Refund).

    @staticmethod
    def _check_amount(event, amount: int, currency: str) -> None:
        if event.currency != currency:
            raise InvalidArgument(f"currency mismatch: the payment is in {currency}, the webhook says {event.currency}",
                                  "currency_mismatch")
        if event.amount_minor != amount:
            raise InvalidArgument(f"amount mismatch: the payment is {amount}, the webhook says {event.amount_minor}",
                                  "amount_mismatch")

    def _purchase_by_reference(self, session: Session, event):
        """The purchase an event's reference (the provider metadata billing wrote) names, when
        billing never heard the provider's answer (unreachable, or a crash after the charge).
        Only a purchase of this provider still without a payment id, of the same user, qualifies:
        a payment can't be pinned on a purchase that was paid some other way."""
        p = session.execute(select(purchases).where(purchases.c.id == event.reference[:MAX_ID_LEN])
                            .with_for_update()).first()
        if (p is None or p.provider != self.provider.name or p.provider_payment_id is not None
                or event.user_id != p.user_id):
            return None
        self._check_amount(event, p.amount_minor, p.currency)
        session.execute(update(purchases).where(purchases.c.id == p.id)
                        .values(provider_payment_id=event.payment_id, updated_at=self.clock()))
        return session.execute(select(purchases).where(purchases.c.id == p.id)).one()

    def _subscription_by_reference(self, session: Session, event, now: datetime):
        """A paid subscription whose StartSubscription never heard the provider's answer: the
        event's reference is the subscription id billing chose, its metadata the user and plan."""
        plan = self.plans.get(event.plan_id)
        if plan is None or not plan.price_minor or not event.user_id:
            return None
        if session.execute(select(subscriptions.c.id).where(subscriptions.c.id == event.reference[:36])).first():
            return None  # that id is another payment's: refuse below
        self._check_amount(event, plan.price_minor, self.settings.currency)
        self._lock_user(session, event.user_id, create=True)
        return self._record_subscription(session, event.reference[:36], event.user_id, plan.id, SUCCEEDED,
                                         event.payment_id, None, now)

    # -- subscriptions --------------------------------------------------------

    def start_subscription(self, user_id: str, plan_id: str, token: str, idempotency_key: str = ""):
        plan = self.plans.get(plan_id)
        if plan is None or plan.price_minor == 0:
            raise NotFound(f"there is no paid plan {plan_id!r}; ListPlans shows the plans", "unknown_plan")
        if len(idempotency_key) > 128:
            raise InvalidArgument("the idempotency key is too long (at most 128 characters)", "invalid_idempotency_key")
        self.provider.check_token(token)
        now = self.clock()
        # The subscription's id is chosen before the provider is asked and is the provider's
        # reference (idempotency key, metadata): a retry with the same key asks again under the
        # same reference, and the provider's webhook can record a subscription billing never
        # heard back about.
        sub_id = str(uuid.uuid5(_SUBSCRIPTION_IDS, f"{user_id}\n{idempotency_key}")) if idempotency_key \
            else str(uuid.uuid4())
        with transaction(self.sessions) as session:
            self._lock_user(session, user_id, create=True)
            if idempotency_key:
                existing = session.execute(select(subscriptions).where(
                    subscriptions.c.user_id == user_id,
                    (subscriptions.c.idempotency_key == idempotency_key) | (subscriptions.c.id == sub_id))).first()
                if existing is not None:
                    return existing
            current = self._subscription(session, user_id, now)
            if current is not None:
                if current.status == "canceling":  # changed their mind: keep it running
                    return self._set_subscription(session, current, "active", now, cancel=False)
                raise FailedPrecondition(f"you already have {self.plans[current.plan_id].name} until "
                                         f"{current.current_period_end:%Y-%m-%d}", "already_subscribed")
        result = self.provider.subscribe(token, plan.price_minor, self.settings.currency, sub_id, user_id)
        if result.status == DECLINED:
            raise FailedPrecondition(f"the payment was declined: {result.message}", "payment_declined")
        with transaction(self.sessions) as session:
            self._lock_user(session, user_id)
            known = session.execute(select(subscriptions).where(
                (subscriptions.c.id == sub_id) | (subscriptions.c.provider_payment_id == result.payment_id))).first()
            if known is not None:  # the provider's webhook was faster
                return known
            return self._record_subscription(session, sub_id, user_id, plan_id, result.status, result.payment_id,
                                             idempotency_key or None, now)

    def _record_subscription(self, session, sub_id, user_id, plan_id, result_status, payment_id, idempotency_key,
                             now):
        plan = self.plans[plan_id]
        status = "active" if result_status == SUCCEEDED else "past_due"
        session.execute(subscriptions.insert().values(
            id=sub_id, user_id=user_id, plan_id=plan_id, status=status, current_period_start=now,
            current_period_end=now + timedelta(days=plan.period_days), cancel_at_period_end=False,
            provider_payment_id=payment_id, idempotency_key=idempotency_key, created_at=now, updated_at=now))
        sub = session.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).one()
        if result_status == SUCCEEDED:
            self._post_subscription_payment(session, user_id, plan_id, sub_id, now)
        self._emit_subscription(session, sub, cpb.TIER_FREE, now)
        return sub

    def _post_subscription_payment(self, session, user_id, plan_id, sub_id, now):
        plan, cur = self.plans[plan_id], self.settings.currency
        self._post(session, [Posting("subscription", [((PLATFORM, CLEARING, cur), plan.price_minor),
                                                      ((PLATFORM, REVENUE, cur), -plan.price_minor)],
                                     user_id=user_id, purchase_id=sub_id,
                                     description=f"{plan.name} for {plan.period_days} days")], now)

    def _set_subscription(self, session, sub, status: str, now: datetime, cancel: bool | None = None):
        values = {"status": status, "updated_at": now}
        if cancel is not None:
            values["cancel_at_period_end"] = cancel
        session.execute(update(subscriptions).where(subscriptions.c.id == sub.id).values(**values))
        fresh = session.execute(select(subscriptions).where(subscriptions.c.id == sub.id)).one()
        self._emit_subscription(session, fresh, _STATUS[sub.status], now)
        return fresh

    def _emit_subscription(self, session, sub, previous, now):
        tier = cpb.TIER_PRO if sub.status in ("active", "canceling") else cpb.TIER_FREE
        self._emit(session, TOPIC_PAYMENTS, [(epb.SubscriptionChanged(
            subscription=subscription_pb(sub), previous_status=previous, tier=tier, occurred_at=_ts(now)),
            "subscription", sub.user_id)])

    def cancel_subscription(self, user_id: str):
        now = self.clock()
        with transaction(self.sessions) as session:
            current = self._subscription(session, user_id, now)
            if current is None:
                raise FailedPrecondition("you have no active subscription to cancel", "no_subscription")
            if current.status == "canceling":
                return current
            return self._set_subscription(session, current, "canceling", now, cancel=True)

    def entitlements(self, user_id: str) -> tuple[Plan, object]:
        with self.sessions() as session:
            return self._plan_for(session, user_id, self.clock())

    def end_lapsed_subscriptions(self) -> int:
        """Subscriptions past their period end stop (renewal is not automatic)."""
        now = self.clock()
        with transaction(self.sessions) as session:
            rows = session.execute(select(subscriptions).where(
                subscriptions.c.status.in_(("active", "canceling")), subscriptions.c.current_period_end <= now)
                .with_for_update(skip_locked=True)).all()
            for sub in rows:
                self._set_subscription(session, sub, "ended", now)
        return len(rows)

    # -- statement ------------------------------------------------------------

    def statement(self, user_id: str, page_size: int = 0, page_token: str = "",
                  since: datetime | None = None, until: datetime | None = None):
        """A user's entries, newest first. Returns (rows, next page token)."""
        size = 50 if page_size <= 0 else min(page_size, 200)
        before = _decode_cursor(page_token) if page_token else None
        query = (select(ledger_entries.c.id, ledger_entries.c.transaction_id, ledger_entries.c.amount,
                        ledger_entries.c.balance_after, ledger_entries.c.created_at, ledger_entries.c.account_id,
                        accounts.c.kind.label("account_kind"), accounts.c.unit, ledger_transactions.c.kind,
                        ledger_transactions.c.generation_id, ledger_transactions.c.purchase_id,
                        ledger_transactions.c.description)
                 .join(accounts, accounts.c.id == ledger_entries.c.account_id)
                 .join(ledger_transactions, ledger_transactions.c.id == ledger_entries.c.transaction_id)
                 .where(accounts.c.owner == user_id)
                 .order_by(ledger_entries.c.id.desc()).limit(size + 1))
        if before is not None:
            query = query.where(ledger_entries.c.id < before)
        if since is not None:
            query = query.where(ledger_entries.c.created_at >= since)
        if until is not None:
            query = query.where(ledger_entries.c.created_at < until)
        with self.sessions() as session:
            rows = session.execute(query).all()
        more = len(rows) > size
        rows = rows[:size]
        return rows, (_encode_cursor(rows[-1].id) if more else "")

    # -- reconciliation -------------------------------------------------------

    def reconcile(self, grace_seconds: float | None = None, window_hours: float = 48.0) -> DriftReport:
        """Compare captures with completed generations and balances with
        entries. Sets the drift gauge; emits LedgerDriftDetected if any."""
        now = self.clock()
        grace = timedelta(seconds=self.settings.reconcile_grace_seconds if grace_seconds is None else grace_seconds)
        start = now - timedelta(hours=window_hours)
        report = DriftReport(str(uuid.uuid4()))
        with transaction(self.sessions) as session:
            r, o = reservations, generation_outcomes
            uncaptured = session.execute(
                select(o.c.generation_id, r.c.credits, r.c.allowance_units)
                .select_from(o.outerjoin(r, r.c.generation_id == o.c.generation_id))
                .where(o.c.outcome == "completed", o.c.recorded_at >= start,
                       (r.c.status.is_(None)) | (r.c.status != CAPTURED))).all()
            unmatched = session.execute(
                select(r.c.generation_id, r.c.credits, r.c.allowance_units)
                .select_from(r.outerjoin(o, and_(o.c.generation_id == r.c.generation_id, o.c.outcome == "completed")))
                .where(r.c.status == CAPTURED, r.c.settled_at >= start, r.c.settled_at < now - grace,
                       o.c.generation_id.is_(None))).all()
            sums = (select(ledger_entries.c.account_id, func.sum(ledger_entries.c.amount).label("total"))
                    .group_by(ledger_entries.c.account_id).subquery())
            mismatched = session.execute(
                select(accounts.c.id, accounts.c.balance, sums.c.total)
                .select_from(accounts.outerjoin(sums, sums.c.account_id == accounts.c.id))
                .where(accounts.c.balance != func.coalesce(sums.c.total, 0))).all()
            unbalanced = session.execute(
                select(ledger_entries.c.transaction_id, func.sum(ledger_entries.c.amount).label("total"))
                .join(accounts, accounts.c.id == ledger_entries.c.account_id)
                .group_by(ledger_entries.c.transaction_id, accounts.c.unit)
                .having(func.sum(ledger_entries.c.amount) != 0)).all()
            e, t = ledger_entries, ledger_transactions
            dangling = session.execute(
                select(e.c.id, e.c.amount)
                .select_from(e.outerjoin(accounts, accounts.c.id == e.c.account_id)
                             .outerjoin(t, t.c.id == e.c.transaction_id))
                .where(accounts.c.id.is_(None) | t.c.id.is_(None))).all()
            report.uncaptured_generation_ids = [x.generation_id for x in uncaptured]
            report.unmatched_capture_generation_ids = [x.generation_id for x in unmatched]
            report.mismatched_account_ids = [str(x.id) for x in mismatched]
            report.unbalanced_transaction_ids = sorted({x.transaction_id for x in unbalanced})
            report.dangling_entry_ids = [str(x.id) for x in dangling]
            report.drift = (sum((x.credits or 0) + (x.allowance_units or 1) for x in uncaptured)
                            + sum(x.credits + x.allowance_units for x in unmatched)
                            + sum(abs(x.balance - (x.total or 0)) for x in mismatched)
                            + sum(abs(x.total) for x in unbalanced)
                            + sum(abs(x.amount) or 1 for x in dangling))
            if report.drift:
                self._emit(session, TOPIC_RECONCILIATION, [(epb.LedgerDriftDetected(
                    run_id=report.run_id, uncaptured_generation_ids=report.uncaptured_generation_ids,
                    unmatched_capture_generation_ids=report.unmatched_capture_generation_ids,
                    mismatched_account_ids=(report.mismatched_account_ids + report.unbalanced_transaction_ids
                                            + [f"entry:{x}" for x in report.dangling_entry_ids]),
                    drift_credits=report.drift, window_start=_ts(start), window_end=_ts(now),
                    occurred_at=_ts(now)), "ledger", PLATFORM)])
        metrics.LEDGER_DRIFT.set(report.drift)
        return report


# Reserve's fast path (PostgreSQL, psycopg parameters; see _reserve_fast).
# The read is one snapshot; the write locks the user row, then the accounts in
# ascending id order (as the general path and Ledger.post do, so no
# deadlocks), and writes only if the day, the grant and both balances the
# decision was made on are unchanged. The CHECK on accounts still refuses a
# negative user balance.
_USER_STATE = """
SELECT a.id, a.kind, a.unit, a.balance, u.allowance_day, u.allowance_granted,
       (SELECT s.plan_id FROM subscriptions s
         WHERE s.user_id = %(uid)s AND s.status IN ('active', 'canceling') AND s.current_period_end > %(now)s
         ORDER BY s.current_period_end DESC LIMIT 1) AS plan_id,
       (SELECT r.user_id FROM reservations r WHERE r.generation_id = %(gen)s) AS reserved_for
FROM billing_users u JOIN accounts a ON a.owner = u.user_id
WHERE u.user_id = %(uid)s"""
_HOLD = """
WITH usr AS MATERIALIZED (
    SELECT 1 FROM billing_users
    WHERE user_id = %(uid)s AND allowance_day = %(day)s AND allowance_granted = %(granted)s FOR UPDATE),
locked AS MATERIALIZED (
    SELECT id, balance FROM accounts
    WHERE id IN (%(alw)s, %(cred)s, %(dst)s) AND EXISTS (SELECT 1 FROM usr) ORDER BY id FOR UPDATE),
ok AS MATERIALIZED (
    SELECT 1 FROM locked HAVING count(*) = 3
       AND bool_and(CASE id WHEN %(alw)s THEN balance = %(alw_seen)s WHEN %(cred)s THEN balance = %(cred_seen)s
                    ELSE true END)),
moved AS (
    UPDATE accounts a SET balance = l.balance + CASE WHEN a.id = %(src)s THEN -CAST(%(n)s AS BIGINT) ELSE %(n)s END
    FROM locked l, ok WHERE a.id = l.id AND a.id IN (%(src)s, %(dst)s) RETURNING a.id, a.balance),
tx AS (
    INSERT INTO ledger_transactions (id, kind, user_id, generation_id, description, created_at)
    SELECT %(tx)s, 'reserve', %(uid)s, %(gen)s, %(desc)s, %(now)s FROM ok),
entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
    SELECT %(tx)s, id, CASE WHEN id = %(src)s THEN -CAST(%(n)s AS BIGINT) ELSE %(n)s END, balance, %(now)s
    FROM moved)
INSERT INTO reservations (id, generation_id, user_id, status, rule, tier, allowance_units, credits, model, seconds,
                          size, quote_id, day, reason, created_at, expires_at)
SELECT %(rid)s, %(gen)s, %(uid)s, 'held', %(rule)s, %(tier)s, %(units)s, %(credits)s, %(model)s, %(seconds)s,
       %(size)s, NULL, %(day)s, '', %(now)s, %(expires)s
FROM ok
RETURNING *"""

# Settling a hold moves its units off the user's held account: (posting
# kind, description) per outcome, and where the units go (below).
_SETTLE_KIND = {CAPTURED: ("capture", "charged"), RELEASED: ("release", "returned"),
                EXPIRED: ("expire", "hold expired")}


def _settle_destination(user_id: str, outcome: str, unit: str, same_day: bool) -> tuple[str, str]:
    """(owner, kind) of the account a settled hold's units go to."""
    if outcome == CAPTURED:
        return PLATFORM, REVENUE
    if unit == CREDITS:
        return user_id, USER_CREDITS
    # An old day's allowance unit must not top up today's allowance.
    return (user_id, USER_ALLOWANCE) if same_day else (PLATFORM, ISSUED)


# Settling many holds at once: the generations' holds still held
# are locked (in generation id order, like `settle`); each gets its transaction and
# two entries per unit it holds (held -> the destination `rules` name); the
# touched accounts are locked in ascending id order like Ledger.post does,
# each entry records its running balance, each balance is updated once.
_SETTLE = text("""
WITH held AS MATERIALIZED (
    SELECT r.id, r.generation_id, r.user_id, r.allowance_units, r.credits, r.day FROM reservations r
    WHERE r.generation_id = ANY(ARRAY(SELECT json_array_elements_text(CAST(:gens AS json)))) AND r.status = 'held'
    ORDER BY r.generation_id FOR UPDATE),
s AS MATERIALIZED (
    SELECT id, generation_id, user_id, allowance_units, credits, day = :today AS same_day,
           CAST(gen_random_uuid() AS TEXT) AS tx, row_number() OVER (ORDER BY generation_id) AS seq
    FROM held),
rules AS (
    SELECT * FROM json_to_recordset(CAST(:rules AS json)) AS x(unit text, same_day boolean, platform boolean,
                                                               kind text)),
moves AS (
    SELECT s.*, rules.*, CASE WHEN rules.unit = 'allowance' THEN s.allowance_units ELSE s.credits END AS amount
    FROM s JOIN rules ON rules.same_day = s.same_day),
legs AS MATERIALIZED (
    SELECT m.tx, m.seq, src.id AS account_id, -m.amount AS amount, 0 AS leg
    FROM moves m JOIN accounts src ON src.owner = m.user_id AND src.kind = 'held' AND src.unit = m.unit
    WHERE m.amount <> 0
    UNION ALL
    SELECT m.tx, m.seq, dst.id, m.amount, 1
    FROM moves m JOIN accounts dst ON dst.owner = CASE WHEN m.platform THEN 'platform' ELSE m.user_id END
                                  AND dst.kind = m.kind AND dst.unit = m.unit
    WHERE m.amount <> 0),
locked AS MATERIALIZED (
    -- The platform's revenue accounts always come first (lowest ids), whatever the outcome: a
    -- metering batch settles its outcomes one statement at a time, and billing runs two consumer
    -- members, so no batch may hold a user's account while it waits for another batch.
    SELECT id, balance FROM accounts
    WHERE id IN (SELECT account_id FROM legs UNION ALL SELECT id FROM accounts WHERE owner = 'platform' AND kind = 'revenue')
    ORDER BY id FOR UPDATE),
moved AS (
    UPDATE accounts a SET balance = locked.balance + d.total
    FROM locked, (SELECT account_id, sum(amount) AS total FROM legs GROUP BY account_id) d
    WHERE a.id = locked.id AND d.account_id = locked.id),
txs AS (
    INSERT INTO ledger_transactions (id, kind, user_id, generation_id, description, created_at)
    SELECT tx, :kind, user_id, generation_id, 'generation ' || generation_id || :what, :now FROM s),
entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
    SELECT legs.tx, legs.account_id, legs.amount,
           locked.balance + sum(legs.amount) OVER (PARTITION BY legs.account_id ORDER BY legs.seq, legs.leg), :now
    FROM legs JOIN locked ON locked.id = legs.account_id
    ORDER BY legs.seq, legs.leg)
UPDATE reservations r SET status = :outcome, settled_at = :now, reason = :reason
FROM s, (SELECT (SELECT count(*) FROM legs) = 2 * (SELECT count(*) FROM moves WHERE amount <> 0) AS complete) g
WHERE r.id = s.id
RETURNING r.*, g.complete AS legs_complete""")

_STATUS = {"active": bpb.SUBSCRIPTION_STATUS_ACTIVE, "canceling": bpb.SUBSCRIPTION_STATUS_CANCELING,
           "ended": bpb.SUBSCRIPTION_STATUS_ENDED, "past_due": bpb.SUBSCRIPTION_STATUS_PAST_DUE}


def subscription_pb(sub) -> bpb.Subscription:
    return bpb.Subscription(id=sub.id, user_id=sub.user_id, plan_id=sub.plan_id, status=_STATUS[sub.status],
                            current_period_start=_ts(sub.current_period_start),
                            current_period_end=_ts(sub.current_period_end),
                            cancel_at_period_end=bool(sub.cancel_at_period_end))


def _encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"stmt:{entry_id}".encode()).decode()


def _decode_cursor(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, _, value = text.partition(":")
        if prefix != "stmt" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("the page token is not one this server issued", "invalid_page_token") from None


