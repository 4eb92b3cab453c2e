"""Purchases: buying a credit pack through the payment provider (the purchase
row is written before the provider is asked, so a retry or the provider's
webhook finds it), completing it into credits, and refunds of unused credits.

Plain Python over SQLAlchemy; no gRPC or Kafka here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from kinora.billing.v1 import events_pb2 as epb
from kinora.common.v1 import common_pb2 as cpb
from kinora.runtime.convert import timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, KinoraError, NotFound
from services.billing.core import BillingCore
from services.billing.ledger import CLEARING, CREDITS, ISSUED, PLATFORM, REVENUE, USER_CREDITS, Posting
from services.billing.models import purchases
from services.billing.payments import DECLINED, SUCCEEDED, OutcomeUnknown
from services.billing.plans import BalanceView, PlanRules
from services.billing.settings import PackSpec
from services.billing.topics import AGGREGATE_PURCHASE, TOPIC_PAYMENTS


class Purchases:
    def __init__(self, core: BillingCore, rules: PlanRules):
        self.core, self.rules = core, rules
        self.packs: dict[str, PackSpec] = {p.id: p for p in core.settings.packs}

    def purchase(
        self,
        user_id: str,
        pack_id: str,
        token: str,
        idempotency_key: str = "",
        expected_minor: int | None = None,
        expected_currency: str = "",
    ) -> tuple[Row[Any], BalanceView]:
        """Buy a credit pack. Returns (purchase row, balance)."""
        pack = self.packs.get(pack_id)
        if pack is None:
            raise NotFound(f"there is no credit pack {pack_id!r}; ListCreditPacks shows the packs", "unknown_pack")
        if expected_currency and expected_currency.upper() != self.core.settings.currency:
            raise InvalidArgument(
                f"currency mismatch: packs are priced in {self.core.settings.currency}, not {expected_currency}",
                "currency_mismatch",
            )
        if expected_minor is not None and expected_minor != pack.price_minor:
            raise FailedPrecondition(
                f"the {pack_id} pack costs {pack.price_minor} minor units, "
                f"not {expected_minor}; refresh the price and try again",
                "price_changed",
            )
        if len(idempotency_key) > 128:
            raise InvalidArgument("the idempotency key is too long (at most 128 characters)", "invalid_idempotency_key")
        self.core.provider.check_token(token)
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            self.core.lock_user(session, user_id, create=True)
            existing = None
            if idempotency_key:
                existing = session.execute(
                    select(purchases).where(
                        purchases.c.user_id == user_id, purchases.c.idempotency_key == idempotency_key
                    )
                ).first()
                if existing is not None:
                    if existing.pack_id != pack_id:
                        raise Conflict("this idempotency key was used for a different pack", "idempotency_conflict")
                    # Asked before but never answered (provider unreachable, or a crash between the two
                    # transactions): ask again under the same reference, which the provider's
                    # idempotency key comes from, so it answers what it did the first time.
                    unanswered = (
                        existing.status == "pending"
                        and existing.provider_payment_id is None
                        and existing.provider == self.core.provider.name
                    )
                    if not unanswered:
                        return existing, self.rules.balance_in(session, user_id, now)
            if existing is None:
                purchase_id = str(uuid.uuid4())
                session.execute(
                    purchases.insert().values(
                        id=purchase_id,
                        user_id=user_id,
                        pack_id=pack_id,
                        credits=pack.credits,
                        amount_minor=pack.price_minor,
                        currency=self.core.settings.currency,
                        status="pending",
                        provider=self.core.provider.name,
                        idempotency_key=idempotency_key or None,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                purchase_id = existing.id
        try:
            result = self.core.provider.charge(
                token, pack.price_minor, self.core.settings.currency, purchase_id, user_id
            )
        except OutcomeUnknown:
            raise  # stays pending until the provider's webhook or a retry settles it
        except KinoraError as refused:  # nothing was charged: say so on the purchase
            with transaction(self.core.sessions) as session:
                session.execute(
                    update(purchases)
                    .where(
                        purchases.c.id == purchase_id,
                        purchases.c.status == "pending",
                        purchases.c.provider_payment_id.is_(None),
                    )
                    .values(status="failed", failure_message=refused.message[:500], updated_at=now)
                )
            raise
        with transaction(self.core.sessions) as session:
            p = session.execute(select(purchases).where(purchases.c.id == purchase_id).with_for_update()).one()
            session.execute(
                update(purchases)
                .where(purchases.c.id == purchase_id)
                .values(provider_payment_id=result.payment_id or p.provider_payment_id, updated_at=now)
            )
            if p.status == "pending":  # a webhook may have been faster
                if result.status == SUCCEEDED:
                    self.complete_purchase(session, p, now)
                elif result.status == DECLINED:
                    self.set_purchase(session, purchase_id, "declined", now, result.message)
            return (
                session.execute(select(purchases).where(purchases.c.id == purchase_id)).one(),
                self.rules.balance_in(session, user_id, now),
            )

    def set_purchase(self, session: Session, purchase_id: str, status: str, now: datetime, message: str = "") -> None:
        session.execute(
            update(purchases)
            .where(purchases.c.id == purchase_id)
            .values(status=status, failure_message=message, updated_at=now)
        )

    def complete_purchase(self, session: Session, p: Row[Any], now: datetime) -> None:
        cur = p.currency
        self.core.post(
            session,
            [
                Posting(
                    "purchase",
                    [
                        ((p.user_id, USER_CREDITS, CREDITS), p.credits),
                        ((PLATFORM, ISSUED, CREDITS), -p.credits),
                        ((PLATFORM, CLEARING, cur), p.amount_minor),
                        ((PLATFORM, REVENUE, cur), -p.amount_minor),
                    ],
                    user_id=p.user_id,
                    purchase_id=p.id,
                    description=f"bought the {p.pack_id} pack",
                )
            ],
            now,
        )
        self.set_purchase(session, p.id, "succeeded", now)
        self.core.emit(
            session,
            TOPIC_PAYMENTS,
            [
                (
                    epb.CreditsPurchased(
                        user_id=p.user_id,
                        purchase_id=p.id,
                        pack_id=p.pack_id,
                        credits=p.credits,
                        amount=cpb.Money(amount_minor=p.amount_minor, currency=cur),
                        occurred_at=timestamp(now),
                    ),
                    AGGREGATE_PURCHASE,
                    p.user_id,
                )
            ],
        )

    def refund(self, purchase_id: str, reason: str, user_id: str | None) -> Row[Any]:
        """Refund a purchase whose credits are still unused. user_id None = a
        service acting (support tooling); otherwise it must be the buyer's."""
        now = self.core.clock()
        with transaction(self.core.sessions) as session:
            p = session.execute(select(purchases).where(purchases.c.id == purchase_id).with_for_update()).first()
            if p is None or (user_id is not None and p.user_id != user_id):
                raise NotFound(f"purchase {purchase_id} does not exist", "unknown_purchase")
            if p.status == "refunded":
                return p
            if p.status != "succeeded":
                raise FailedPrecondition(
                    f"purchase {purchase_id} is {p.status}; only paid purchases can be refunded", "not_refundable"
                )
            self.core.lock_user(session, p.user_id)
            key = (p.user_id, USER_CREDITS, CREDITS)
            available = self.core.ledger.balances(session, [key], lock=True)[key]
            if available < p.credits:
                raise FailedPrecondition(
                    f"only {available} of this purchase's {p.credits} credits are unused; "
                    "a purchase can be refunded while its credits are unused",
                    "credits_used",
                )
            self.core.provider.refund(p.provider_payment_id, p.amount_minor, p.currency)
            self.core.post(
                session,
                [
                    Posting(
                        "refund",
                        [
                            (key, -p.credits),
                            ((PLATFORM, ISSUED, CREDITS), p.credits),
                            ((PLATFORM, CLEARING, p.currency), -p.amount_minor),
                            ((PLATFORM, REVENUE, p.currency), p.amount_minor),
                        ],
                        user_id=p.user_id,
                        purchase_id=p.id,
                        description=f"refund: {reason[:200]}".strip(),
                    )
                ],
                now,
            )
            self.set_purchase(session, p.id, "refunded", now)
            self.core.emit(
                session,
                TOPIC_PAYMENTS,
                [
                    (
                        epb.CreditsRefunded(
                            user_id=p.user_id,
                            purchase_id=p.id,
                            credits=p.credits,
                            amount=cpb.Money(amount_minor=p.amount_minor, currency=p.currency),
                            reason=reason[:200],
                            occurred_at=timestamp(now),
                        ),
                        AGGREGATE_PURCHASE,
                        p.user_id,
                    )
                ],
            )
            return session.execute(select(purchases).where(purchases.c.id == purchase_id)).one()
