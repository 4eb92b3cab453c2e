"""Subscriptions: starting Pro through the payment provider (its id is chosen
first and is the provider's reference), recording it and its payment,
status changes with their SubscriptionChanged event, cancelling, and ending
those past their period.

Plain Python over SQLAlchemy; no gRPC or Kafka here."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import events_pb2 as epb
from kinora.common.v1 import common_pb2 as cpb
from kinora.runtime.convert import timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.billing.core import BillingCore
from services.billing.ledger import CLEARING, PLATFORM, REVENUE, Posting
from services.billing.models import subscriptions
from services.billing.payments import DECLINED, SUCCEEDED
from services.billing.plans import PlanRules
from services.billing.topics import AGGREGATE_SUBSCRIPTION, TOPIC_PAYMENTS

_SUBSCRIPTION_IDS = uuid.UUID("5b0f6c2e-8a4d-4d8e-9a57-3f1f0c6a9e21")  # uuid5 namespace: (user, idempotency key)


class Subscriptions:
    def __init__(self, core: BillingCore, rules: PlanRules):
        self.core, self.rules = core, rules

    def start_subscription(self, user_id: str, plan_id: str, token: str, idempotency_key: str = "") -> Row[Any]:
        plan = self.rules.plans.get(plan_id)
        if plan is None or plan.price_minor == 0:
            raise NotFound(f"there is no paid plan {plan_id!r}; ListPlans shows the plans", "unknown_plan")
        if len(idempotency_key) > 128:
            raise InvalidArgument("the idempotency key is too long (at most 128 characters)", "invalid_idempotency_key")
        self.core.provider.check_token(token)
        now = self.core.clock()
        # The subscription's id is chosen before the provider is asked and is the provider's
        # reference (idempotency key, metadata): a retry with the same key asks again under the
        # same reference, and the provider's webhook can record a subscription billing never
        # heard back about.
        sub_id = (
            str(uuid.uuid5(_SUBSCRIPTION_IDS, f"{user_id}\n{idempotency_key}"))
            if idempotency_key
            else str(uuid.uuid4())
        )
        with transaction(self.core.sessions) as session:
            self.core.lock_user(session, user_id, create=True)
            if idempotency_key:
                existing = session.execute(
                    select(subscriptions).where(
                        subscriptions.c.user_id == user_id,
                        (subscriptions.c.idempotency_key == idempotency_key) | (subscriptions.c.id == sub_id),
                    )
                ).first()
                if existing is not None:
                    return existing
            current = self.rules.current_subscription(session, user_id, now)
            if current is not None:
                if current.status == "canceling":  # changed their mind: keep it running
                    return self.set_subscription(session, current, "active", now, cancel=False)
                raise FailedPrecondition(
                    f"you already have {self.rules.plans[current.plan_id].name} until "
                    f"{current.current_period_end:%Y-%m-%d}",
                    "already_subscribed",
                )
        result = self.core.provider.subscribe(token, plan.price_minor, self.core.settings.currency, sub_id, user_id)
        if result.status == DECLINED:
            raise FailedPrecondition(f"the payment was declined: {result.message}", "payment_declined")
        with transaction(self.core.sessions) as session:
            self.core.lock_user(session, user_id)
            known = session.execute(
                select(subscriptions).where(
                    (subscriptions.c.id == sub_id) | (subscriptions.c.provider_payment_id == result.payment_id)
                )
            ).first()
            if known is not None:  # the provider's webhook was faster
                return known
            return self.record_subscription(
                session, sub_id, user_id, plan_id, result.status, result.payment_id, idempotency_key or None, now
            )

    def record_subscription(
        self,
        session: Session,
        sub_id: str,
        user_id: str,
        plan_id: str,
        result_status: str,
        payment_id: str,
        idempotency_key: str | None,
        now: datetime,
    ) -> Row[Any]:
        plan = self.rules.plans[plan_id]
        status = "active" if result_status == SUCCEEDED else "past_due"
        session.execute(
            subscriptions.insert().values(
                id=sub_id,
                user_id=user_id,
                plan_id=plan_id,
                status=status,
                current_period_start=now,
                current_period_end=now + timedelta(days=plan.period_days),
                cancel_at_period_end=False,
                provider_payment_id=payment_id,
                idempotency_key=idempotency_key,
                created_at=now,
                updated_at=now,
            )
        )
        sub = session.execute(select(subscriptions).where(subscriptions.c.id == sub_id)).one()
        if result_status == SUCCEEDED:
            self.post_subscription_payment(session, user_id, plan_id, sub_id, now)
        self._emit_subscription(session, sub, bpb.SUBSCRIPTION_STATUS_UNSPECIFIED, now)
        return sub

    def post_subscription_payment(
        self, session: Session, user_id: str, plan_id: str, sub_id: str, now: datetime
    ) -> None:
        plan, cur = self.rules.plans[plan_id], self.core.settings.currency
        self.core.post(
            session,
            [
                Posting(
                    "subscription",
                    [((PLATFORM, CLEARING, cur), plan.price_minor), ((PLATFORM, REVENUE, cur), -plan.price_minor)],
                    user_id=user_id,
                    purchase_id=sub_id,
                    description=f"{plan.name} for {plan.period_days} days",
                )
            ],
            now,
        )

    def set_subscription(
        self, session: Session, sub: Row[Any], status: str, now: datetime, cancel: bool | None = None
    ) -> Row[Any]:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if cancel is not None:
            values["cancel_at_period_end"] = cancel
        session.execute(update(subscriptions).where(subscriptions.c.id == sub.id).values(**values))
        fresh = session.execute(select(subscriptions).where(subscriptions.c.id == sub.id)).one()
        self._emit_subscription(session, fresh, _STATUS[sub.status], now)
        return fresh

    def _emit_subscription(self, session: Session, sub: Row[Any], previous: int, now: datetime) -> None:
        tier = cpb.TIER_PRO if sub.status in ("active", "canceling") else cpb.TIER_FREE
        self.core.emit(
            session,
            TOPIC_PAYMENTS,
            [
                (
                    epb.SubscriptionChanged(
                        # previous: the SubscriptionStatus before this change; UNSPECIFIED for a new subscription
                        subscription=subscription_pb(sub),
                        previous_status=cast(bpb.SubscriptionStatus, previous),
                        tier=tier,
                        occurred_at=timestamp(now),
                    ),
                    AGGREGATE_SUBSCRIPTION,
                    sub.user_id,
                )
            ],
        )

    def cancel_subscription(self, user_id: str) -> Row[Any]:
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            current = self.rules.current_subscription(session, user_id, now)
            if current is None:
                raise FailedPrecondition("you have no active subscription to cancel", "no_subscription")
            if current.status == "canceling":
                return current
            return self.set_subscription(session, current, "canceling", now, cancel=True)

    def end_lapsed_subscriptions(self) -> int:
        """Subscriptions past their period end stop (renewal is not automatic)."""
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            rows = session.execute(
                select(subscriptions)
                .where(subscriptions.c.status.in_(("active", "canceling")), subscriptions.c.current_period_end <= now)
                .with_for_update(skip_locked=True)
            ).all()
            for sub in rows:
                self.set_subscription(session, sub, "ended", now)
        return len(rows)


_STATUS = {
    "active": bpb.SUBSCRIPTION_STATUS_ACTIVE,
    "canceling": bpb.SUBSCRIPTION_STATUS_CANCELING,
    "ended": bpb.SUBSCRIPTION_STATUS_ENDED,
    "past_due": bpb.SUBSCRIPTION_STATUS_PAST_DUE,
}


def subscription_pb(sub: Row[Any]) -> bpb.Subscription:
    return bpb.Subscription(
        id=sub.id,
        user_id=sub.user_id,
        plan_id=sub.plan_id,
        status=_STATUS[sub.status],
        current_period_start=timestamp(sub.current_period_start),
        current_period_end=timestamp(sub.current_period_end),
        cancel_at_period_end=bool(sub.cancel_at_period_end),
    )
