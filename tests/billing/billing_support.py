"""Helpers shared by the billing tests (imported as a plain module: pytest puts
this folder on sys.path)."""

from datetime import UTC, datetime, timedelta

from kinora.runtime.db import transaction
from services.billing.domain import Billing
from services.billing.settings import BillingSettings


class Clock:
    """Billing's notion of now; tests move it to cross days and expire holds."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def make_settings(pg_url: str, **overrides) -> BillingSettings:
    base = dict(
        database_url=pg_url,
        kafka_bootstrap=None,
        free_daily=3,
        pro_daily=5,
        demand_free_allowance=1,
        demand_queue_depth=10,
        hold_ttl_seconds=600,
        quote_ttl_seconds=300,
        sweep_interval_seconds=0,
        reconcile_interval_seconds=0,
        reconcile_grace_seconds=0,
        dev_payments=True,
        test_provider_secret="billing-tests",
    )
    base.update(overrides)
    return BillingSettings(**base)


def open_users(billing: Billing, *user_ids: str) -> None:
    with transaction(billing.sessions) as s:
        for uid in user_ids:
            billing.open_user(s, uid)


def publish(bootstrap: str, topic: str, events) -> None:
    """Put (event id, protobuf message, key) records on the broker in the
    runtime's wire format (as the generator's outbox relay does)."""
    from kafka import KafkaProducer

    from kinora.runtime.events import event_type_of
    from kinora.runtime.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE

    producer = KafkaProducer(bootstrap_servers=[bootstrap], acks="all", linger_ms=5, batch_size=512 * 1024)
    for event_id, message, key in events:
        producer.send(
            topic,
            key=key.encode(),
            value=message.SerializeToString(),
            headers=[(HEADER_EVENT_ID, event_id.encode()), (HEADER_EVENT_TYPE, event_type_of(message).encode())],
        )
    producer.flush()
    producer.close()


def outcome_event(kind: str, generation_id: str, user_id: str):
    from kinora.generator.v1 import events_pb2 as g

    facts = g.GenerationFacts(
        generation_id=generation_id, user_id=user_id, model="standard", seconds=10, size="720x1280"
    )
    return {"completed": g.GenerationCompleted, "failed": g.GenerationFailed, "canceled": g.GenerationCanceled}[kind](
        facts=facts
    )
