"""Property tests: random sequences of purchases, reservations, captures,
releases, refunds, expiries and day changes keep the ledger exact.

After every sequence: each transaction sums to zero per unit, stored
balances equal the sum of entries (reconcile finds no drift), no user account
is negative, and credits/allowance match a simple model of what happened."""

import itertools

from billing_support import open_users
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kinora.runtime.errors import KinoraError
from services.billing.ledger import ALLOWANCE, CREDITS, USER_HELD
from services.billing.models import accounts, reservations

ops = st.one_of(
    st.tuples(
        st.just("purchase"), st.sampled_from(["tok_test_succeed", "tok_test_decline", "tok_test_fail_after_auth"])
    ),
    st.tuples(st.just("reserve"), st.sampled_from([5, 10, 20])),
    st.tuples(st.just("capture"), st.integers(0, 20)),
    st.tuples(st.just("release"), st.integers(0, 20)),
    st.tuples(st.just("refund"), st.integers(0, 5)),
    st.tuples(st.just("expire"), st.just(0)),
    st.tuples(st.just("next_day"), st.just(0)),
    st.tuples(st.just("webhooks"), st.just(0)),
)
counter = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=st.lists(ops, min_size=1, max_size=25))
def test_random_sequences_keep_the_ledger_exact(billing, clock, steps):
    user = f"prop-{next(counter)}"
    open_users(billing, user)
    gens, purchase_ids = [], []
    expect_credits = 0  # available + held credits the user should own
    for n, (op, arg) in enumerate(steps):
        try:
            if op == "purchase":
                p, _ = billing.purchase(user, "starter", arg, f"{user}-{n}")
                purchase_ids.append(p.id)
                expect_credits += p.credits if p.status == "succeeded" else 0
            elif op == "reserve":
                gen = f"{user}-g{n}"
                billing.reserve(gen, user, "standard", min(arg, 10), "720x1280")
                gens.append(gen)
            elif op == "capture" and gens:
                r, replayed = billing.capture(gens[arg % len(gens)])
                expect_credits -= 0 if replayed else r.credits
            elif op == "release" and gens:
                billing.release(gens[arg % len(gens)], "failed")
            elif op == "refund" and purchase_ids:
                before = billing.balance(user).credits
                p = billing.refund(purchase_ids[arg % len(purchase_ids)], "changed my mind", user)
                if p.status == "refunded" and billing.balance(user).credits < before:
                    expect_credits -= p.credits
            elif op == "expire":
                clock.advance(seconds=billing.settings.hold_ttl_seconds + 1)
                billing.expire_stale()
            elif op == "next_day":
                clock.advance(days=1)
            elif op == "webhooks":
                for payload, signature in billing.provider.take_webhooks():
                    before = billing.balance(user).credits
                    billing.handle_webhook("test", payload, signature)
                    expect_credits += billing.balance(user).credits - before
        except KinoraError:
            pass  # refused (e.g. nothing left to spend, already settled): must change nothing

    report = billing.reconcile(grace_seconds=10**9)  # captures here had no generation events
    assert report.mismatched_account_ids == [] and report.unbalanced_transaction_ids == []
    view = billing.balance(user)
    assert view.credits + view.credits_held == expect_credits
    assert 0 <= view.remaining <= view.daily_limit
    with billing.sessions() as s:
        negative = s.execute(
            select(func.count()).select_from(accounts).where(accounts.c.owner != "platform", accounts.c.balance < 0)
        ).scalar_one()
        per_unit = dict(
            s.execute(select(accounts.c.unit, func.sum(accounts.c.balance)).group_by(accounts.c.unit)).all()
        )
        held = dict(
            s.execute(
                select(accounts.c.unit, accounts.c.balance).where(
                    accounts.c.owner == user, accounts.c.kind == USER_HELD
                )
            ).all()
        )
    assert negative == 0
    assert all(total == 0 for total in per_unit.values()), per_unit  # double entry: every unit nets to zero
    with billing.sessions() as s:
        open_holds = s.execute(
            select(
                func.coalesce(func.sum(reservations.c.credits), 0),
                func.coalesce(func.sum(reservations.c.allowance_units), 0),
            ).where(reservations.c.user_id == user, reservations.c.status == "held")
        ).one()
    assert (held.get(CREDITS, 0), held.get(ALLOWANCE, 0)) == tuple(open_holds)
