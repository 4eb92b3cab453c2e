"""The payment provider's webhooks: each event applied once (recorded by its
key in the same transaction), to the purchase or subscription it is about,
including one billing never heard the provider's answer for.

Plain Python over SQLAlchemy; no gRPC or Kafka here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kinora.runtime.db import transaction
from kinora.runtime.errors import InvalidArgument
from services.billing.core import MAX_ID_LEN, BillingCore
from services.billing.models import payment_events, purchases, subscriptions
from services.billing.payments import IGNORED, SUCCEEDED, WebhookEvent
from services.billing.plans import PlanRules
from services.billing.purchases import Purchases
from services.billing.subscriptions import Subscriptions


def check_amount(event: WebhookEvent, amount: int, currency: str) -> None:
    if event.currency != currency:
        raise InvalidArgument(
            f"currency mismatch: the payment is in {currency}, the webhook says {event.currency}", "currency_mismatch"
        )
    if event.amount_minor != amount:
        raise InvalidArgument(
            f"amount mismatch: the payment is {amount}, the webhook says {event.amount_minor}", "amount_mismatch"
        )


class Webhooks:
    def __init__(self, core: BillingCore, rules: PlanRules, purchase_flow: Purchases, subscription_flow: Subscriptions):
        self.core, self.rules = core, rules
        self.purchase_flow, self.subscription_flow = purchase_flow, subscription_flow

    def handle_webhook(self, provider: str, payload: bytes, signature: str) -> tuple[str, bool]:
        """Apply a provider callback once. Returns (event id, duplicate)."""
        if provider != self.core.provider.name:
            raise InvalidArgument(f"unknown payment provider {provider!r}", "unknown_provider")
        if len(payload) > 64 * 1024:
            raise InvalidArgument("the webhook body is too large", "bad_webhook_body")
        event = self.core.provider.parse_webhook(payload, signature)
        if event.type == IGNORED:  # genuine, but about nothing billing sells: acknowledged, not stored
            return event.id, False
        now = self.core.clock()
        key = f"{provider}:{event.id}"
        try:
            with transaction(self.core.sessions) as session:
                if session.execute(select(payment_events.c.event_key).where(payment_events.c.event_key == key)).first():
                    return event.id, True
                session.execute(
                    payment_events.insert().values(
                        event_key=key, type=event.type, provider_payment_id=event.payment_id, received_at=now
                    )
                )
                self._apply_webhook(session, event, now)
        except IntegrityError:  # the same event delivered twice at once
            return event.id, True
        return event.id, False

    def _apply_webhook(self, session: Session, event: WebhookEvent, now: datetime) -> None:
        p = session.execute(
            select(purchases).where(purchases.c.provider_payment_id == event.payment_id).with_for_update()
        ).first()
        sub = (
            None
            if p is not None
            else session.execute(
                select(subscriptions).where(subscriptions.c.provider_payment_id == event.payment_id).with_for_update()
            ).first()
        )
        if p is None and sub is None and event.reference:
            p = self._purchase_by_reference(session, event)
        if p is None and sub is None and event.reference and event.type == "payment.succeeded":
            sub = self._subscription_by_reference(session, event, now)
            if sub is not None:
                return  # recorded and paid from the provider's word
        if p is None and sub is None:
            raise InvalidArgument(
                f"the webhook is about payment {event.payment_id}, which billing does not know", "unknown_payment"
            )
        if p is not None:
            currency, amount = p.currency, p.amount_minor
        else:
            assert sub is not None  # one of the two was found
            currency, amount = self.core.settings.currency, self.rules.plans[sub.plan_id].price_minor
        check_amount(event, amount, currency)
        if sub is not None:
            if sub.status == "past_due" and event.type == "payment.succeeded":
                self.subscription_flow.post_subscription_payment(session, sub.user_id, sub.plan_id, sub.id, now)
                self.subscription_flow.set_subscription(session, sub, "active", now)
            elif sub.status == "past_due" and event.type == "payment.failed":
                self.subscription_flow.set_subscription(session, sub, "ended", now)
            elif sub.status != "ended" and event.type == "subscription.ended":  # ended at the provider
                self.subscription_flow.set_subscription(session, sub, "ended", now)
            return
        assert p is not None  # no subscription: it is a purchase
        if p.status == "pending" and event.type == "payment.succeeded":
            self.purchase_flow.complete_purchase(session, p, now)
        elif p.status == "pending" and event.type == "payment.failed":
            self.purchase_flow.set_purchase(session, p.id, "failed", now, event.message or "the payment failed")
        # Anything else confirms what already happened (e.g. refund.succeeded after Refund).

    def _purchase_by_reference(self, session: Session, event: WebhookEvent) -> Row[Any] | None:
        """The purchase an event's reference (the provider metadata billing wrote) names, when
        billing never heard the provider's answer (unreachable, or a crash after the charge).
        Only a purchase of this provider still without a payment id, of the same user, qualifies:
        a payment can't be pinned on a purchase that was paid some other way."""
        p = session.execute(
            select(purchases).where(purchases.c.id == event.reference[:MAX_ID_LEN]).with_for_update()
        ).first()
        if (
            p is None
            or p.provider != self.core.provider.name
            or p.provider_payment_id is not None
            or event.user_id != p.user_id
        ):
            return None
        check_amount(event, p.amount_minor, p.currency)
        session.execute(
            update(purchases)
            .where(purchases.c.id == p.id)
            .values(provider_payment_id=event.payment_id, updated_at=self.core.clock())
        )
        return session.execute(select(purchases).where(purchases.c.id == p.id)).one()

    def _subscription_by_reference(self, session: Session, event: WebhookEvent, now: datetime) -> Row[Any] | None:
        """A paid subscription whose StartSubscription never heard the provider's answer: the
        event's reference is the subscription id billing chose, its metadata the user and plan."""
        plan = self.rules.plans.get(event.plan_id)
        if plan is None or not plan.price_minor or not event.user_id:
            return None
        if session.execute(select(subscriptions.c.id).where(subscriptions.c.id == event.reference[:36])).first():
            return None  # that id is another payment's: refuse below
        check_amount(event, plan.price_minor, self.core.settings.currency)
        self.core.lock_user(session, event.user_id, create=True)
        return self.subscription_flow.record_subscription(
            session, event.reference[:36], event.user_id, plan.id, SUCCEEDED, event.payment_id, None, now
        )
