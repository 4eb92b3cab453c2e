"""Billing's public front: `Billing` puts the rooms together and is what the
server, the event handlers and the tests call. Each rule lives in its room:

- core.py: shared state (settings, database, ledger, clock, payment provider),
  a user's billing row and accounts, ledger postings, outbox events, the UTC day;
- plans.py (PlanRules): plans, the daily allowance, what each plan allows,
  demand pricing, quotes, balances and entitlements;
- reservations.py (+ reservation_sql.py): holds, extend, capture, release,
  expiry, metering of generation outcomes;
- purchases.py: credit packs bought and refunded;
- subscriptions.py: Pro started, cancelled, ended;
- webhooks.py: the payment provider's callbacks;
- statements.py: statements and reconciliation;
- topics.py: billing's topics and event aggregate types.

Plain Python over SQLAlchemy; no gRPC or Kafka here. Every change of money,
credits or allowance is a ledger posting (see ledger.py) made in the same
database transaction as the row it belongs to, and its outbox event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session, sessionmaker

from kinora.generator.v1 import events_pb2 as gen_events
from kinora.runtime.events import EventTables
from services.billing.core import BillingCore
from services.billing.payments import PaymentProvider
from services.billing.plans import BalanceView, Plan, PlanRules
from services.billing.purchases import Purchases
from services.billing.reservations import Reservations, SettleResult
from services.billing.settings import BillingSettings
from services.billing.statements import DriftReport, Statements
from services.billing.subscriptions import Subscriptions
from services.billing.webhooks import Webhooks


class Billing:
    def __init__(
        self,
        settings: BillingSettings,
        sessions: sessionmaker[Session],
        event_tables: EventTables,
        provider: PaymentProvider,
        clock: Callable[[], datetime] | None = None,
    ):
        self.core = core = BillingCore(settings, sessions, event_tables, provider, clock)
        self.rules = PlanRules(core)
        self.reservations = Reservations(core, self.rules)
        self.purchases = Purchases(core, self.rules)
        self.subscriptions = Subscriptions(core, self.rules)
        self.webhooks = Webhooks(core, self.rules, self.purchases, self.subscriptions)
        self.statements = Statements(core)
        self.settings, self.sessions, self.event_tables, self.provider = settings, sessions, event_tables, provider
        self.clock, self.ledger = core.clock, core.ledger
        self.plans, self.packs, self.fast = self.rules.plans, self.purchases.packs, self.reservations.fast

    def close(self) -> None:
        self.reservations.close()

    # -- users, plans, pricing (plans.py) --------------------------------------

    def prepare(self) -> None:
        self.core.prepare()

    def open_user(self, session: Session, user_id: str) -> None:
        self.core.open_user(session, user_id)

    def record_demand(self, session: Session, message: gen_events.DemandChanged) -> None:
        self.rules.record_demand(session, message)

    def credits_for(self, seconds: int, size: str) -> int:
        return self.rules.credits_for(seconds, size)

    def quote(self, user_id: str, model: str, seconds: int, size: str, prefer_wait: bool = False) -> Row[Any]:
        return self.rules.quote(user_id, model, seconds, size, prefer_wait)

    def balance(self, user_id: str, create: bool = True) -> BalanceView:
        return self.rules.balance(user_id, create)

    def entitlements(self, user_id: str) -> tuple[Plan, object]:
        return self.rules.entitlements(user_id)

    # -- reservations (reservations.py) ----------------------------------------

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
        return self.reservations.reserve(generation_id, user_id, model, seconds, size, quote_id, prefer_wait)

    def extend(self, generation_id: str) -> Row[Any] | None:
        return self.reservations.extend(generation_id)

    def capture(self, generation_id: str) -> tuple[object, bool]:
        return self.reservations.capture(generation_id)

    def release(self, generation_id: str, reason: str = "") -> tuple[object, bool]:
        return self.reservations.release(generation_id, reason)

    def settle(
        self, session: Session, generation_ids: list[str], outcome: str, reason: str, now: datetime
    ) -> list[SettleResult]:
        return self.reservations.settle(session, generation_ids, outcome, reason, now)

    def meter(self, session: Session, outcomes: list[tuple[str, str, str]]) -> None:
        self.reservations.meter(session, outcomes)

    def expire_stale(self, limit: int = 500) -> int:
        return self.reservations.expire_stale(limit)

    def _reservation(self, session: Session, generation_id: str, lock: bool = False) -> Row[Any] | None:
        return self.reservations._reservation(session, generation_id, lock)

    # -- purchases, subscriptions, webhooks ------------------------------------

    def purchase(
        self,
        user_id: str,
        pack_id: str,
        token: str,
        idempotency_key: str = "",
        expected_minor: int | None = None,
        expected_currency: str = "",
    ) -> tuple[Row[Any], BalanceView]:
        return self.purchases.purchase(user_id, pack_id, token, idempotency_key, expected_minor, expected_currency)

    def refund(self, purchase_id: str, reason: str, user_id: str | None) -> Row[Any]:
        return self.purchases.refund(purchase_id, reason, user_id)

    def start_subscription(self, user_id: str, plan_id: str, token: str, idempotency_key: str = "") -> Row[Any]:
        return self.subscriptions.start_subscription(user_id, plan_id, token, idempotency_key)

    def cancel_subscription(self, user_id: str) -> Row[Any]:
        return self.subscriptions.cancel_subscription(user_id)

    def end_lapsed_subscriptions(self) -> int:
        return self.subscriptions.end_lapsed_subscriptions()

    def handle_webhook(self, provider: str, payload: bytes, signature: str) -> tuple[str, bool]:
        return self.webhooks.handle_webhook(provider, payload, signature)

    # -- statements (statements.py) ---------------------------------------------

    def statement(
        self,
        user_id: str,
        page_size: int = 0,
        page_token: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[Sequence[Any], str]:
        return self.statements.statement(user_id, page_size, page_token, since, until)

    def reconcile(self, grace_seconds: float | None = None, window_hours: float = 48.0) -> DriftReport:
        return self.statements.reconcile(grace_seconds, window_hours)
