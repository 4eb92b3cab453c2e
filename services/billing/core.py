"""What every billing room shares: the settings, the database, the ledger,
the clock and the payment provider (BillingCore), and the few rules all of
them apply: a user's billing row and accounts, ledger postings with their
metrics, outbox events, ids and the UTC day.

The day: allowances are per UTC calendar day and reset at 00:00 UTC for
everyone. A hold uses the allowance of the day it was made on; released after
that day is over, the unit expires instead of returning to the new day."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import Row, select
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime.bulk import bytea, insert_ignore, insert_rows, random_uuids
from kinora.runtime.db import transaction
from kinora.runtime.errors import InvalidArgument, NotFound
from kinora.runtime.events import EventTables, event_type_of
from kinora.runtime.telemetry import inject_context
from services.billing import metrics
from services.billing.ledger import (
    ALLOWANCE,
    CLEARING,
    CREDITS,
    ISSUED,
    PLATFORM,
    REVENUE,
    Ledger,
    Posting,
    user_accounts,
)
from services.billing.models import billing_users
from services.billing.payments import PaymentProvider
from services.billing.settings import BillingSettings

MAX_ID_LEN = 64


def utc_day(now: datetime) -> date:
    return now.astimezone(UTC).date()


def next_reset(now: datetime) -> datetime:
    day = utc_day(now) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def check_id(value: str, what: str) -> str:
    if not value or len(value) > MAX_ID_LEN:
        raise InvalidArgument(
            f"{what} is required (at most {MAX_ID_LEN} characters)", f"invalid_{what.replace(' ', '_')}"
        )
    return value


class BillingCore:
    def __init__(
        self,
        settings: BillingSettings,
        sessions: sessionmaker[Session],
        event_tables: EventTables,
        provider: PaymentProvider,
        clock: Callable[[], datetime] | None = None,
    ):
        self.settings, self.sessions, self.event_tables, self.provider = settings, sessions, event_tables, provider
        self.clock = clock or (lambda: datetime.now(UTC))
        self.ledger = Ledger()

    def emit(self, session: Session, topic: str, items: list[tuple[Message, str, str]]) -> None:
        """Outbox rows for (message, aggregate type, aggregate id) in one INSERT;
        same row shape as kinora.runtime.events.emit, batched for metering."""
        if not items:
            return
        headers = inject_context({})
        headers["time_ms"] = str(int(time.time() * 1000))
        encoded = json.dumps(headers)
        insert_rows(
            session,
            self.event_tables.outbox,
            [
                {
                    "event_id": event_id,
                    "aggregate_type": agg_type,
                    "aggregate_id": agg_id,
                    "event_type": event_type_of(msg),
                    "topic": topic,
                    "payload": bytea(msg.SerializeToString()),
                    "headers": encoded,
                }
                for (msg, agg_type, agg_id), event_id in zip(items, random_uuids(len(items)))
            ],
        )

    def post(self, session: Session, postings: list[Posting], now: datetime) -> None:
        self.ledger.post(session, postings, now)
        for p in postings:
            metrics.LEDGER_TRANSACTIONS.labels(p.kind).inc()

    def prepare(self) -> None:
        """Open the platform accounts up front, so they have the lowest ids and
        every transaction locks them before user accounts (no deadlocks)."""
        cur = self.settings.currency
        with transaction(self.sessions) as session:
            self.ledger.open_accounts(
                session,
                [
                    (PLATFORM, ISSUED, ALLOWANCE),
                    (PLATFORM, REVENUE, ALLOWANCE),
                    (PLATFORM, ISSUED, CREDITS),
                    (PLATFORM, REVENUE, CREDITS),
                    (PLATFORM, CLEARING, cur),
                    (PLATFORM, REVENUE, cur),
                ],
            )

    def open_user(self, session: Session, user_id: str) -> None:
        check_id(user_id, "user id")
        session.execute(insert_ignore(billing_users), [{"user_id": user_id, "allowance_granted": 0}])
        self.ledger.open_accounts(session, user_accounts(user_id))

    def lock_user(self, session: Session, user_id: str, create: bool = False) -> Row[Any]:
        """The user's billing row, locked FOR UPDATE (serialises everything that
        changes this user's allowance or balances); opened first if `create`."""
        check_id(user_id, "user id")
        query = select(billing_users).where(billing_users.c.user_id == user_id).with_for_update()
        row = session.execute(query).first()
        if row is None:
            if not create:
                raise NotFound(f"user {user_id} has no billing account", "unknown_user")
            self.open_user(session, user_id)
            row = session.execute(query).one()
        return row
