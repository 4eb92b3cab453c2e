"""A deleted account in billing (identity's UserDeleted): the ledger keeps every
amount (it must balance and be auditable), but nothing in billing names the
person any more. Their user id is replaced everywhere by the deletion's
anonymous id (the same in every row and every service, so the books still add
up per account), subscriptions end, price quotes and the allowance record go.
Held reservations keep running to their expiry under the anonymous id, which
releases them through the ordinary ledger path."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from services.billing.models import (
    accounts,
    billing_users,
    generation_outcomes,
    ledger_transactions,
    purchases,
    quotes,
    reservations,
    subscriptions,
)


def anonymise_user(s: Session, user_id: str, anonymous_id: str) -> None:
    """Idempotent: a second run finds no row under the old id."""
    if not anonymous_id or anonymous_id == user_id:
        raise ValueError("an account deletion needs a new anonymous id")
    now = datetime.now(UTC)
    s.execute(
        update(subscriptions)
        .where(subscriptions.c.user_id == user_id, subscriptions.c.status != "ended")
        .values(status="ended", cancel_at_period_end=True, current_period_end=now, updated_at=now)
    )
    for table, column in (
        (accounts, accounts.c.owner),
        (ledger_transactions, ledger_transactions.c.user_id),
        (reservations, reservations.c.user_id),
        (purchases, purchases.c.user_id),
        (subscriptions, subscriptions.c.user_id),
        (generation_outcomes, generation_outcomes.c.user_id),
    ):
        s.execute(update(table).where(column == user_id).values({column.name: anonymous_id}))
    s.execute(delete(quotes).where(quotes.c.user_id == user_id))
    s.execute(delete(billing_users).where(billing_users.c.user_id == user_id))
