"""Reservations: a generation's hold on one allowance unit or its price in
credits (Reserve, with a fast path), kept alive while the job waits (extend),
then captured, released or expired, one at a time or thousands at once
(metering of generation outcomes, the expiry sweep).

Every hold and settlement is a ledger posting in the same transaction as the
reservation row and its UsageRecorded event. Plain Python over SQLAlchemy; no
gRPC or Kafka here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import events_pb2 as epb
from kinora.runtime.bulk import as_json, insert_rows, one_of
from kinora.runtime.convert import timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from kinora.runtime.pgfast import PgStatements
from kinora.videospec import canonical_model
from services.billing import metrics
from services.billing.core import BillingCore, check_id, utc_day
from services.billing.ledger import (
    ALLOWANCE,
    CREDITS,
    ISSUED,
    PLATFORM,
    REVENUE,
    USER_ALLOWANCE,
    USER_CREDITS,
    USER_HELD,
    LedgerError,
    Posting,
)
from services.billing.models import generation_outcomes, quotes, reservations
from services.billing.plans import Offer, PlanRules
from services.billing.reservation_sql import HOLD, SETTLE, USER_STATE
from services.billing.topics import AGGREGATE_RESERVATION, TOPIC_USAGE

HELD, CAPTURED, RELEASED, EXPIRED = "held", "captured", "released", "expired"


@dataclass
class SettleResult:
    generation_id: str
    row: object | None  # the reservation after settling, None if unknown
    replayed: bool = False
    conflict: str = ""  # why it could not be settled this way


class Reservations:
    def __init__(self, core: BillingCore, rules: PlanRules):
        self.core, self.rules = core, rules
        # Reserve's fast path: its own per-thread connections.
        self.fast = PgStatements(core.sessions.kw["bind"].url.render_as_string(hide_password=False), namedtuple_row)

    def close(self) -> None:
        self.fast.close()

    def reserve(
        self,
        generation_id: str,
        user_id: str,
        model: str,
        seconds: int,
        size: str,
        quote_id: str = "",
        prefer_wait: bool = False,
    ) -> tuple[Any, bool]:
        """Hold one allowance unit or the price in credits. Idempotent by
        generation id. Returns (reservation row, replayed)."""
        check_id(generation_id, "generation id")
        model = canonical_model(model)  # as the quote stored it (kinora/videospec.py)
        now = self.core.clock()
        if not quote_id:
            held = self._reserve_fast(generation_id, user_id, model, seconds, size, prefer_wait, now)
            if held is not None:
                return held, False
        try:
            with transaction(self.core.sessions) as session:
                return self._reserve(session, generation_id, user_id, model, seconds, size, quote_id, prefer_wait, now)
        except IntegrityError:  # the same generation id reserved concurrently for another user
            with self.core.sessions() as session:
                existing = self._reservation(session, generation_id)
            if existing is None:
                raise
            if existing.user_id != user_id:
                raise Conflict(
                    f"generation {generation_id} is already reserved for another user", "reservation_conflict"
                ) from None
            return existing, True

    def _reservation(self, session: Session, generation_id: str, lock: bool = False) -> Row[Any] | None:
        query = select(reservations).where(reservations.c.generation_id == generation_id)
        return session.execute(query.with_for_update() if lock else query).first()

    def _reserve(
        self,
        session: Session,
        generation_id: str,
        user_id: str,
        model: str,
        seconds: int,
        size: str,
        quote_id: str,
        prefer_wait: bool,
        now: datetime,
    ) -> tuple[Row[Any], bool]:
        user = self.core.lock_user(session, user_id)  # serialises this user's reservations
        existing = self._reservation(session, generation_id)
        if existing is not None:
            if existing.user_id != user_id:
                raise Conflict(
                    f"generation {generation_id} is already reserved for another user", "reservation_conflict"
                )
            return existing, True
        plan, _ = self.rules.plan_for(session, user_id, now)
        self.rules.validate(plan, model, seconds, size)
        granted = self.rules.ensure_day(session, user, plan, now)
        offer = self._quoted_offer(session, user_id, quote_id, model, seconds, size, now) if quote_id else None
        if offer is not None and not self._affordable(session, user_id, offer):
            offer = None  # the quote can no longer be paid the way it said: price now
        if offer is None:
            offer = self.rules.price_now(session, user, plan, model, seconds, size, prefer_wait, granted, now)
        if offer.rule == bpb.PRICE_RULE_UNAVAILABLE:
            raise ResourceExhausted(offer.description, "insufficient_balance")
        if offer.uses_allowance:
            unit, units, credits = ALLOWANCE, 1, 0
            legs = [((user_id, USER_ALLOWANCE, ALLOWANCE), -1), ((user_id, USER_HELD, ALLOWANCE), 1)]
        else:
            unit, units, credits = CREDITS, 0, offer.price_credits
            legs = [((user_id, USER_CREDITS, CREDITS), -credits), ((user_id, USER_HELD, CREDITS), credits)]
        reservation_id = str(uuid.uuid4())
        row = {
            "id": reservation_id,
            "generation_id": generation_id,
            "user_id": user_id,
            "status": HELD,
            "rule": offer.rule,
            "tier": offer.tier,
            "allowance_units": units,
            "credits": credits,
            "model": model,
            "seconds": seconds,
            "size": size,
            "quote_id": quote_id or None,
            "day": utc_day(now),
            "created_at": now,
            "expires_at": now + timedelta(seconds=self.core.settings.hold_ttl_seconds),
        }
        held = session.execute(reservations.insert().values(**row).returning(*reservations.c)).one()
        self.core.post(
            session,
            [
                Posting(
                    "reserve",
                    legs,
                    user_id=user_id,
                    generation_id=generation_id,
                    description=f"hold {units or credits} {unit} for generation {generation_id}",
                )
            ],
            now,
        )
        metrics.RESERVATIONS.labels(bpb.PriceRule.Name(offer.rule)).inc()
        return held, False

    def _reserve_fast(
        self, generation_id: str, user_id: str, model: str, seconds: int, size: str, prefer_wait: bool, now: datetime
    ) -> Any:
        """The common Reserve (no quote, today's allowance already granted, a
        new generation id) in two statements outside any transaction: read the
        user's state, decide here, then ONE statement locks the user and the
        accounts, checks that what was read is unchanged, and posts the hold
        and the reservation. Returns None when the general path must decide
        (a replay, the first Reserve of the day, or a concurrent change); else the
        reservation, a psycopg namedtuple row."""
        check_id(user_id, "user id")
        rows = self.fast.fetch(USER_STATE, {"uid": user_id, "gen": generation_id, "now": now})
        if len(rows) != 4 or rows[0].reserved_for is not None:
            return None  # unknown user, missing accounts, a replay or a conflict
        first, today = rows[0], utc_day(now)
        plan = self.rules.plans[first.plan_id or "free"]
        if first.allowance_day != today or first.allowance_granted < plan.daily_allowance:
            return None  # the day's allowance must be granted first
        self.rules.validate(plan, model, seconds, size)
        by_key = {(r.kind, r.unit): r for r in rows}
        allowance, credits = by_key[(USER_ALLOWANCE, ALLOWANCE)], by_key[(USER_CREDITS, CREDITS)]
        offer = self.rules.offer(
            lambda: self.rules.cached_demand(now),
            plan,
            seconds,
            size,
            prefer_wait,
            first.allowance_granted,
            allowance.balance,
            credits.balance,
        )
        if offer.rule == bpb.PRICE_RULE_UNAVAILABLE:
            raise ResourceExhausted(offer.description, "insufficient_balance")
        if offer.uses_allowance:
            unit, units, amount, source = ALLOWANCE, 1, 1, allowance
        else:
            unit, units, amount, source = CREDITS, 0, offer.price_credits, credits
        try:
            held = self.fast.fetch(
                HOLD,
                {
                    "uid": user_id,
                    "day": today,
                    "granted": first.allowance_granted,
                    "alw": allowance.id,
                    "alw_seen": allowance.balance,
                    "cred": credits.id,
                    "cred_seen": credits.balance,
                    "src": source.id,
                    "dst": by_key[(USER_HELD, unit)].id,
                    "n": amount,
                    "tx": str(uuid.uuid4()),
                    "gen": generation_id,
                    "desc": f"hold {amount} {unit} for generation {generation_id}",
                    "now": now,
                    "rid": str(uuid.uuid4()),
                    "rule": offer.rule,
                    "tier": offer.tier,
                    "units": units,
                    "credits": 0 if units else amount,
                    "model": model,
                    "seconds": seconds,
                    "size": size,
                    "expires": now + timedelta(seconds=self.core.settings.hold_ttl_seconds),
                },
            )
        except psycopg.errors.UniqueViolation:
            return None  # the same generation id reserved meanwhile: the general path replays it
        if not held:
            return None  # the user's balances or day changed since the read
        metrics.LEDGER_TRANSACTIONS.labels("reserve").inc()
        metrics.RESERVATIONS.labels(bpb.PriceRule.Name(offer.rule)).inc()
        return held[0]

    def _quoted_offer(
        self, session: Session, user_id: str, quote_id: str, model: str, seconds: int, size: str, now: datetime
    ) -> Offer | None:
        q = session.execute(select(quotes).where(quotes.c.id == quote_id)).first()
        if q is None or q.user_id != user_id:
            raise NotFound(f"quote {quote_id} does not exist", "unknown_quote")
        if (q.model, q.seconds, q.size) != (model, seconds, size):
            raise InvalidArgument(
                f"quote {quote_id} was for {q.model} {q.seconds} s {q.size}, not {model} {seconds} s {size}",
                "quote_mismatch",
            )
        if q.expires_at <= now or q.rule == bpb.PRICE_RULE_UNAVAILABLE:
            return None
        return Offer(q.rule, q.price_credits, q.tier, q.description, q.estimated_wait_seconds)

    def _affordable(self, session: Session, user_id: str, offer: Offer) -> bool:
        key = (user_id, USER_ALLOWANCE, ALLOWANCE) if offer.uses_allowance else (user_id, USER_CREDITS, CREDITS)
        need = 1 if offer.uses_allowance else offer.price_credits
        return self.core.ledger.balances(session, [key])[key] >= need

    def extend(self, generation_id: str) -> Row[Any] | None:
        """Push a held reservation's expiry to now + the hold TTL (a queued job
        renews its hold while it waits). A hold already settled, or past its
        expiry though the sweep has not run yet, is never revived: the latter
        is expired here and both are refused, so the job is not run free."""
        check_id(generation_id, "generation id")
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            r = self._reservation(session, generation_id, lock=True)
            if r is None:
                raise NotFound(f"generation {generation_id} has no reservation", "unknown_reservation")
            lapsed = r.status == HELD and r.expires_at <= now
            if lapsed:
                self.settle(session, [generation_id], EXPIRED, "hold expired", now)
            elif r.status == HELD:
                session.execute(
                    update(reservations)
                    .where(reservations.c.id == r.id)
                    .values(expires_at=now + timedelta(seconds=self.core.settings.hold_ttl_seconds))
                )
                return self._reservation(session, generation_id)
        status = EXPIRED if lapsed else r.status
        raise FailedPrecondition(f"generation {generation_id}'s hold was already {status}", "reservation_settled")

    def capture(self, generation_id: str) -> tuple[object, bool]:
        return self._settle_one(generation_id, CAPTURED, "")

    def release(self, generation_id: str, reason: str = "") -> tuple[object, bool]:
        return self._settle_one(generation_id, RELEASED, reason[:64])

    def _settle_one(self, generation_id: str, outcome: str, reason: str) -> tuple[object, bool]:
        check_id(generation_id, "generation id")
        with transaction(self.core.sessions) as session:
            result = self.settle(session, [generation_id], outcome, reason, self.core.clock())[0]
        if result.row is None:
            raise NotFound(f"generation {generation_id} has no reservation", "unknown_reservation")
        if result.conflict:
            raise FailedPrecondition(result.conflict, "reservation_settled")
        return result.row, result.replayed

    def settle(
        self, session: Session, generation_ids: list[str], outcome: str, reason: str, now: datetime
    ) -> list[SettleResult]:
        """Capture, release or expire holds, many at once, in the caller's
        transaction, with a result per generation (metering needs none and
        calls `_settle_held`). Settling twice the same way is a replay;
        settling a hold already settled another way is a conflict (reported,
        nothing changes)."""
        ids = sorted(set(generation_ids))
        rows = session.execute(
            select(reservations)
            .where(one_of(reservations.c.generation_id, ids))
            .order_by(reservations.c.generation_id)
            .with_for_update()
        ).all()
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
        fresh = {
            r.generation_id: r
            for r in self._settle_held(session, [r.generation_id for r in settle_rows], outcome, reason, now)
        }
        for res in results:
            if res.row is not None and res.generation_id in fresh and not res.conflict:
                res.row = fresh[res.generation_id]
        return results

    def _settle_held(
        self, session: Session, generation_ids: list[str], outcome: str, reason: str, now: datetime
    ) -> Sequence[Row[Any]]:
        """Settle those of these generations whose holds are still held (locking
        them), post the ledger transactions, emit UsageRecorded; returns the
        settled reservation rows. Unknown or already settled ones are skipped."""
        settled = self._settle_in_sql(session, generation_ids, outcome, reason, now)
        if not settled:
            return settled
        metrics.LEDGER_TRANSACTIONS.labels(_SETTLE_KIND[outcome][0]).inc(len(settled))
        metrics.SETTLEMENTS.labels(outcome).inc(len(settled))
        usage_outcome = {
            CAPTURED: epb.USAGE_OUTCOME_CAPTURED,
            RELEASED: epb.USAGE_OUTCOME_RELEASED,
            EXPIRED: epb.USAGE_OUTCOME_EXPIRED,
        }[outcome]
        at = timestamp(now)
        self.core.emit(
            session,
            TOPIC_USAGE,
            [
                (
                    epb.UsageRecorded(
                        user_id=r.user_id,
                        generation_id=r.generation_id,
                        reservation_id=r.id,
                        outcome=usage_outcome,
                        rule=r.rule,
                        allowance_units=r.allowance_units,
                        credits=r.credits,
                        model=r.model,
                        seconds=r.seconds,
                        size=r.size,
                        tier=r.tier,
                        occurred_at=at,
                    ),
                    AGGREGATE_RESERVATION,
                    r.user_id,
                )
                for r in settled
            ],
        )
        return settled

    def _settle_in_sql(
        self, session: Session, generation_ids: list[str], outcome: str, reason: str, now: datetime
    ) -> Sequence[Row[Any]]:
        """`_settle_held`'s ledger and reservation work, for thousands of holds in one statement (see SETTLE)."""
        self.core.ledger.ids(
            session, [(PLATFORM, REVENUE, ALLOWANCE), (PLATFORM, REVENUE, CREDITS), (PLATFORM, ISSUED, ALLOWANCE)]
        )  # opens them if missing
        rules = [
            {"unit": unit, "same_day": same_day, "platform": owner == PLATFORM, "kind": kind}
            for unit in (ALLOWANCE, CREDITS)
            for same_day in (True, False)
            for owner, kind in [_settle_destination("", outcome, unit, same_day)]
        ]
        kind, what = _SETTLE_KIND[outcome]
        settled = session.execute(
            SETTLE,
            {
                "gens": as_json(generation_ids),
                "rules": as_json(rules),
                "today": utc_day(now),
                "now": now,
                "kind": kind,
                "what": f" {what}",
                "outcome": outcome,
                "reason": reason,
            },
        ).all()
        if settled and not settled[0].legs_complete:  # a leg found no account: nothing may stay of this
            raise LedgerError(f"settling {len(settled)} holds: an account is missing")
        return settled

    def expire_stale(self, limit: int = 500) -> int:
        """Release holds past their expiry (the generation never finished)."""
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            ids = (
                session.execute(
                    select(reservations.c.generation_id)
                    .where(reservations.c.status == HELD, reservations.c.expires_at < now)
                    .order_by(reservations.c.expires_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            if ids:
                self.settle(session, list(ids), EXPIRED, "hold expired", now)
        return len(ids)

    # -- metering -------------------------------------------------------------

    def meter(self, session: Session, outcomes: list[tuple[str, str, str]]) -> None:
        """Apply generation outcomes (generation id, user id, completed |
        failed | canceled) from events, in the consumer's transaction."""
        now = self.core.clock()
        if not outcomes:
            return
        recorded_at = now.isoformat()  # one string for every row: no per-row JSON conversion
        insert_rows(
            session,
            generation_outcomes,
            [{"generation_id": g, "user_id": u, "outcome": o, "recorded_at": recorded_at} for g, u, o in outcomes],
            ignore_conflicts=True,
        )
        # Holds no longer held (a redelivered or conflicting outcome) are skipped in SQL.
        for outcome, settled_as, reason in (
            ("completed", CAPTURED, ""),
            ("failed", RELEASED, "failed"),
            ("canceled", RELEASED, "canceled"),
        ):
            ids = [g for g, _, o in outcomes if o == outcome]
            if ids:
                self._settle_held(session, ids, settled_as, reason, now)


# Settling a hold moves its units off the user's held account: (posting
# kind, description) per outcome, and where the units go (below).
_SETTLE_KIND = {
    CAPTURED: ("capture", "charged"),
    RELEASED: ("release", "returned"),
    EXPIRED: ("expire", "hold expired"),
}


def _settle_destination(user_id: str, outcome: str, unit: str, same_day: bool) -> tuple[str, str]:
    """(owner, kind) of the account a settled hold's units go to."""
    if outcome == CAPTURED:
        return PLATFORM, REVENUE
    if unit == CREDITS:
        return user_id, USER_CREDITS
    # An old day's allowance unit must not top up today's allowance.
    return (user_id, USER_ALLOWANCE) if same_day else (PLATFORM, ISSUED)
