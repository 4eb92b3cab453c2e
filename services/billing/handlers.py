"""Event handlers: metering (generation outcomes), demand and new users.

The runtime consumer calls a handler once per event inside one transaction
per polled batch. Metering events are only collected here and applied in one
set-based pass just before that transaction commits, so a batch of thousands
of outcomes costs a handful of statements, not thousands."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from kinora.generator.v1 import events_pb2 as gen_events
from kinora.identity.v1 import events_pb2 as identity_events
from services.billing.domain import Billing
from services.billing.erasure import anonymise_user
from services.billing.topics import CONSUME_TOPICS  # noqa: F401 - tests/helm reads it here

_BATCH_KEY = "billing.metering"


def make_handlers(billing: Billing) -> dict:
    def collect(session: Session, outcome: str, facts) -> None:
        pending = session.info.get(_BATCH_KEY)
        if pending is None:
            pending = session.info[_BATCH_KEY] = []
            event.listen(session, "before_commit", lambda s: billing.meter(s, s.info.pop(_BATCH_KEY, [])), once=True)
        pending.append((facts.generation_id, facts.user_id, outcome))

    def on_completed(session, message: gen_events.GenerationCompleted, meta) -> None:
        collect(session, "completed", message.facts)

    def on_failed(session, message: gen_events.GenerationFailed, meta) -> None:
        collect(session, "failed", message.facts)

    def on_canceled(session, message: gen_events.GenerationCanceled, meta) -> None:
        collect(session, "canceled", message.facts)

    def on_demand(session, message: gen_events.DemandChanged, meta) -> None:
        billing.record_demand(session, message)

    def on_user_created(session, message: identity_events.UserCreated, meta) -> None:
        if message.user.id:
            billing.open_user(session, message.user.id)

    def on_user_deleted(session, message: identity_events.UserDeleted, meta) -> None:
        anonymise_user(session, message.user_id, message.anonymous_id)

    return {
        gen_events.GenerationCompleted: on_completed,
        gen_events.GenerationFailed: on_failed,
        gen_events.GenerationCanceled: on_canceled,
        gen_events.DemandChanged: on_demand,
        identity_events.UserCreated: on_user_created,
        identity_events.UserDeleted: on_user_deleted,
    }
