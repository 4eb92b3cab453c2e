"""Metering through a real broker: the consumer is killed in the middle of a
batch, then everything is delivered again; balances come out exact and
reconciliation finds zero drift."""

import threading
import time
import uuid

from billing_support import open_users, outcome_event, publish
from sqlalchemy import func, select

from kinora.runtime.consumer import EventConsumer
from kinora.runtime.kafka import ensure_topics
from services.billing import metrics
from services.billing.handlers import make_handlers
from services.billing.models import tables


class Killed(BaseException):
    """The process dying: not an error the consumer may catch and retry."""


def processed_count(billing) -> int:
    with billing.sessions() as s:
        return s.execute(select(func.count()).select_from(tables.processed)).scalar_one()


def test_killed_mid_batch_and_redelivered_everything_is_exact(billing, broker):
    users = [f"meter-{i}" for i in range(6)]
    open_users(billing, *users)
    events, expected = [], {}
    for u in users:
        billing.purchase(u, "creator", "tok_test_succeed", f"{u}-buy")  # 50 credits
        captured_credits = 0
        for i in range(20):  # 3 from the allowance, then 1 credit each
            gen = f"{u}-gen-{i}"
            r, _ = billing.reserve(gen, u, "standard", 10, "720x1280")
            kind = ("completed", "completed", "failed", "canceled")[i % 4]
            captured_credits += r.credits if kind == "completed" else 0
            events.append((str(uuid.uuid4()), outcome_event(kind, gen, u), gen))
        expected[u] = 50 - captured_credits
    topic = f"kinora.generator.generations.t{uuid.uuid4().hex[:6]}.v1"
    ensure_topics([broker.bootstrap], [topic], partitions=1)
    publish(broker.bootstrap, topic, events)
    group = f"billing-{uuid.uuid4().hex[:6]}"

    # First consumer: one batch goes through, then it dies inside the second
    # batch's transaction, after the ledger writes and before the commit.
    real_settle, calls = billing.reservations._settle_held, []

    def dying_settle(session, *args, **kw):
        result = real_settle(session, *args, **kw)
        calls.append(1)
        if len(calls) > 3:  # completed, failed, canceled of batch 1, then die in batch 2
            raise Killed()
        return result

    billing.reservations._settle_held = dying_settle
    first = EventConsumer(
        billing.sessions.kw["bind"], tables, [broker.bootstrap], group, make_handlers(billing), [topic], max_records=40
    )
    kc = first._connect()
    batches = 0
    try:
        while batches < 2:
            records = [r for part in kc.poll(timeout_ms=500, max_records=40).values() for r in part]
            if records:
                first.handle_batch(records)
                kc.commit()
                batches += 1
    except Killed:
        pass
    finally:
        kc.close(autocommit=False)
    billing.reservations._settle_held = real_settle
    assert batches == 1 and processed_count(billing) == 40  # the killed batch left nothing behind

    # A fresh consumer in the same group, then everything published again.
    second = EventConsumer(
        billing.sessions.kw["bind"], tables, [broker.bootstrap], group, make_handlers(billing), [topic]
    )
    stop = threading.Event()
    thread = threading.Thread(target=second.run, args=(stop,), daemon=True)
    thread.start()
    try:
        publish(broker.bootstrap, topic, events)
        deadline = time.monotonic() + 40
        while processed_count(billing) < len(events) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # let the redelivered copies arrive and be skipped
    finally:
        stop.set()
        thread.join(15)
    assert processed_count(billing) == len(events)

    for u in users:
        view = billing.balance(u)
        assert (view.credits, view.credits_held, view.held_today) == (expected[u], 0, 0), u
        assert view.used_today == 2  # allowance generations 0 and 1 completed, 2 failed
    report = billing.reconcile(grace_seconds=0)
    assert report.drift == 0, report
    assert metrics.LEDGER_DRIFT._value.get() == 0


def test_reconciliation_reports_a_completed_generation_that_was_never_charged(billing):
    open_users(billing, "drifter")
    from kinora.runtime.db import transaction

    with transaction(billing.sessions) as s:  # completed, but nothing was ever reserved for it
        billing.meter(s, [("ghost-gen", "drifter", "completed")])
    report = billing.reconcile(grace_seconds=0)
    assert report.uncaptured_generation_ids == ["ghost-gen"] and report.drift == 1
    assert metrics.LEDGER_DRIFT._value.get() == 1
    from kinora.billing.v1 import events_pb2 as epb
    from services.billing.topics import TOPIC_RECONCILIATION

    with billing.sessions() as s:
        events = (
            s.execute(select(tables.outbox.c.event_type).where(tables.outbox.c.topic == TOPIC_RECONCILIATION))
            .scalars()
            .all()
        )
    assert events == [epb.LedgerDriftDetected.DESCRIPTOR.full_name]


def test_reconciliation_reports_an_entry_whose_account_or_transaction_is_missing(billing):
    """ledger_entries carries no foreign keys (their triggers cost a third of
    the settle statement), so reconciliation checks the references itself."""
    from kinora.runtime.db import transaction
    from services.billing.models import ledger_entries

    open_users(billing, "dangler")
    assert billing.reconcile(grace_seconds=0).drift == 0
    with transaction(billing.sessions) as s:
        s.execute(
            ledger_entries.insert().values(
                transaction_id="no-such-transaction",
                account_id=10**9,
                amount=7,
                balance_after=7,
                created_at=billing.clock(),
            )
        )
    report = billing.reconcile(grace_seconds=0)
    assert len(report.dangling_entry_ids) == 1 and report.drift >= 7
    assert metrics.LEDGER_DRIFT._value.get() == report.drift
