"""Event handlers: metering (generation outcomes), demand and new users.

The runtime consumer calls a handler once per event inside one transaction
per polled batch. Metering events are only collected here and applied in one
set-based pass just before that transaction commits, so a batch of thousands
of outcomes costs a handful of statements, not thousands."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message
from sqlalchemy import event
from sqlalchemy.orm import Session

from kinora.generator.v1 import events_pb2 as gen_events
from kinora.identity.v1 import events_pb2 as identity_events
from kinora.runtime.consumer import EventMeta
from services.billing.domain import Billing
from services.billing.erasure import anonymise_user

_BATCH_KEY = "billing.metering"


def make_handlers(billing: Billing) -> dict[type[Message], Callable[..., None]]:
    def collect(session: Session, outcome: str, facts: gen_events.GenerationFacts) -> None:
        pending = session.info.get(_BATCH_KEY)
        if pending is None:
            pending = session.info[_BATCH_KEY] = []
            event.listen(session, "before_commit", lambda s: billing.meter(s, s.info.pop(_BATCH_KEY, [])), once=True)
        pending.append((facts.generation_id, facts.user_id, outcome))

    def on_completed(session: Session, message: gen_events.GenerationCompleted, meta: EventMeta) -> None:
        collect(session, "completed", message.facts)

    def on_failed(session: Session, message: gen_events.GenerationFailed, meta: EventMeta) -> None:
        collect(session, "failed", message.facts)

    def on_canceled(session: Session, message: gen_events.GenerationCanceled, meta: EventMeta) -> None:
        collect(session, "canceled", message.facts)

    def on_demand(session: Session, message: gen_events.DemandChanged, meta: EventMeta) -> None:
        billing.record_demand(session, message)

    def on_user_created(session: Session, message: identity_events.UserCreated, meta: EventMeta) -> None:
        if message.user.id:
            billing.open_user(session, message.user.id)

    def on_user_deleted(session: Session, message: identity_events.UserDeleted, meta: EventMeta) -> None:
        anonymise_user(session, message.user_id, message.anonymous_id)

    return {
        gen_events.GenerationCompleted: on_completed,
        gen_events.GenerationFailed: on_failed,
        gen_events.GenerationCanceled: on_canceled,
        gen_events.DemandChanged: on_demand,
        identity_events.UserCreated: on_user_created,
        identity_events.UserDeleted: on_user_deleted,
    }
