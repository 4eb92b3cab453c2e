"""The double-entry ledger.

Every posting is a transaction of signed entries that sum to zero per unit
(credits, allowance, or a currency in minor units). Balances are stored on the
account rows and changed only here, in the caller's database transaction,
after locking the rows (`SELECT ... FOR UPDATE`, ascending id so concurrent
postings never deadlock on each other), or by the two set-wise PostgreSQL
statements in reservation_sql.py (`HOLD`, `SETTLE`) that write the same rows under
the same locking rules. Entries are append-only.

Sign convention: user accounts hold positive balances (what the user has);
platform accounts mirror them and are usually negative (e.g. `issued` credits
is minus everything ever sold)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kinora.runtime.bulk import insert_ignore, insert_rows, one_of, set_balances
from services.billing.models import accounts, ledger_entries, ledger_transactions

PLATFORM = "platform"

# Account kinds (owner, kind, unit) -> proto LedgerAccountKind.
USER_CREDITS, USER_HELD, USER_ALLOWANCE = "credits", "held", "allowance"
REVENUE, ISSUED, CLEARING = "revenue", "issued", "clearing"
CREDITS, ALLOWANCE = "credits", "allowance"  # units besides currencies


class LedgerError(Exception):
    """A posting that would break the ledger's invariants (a bug, not bad input)."""


class InsufficientBalance(Exception):
    def __init__(self, account: tuple[str, str, str], balance: int, wanted: int):
        super().__init__(f"{account} has {balance}, needs {wanted}")
        self.account, self.balance, self.wanted = account, balance, wanted


@dataclass
class Posting:
    kind: str
    legs: list[tuple[tuple[str, str, str], int]]  # ((owner, kind, unit), signed amount)
    user_id: str | None = None
    generation_id: str | None = None
    purchase_id: str | None = None
    description: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def user_accounts(user_id: str) -> list[tuple[str, str, str]]:
    return [
        (user_id, USER_CREDITS, CREDITS),
        (user_id, USER_HELD, CREDITS),
        (user_id, USER_ALLOWANCE, ALLOWANCE),
        (user_id, USER_HELD, ALLOWANCE),
    ]


class Ledger:
    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, str], int] = {}  # account ids never change: cache them

    def open_accounts(self, session: Session, keys: list[tuple[str, str, str]]) -> None:
        """Create accounts that do not exist yet (idempotent, race-safe)."""
        missing = [k for k in keys if k not in self._ids]
        if missing:
            session.execute(
                insert_ignore(accounts), [{"owner": o, "kind": k, "unit": u, "balance": 0} for o, k, u in missing]
            )

    def ids(self, session: Session, keys: Collection[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        wanted = {k for k in keys if k not in self._ids}
        if wanted:
            owners = {k[0] for k in wanted}
            rows = session.execute(
                select(accounts.c.id, accounts.c.owner, accounts.c.kind, accounts.c.unit).where(
                    one_of(accounts.c.owner, owners)
                )
            ).all()
            for r in rows:
                self._ids[(r.owner, r.kind, r.unit)] = r.id
            unknown = [k for k in wanted if k not in self._ids]
            if unknown:
                if all(k[0] == PLATFORM for k in unknown):
                    self.open_accounts(session, unknown)
                    return self.ids(session, keys)
                raise LedgerError(f"no such accounts: {unknown}")
        return {k: self._ids[k] for k in keys}

    def balances(
        self, session: Session, keys: Collection[tuple[str, str, str]], lock: bool = False
    ) -> dict[tuple[str, str, str], int]:
        ids = self.ids(session, keys)
        query = (
            select(accounts.c.id, accounts.c.balance).where(one_of(accounts.c.id, ids.values())).order_by(accounts.c.id)
        )
        if lock:
            query = query.with_for_update()
        by_id = dict(session.execute(query).all())
        return {k: by_id[i] for k, i in ids.items()}

    def post(self, session: Session, postings: list[Posting], now: datetime) -> None:
        """Apply postings in order, in the caller's transaction. All touched
        accounts are locked once; each entry records its running balance."""
        if not postings:
            return
        keys = list(dict.fromkeys(k for p in postings for k, _ in p.legs))
        balances = self.balances(session, keys, lock=True)
        ids = self.ids(session, keys)
        tx_rows, entry_rows = [], []
        for p in postings:
            per_unit: dict[str, int] = defaultdict(int)
            for (_owner, _kind, unit), amount in p.legs:
                per_unit[unit] += amount
            if any(per_unit.values()):
                raise LedgerError(f"{p.kind} transaction does not balance: {dict(per_unit)}")
            tx_rows.append(
                {
                    "id": p.id,
                    "kind": p.kind,
                    "user_id": p.user_id,
                    "generation_id": p.generation_id,
                    "purchase_id": p.purchase_id,
                    "description": p.description,
                    "created_at": now,
                }
            )
            for key, amount in p.legs:
                if amount == 0:
                    continue
                after = balances[key] + amount
                if key[0] != PLATFORM and after < 0:
                    raise InsufficientBalance(key, balances[key], -amount)
                balances[key] = after
                entry_rows.append(
                    {
                        "transaction_id": p.id,
                        "account_id": ids[key],
                        "amount": amount,
                        "balance_after": after,
                        "created_at": now,
                    }
                )
        insert_rows(session, ledger_transactions, tx_rows)
        insert_rows(session, ledger_entries, entry_rows)
        set_balances(session, accounts, {ids[k]: balances[k] for k in keys})
