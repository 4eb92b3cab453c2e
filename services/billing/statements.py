"""Statements and reconciliation: a user's ledger entries, newest first and
paged, and the check that captures match completed generations and every
balance matches its entries (LedgerDriftDetected when they do not).

Plain Python over SQLAlchemy; no gRPC or Kafka here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from kinora.billing.v1 import events_pb2 as epb
from kinora.runtime.convert import timestamp
from kinora.runtime.db import transaction
from kinora.runtime.paging import PageTokens
from kinora.runtime.paging import page_size as page_size_rule
from services.billing import metrics
from services.billing.core import BillingCore
from services.billing.ledger import PLATFORM
from services.billing.models import accounts, generation_outcomes, ledger_entries, ledger_transactions, reservations
from services.billing.reservations import CAPTURED
from services.billing.topics import AGGREGATE_LEDGER, TOPIC_RECONCILIATION

DEFAULT_PAGE, MAX_PAGE = 50, 200
_PAGE_TOKENS = PageTokens()


@dataclass
class DriftReport:
    run_id: str
    uncaptured_generation_ids: list[str] = field(default_factory=list)
    unmatched_capture_generation_ids: list[str] = field(default_factory=list)
    mismatched_account_ids: list[str] = field(default_factory=list)
    unbalanced_transaction_ids: list[str] = field(default_factory=list)
    dangling_entry_ids: list[str] = field(default_factory=list)  # account or transaction missing
    drift: int = 0


class Statements:
    def __init__(self, core: BillingCore):
        self.core = core

    def statement(
        self,
        user_id: str,
        page_size: int = 0,
        page_token: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[Sequence[Any], str]:
        """A user's entries, newest first. Returns (rows: ledger entries joined with their account
        and transaction, next page token)."""
        size = page_size_rule(page_size, DEFAULT_PAGE, MAX_PAGE)
        cursor = _PAGE_TOKENS.decode(page_token, int)  # the id of the last entry shown
        before = cursor[0] if cursor else None
        query = (
            select(
                ledger_entries.c.id,
                ledger_entries.c.transaction_id,
                ledger_entries.c.amount,
                ledger_entries.c.balance_after,
                ledger_entries.c.created_at,
                ledger_entries.c.account_id,
                accounts.c.kind.label("account_kind"),
                accounts.c.unit,
                ledger_transactions.c.kind,
                ledger_transactions.c.generation_id,
                ledger_transactions.c.purchase_id,
                ledger_transactions.c.description,
            )
            .join(accounts, accounts.c.id == ledger_entries.c.account_id)
            .join(ledger_transactions, ledger_transactions.c.id == ledger_entries.c.transaction_id)
            .where(accounts.c.owner == user_id)
            .order_by(ledger_entries.c.id.desc())
            .limit(size + 1)
        )
        if before is not None:
            query = query.where(ledger_entries.c.id < before)
        if since is not None:
            query = query.where(ledger_entries.c.created_at >= since)
        if until is not None:
            query = query.where(ledger_entries.c.created_at < until)
        with self.core.sessions() as session:
            rows = session.execute(query).all()
        more = len(rows) > size
        rows = rows[:size]
        return rows, (_PAGE_TOKENS.encode(rows[-1].id) if more else "")

    # -- reconciliation -------------------------------------------------------

    def reconcile(self, grace_seconds: float | None = None, window_hours: float = 48.0) -> DriftReport:
        """Compare captures with completed generations and balances with
        entries. Sets the drift gauge; emits LedgerDriftDetected if any."""
        now = self.core.clock()
        if grace_seconds is None:
            grace_seconds = self.core.settings.reconcile_grace_seconds
        grace = timedelta(seconds=grace_seconds)
        start = now - timedelta(hours=window_hours)
        report = DriftReport(str(uuid.uuid4()))
        with transaction(self.core.sessions) as session:
            r, o = reservations, generation_outcomes
            uncaptured = session.execute(
                select(o.c.generation_id, r.c.credits, r.c.allowance_units)
                .select_from(o.outerjoin(r, r.c.generation_id == o.c.generation_id))
                .where(
                    o.c.outcome == "completed",
                    o.c.recorded_at >= start,
                    (r.c.status.is_(None)) | (r.c.status != CAPTURED),
                )
            ).all()
            unmatched = session.execute(
                select(r.c.generation_id, r.c.credits, r.c.allowance_units)
                .select_from(r.outerjoin(o, and_(o.c.generation_id == r.c.generation_id, o.c.outcome == "completed")))
                .where(
                    r.c.status == CAPTURED,
                    r.c.settled_at >= start,
                    r.c.settled_at < now - grace,
                    o.c.generation_id.is_(None),
                )
            ).all()
            sums = (
                select(ledger_entries.c.account_id, func.sum(ledger_entries.c.amount).label("total"))
                .group_by(ledger_entries.c.account_id)
                .subquery()
            )
            mismatched = session.execute(
                select(accounts.c.id, accounts.c.balance, sums.c.total)
                .select_from(accounts.outerjoin(sums, sums.c.account_id == accounts.c.id))
                .where(accounts.c.balance != func.coalesce(sums.c.total, 0))
            ).all()
            unbalanced = session.execute(
                select(ledger_entries.c.transaction_id, func.sum(ledger_entries.c.amount).label("total"))
                .join(accounts, accounts.c.id == ledger_entries.c.account_id)
                .group_by(ledger_entries.c.transaction_id, accounts.c.unit)
                .having(func.sum(ledger_entries.c.amount) != 0)
            ).all()
            e, t = ledger_entries, ledger_transactions
            dangling = session.execute(
                select(e.c.id, e.c.amount)
                .select_from(
                    e.outerjoin(accounts, accounts.c.id == e.c.account_id).outerjoin(t, t.c.id == e.c.transaction_id)
                )
                .where(accounts.c.id.is_(None) | t.c.id.is_(None))
            ).all()
            report.uncaptured_generation_ids = [x.generation_id for x in uncaptured]
            report.unmatched_capture_generation_ids = [x.generation_id for x in unmatched]
            report.mismatched_account_ids = [str(x.id) for x in mismatched]
            report.unbalanced_transaction_ids = sorted({x.transaction_id for x in unbalanced})
            report.dangling_entry_ids = [str(x.id) for x in dangling]
            report.drift = (
                sum((x.credits or 0) + (x.allowance_units or 1) for x in uncaptured)
                + sum(x.credits + x.allowance_units for x in unmatched)
                + sum(abs(x.balance - (x.total or 0)) for x in mismatched)
                + sum(abs(x.total) for x in unbalanced)
                + sum(abs(x.amount) or 1 for x in dangling)
            )
            if report.drift:
                self.core.emit(
                    session,
                    TOPIC_RECONCILIATION,
                    [
                        (
                            epb.LedgerDriftDetected(
                                run_id=report.run_id,
                                uncaptured_generation_ids=report.uncaptured_generation_ids,
                                unmatched_capture_generation_ids=report.unmatched_capture_generation_ids,
                                mismatched_account_ids=(
                                    report.mismatched_account_ids
                                    + report.unbalanced_transaction_ids
                                    + [f"entry:{x}" for x in report.dangling_entry_ids]
                                ),
                                drift_credits=report.drift,
                                window_start=timestamp(start),
                                window_end=timestamp(now),
                                occurred_at=timestamp(now),
                            ),
                            AGGREGATE_LEDGER,
                            PLATFORM,
                        )
                    ],
                )
        metrics.LEDGER_DRIFT.set(report.drift)
        return report
