"""Billing reads what topics.CONSUMES declares, by event type: one handler per
declared type and none more (the runtime refuses a mismatch when the service
starts consuming), and the topics it subscribes to are the declared ones."""

import pytest

from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.runtime.subscriptions import by_event_type
from services.billing import topics
from services.billing.handlers import make_handlers


def test_every_consumed_type_has_a_handler_and_no_more():
    handlers = make_handlers(None)  # the closures only reach billing when an event arrives
    subscription = by_event_type(handlers, topics.CONSUMES)
    assert subscription.topics == topics.CONSUME_TOPICS
    assert set(handlers) == {kind for kinds in topics.CONSUMES.values() for kind in kinds}


def test_a_handler_for_an_undeclared_type_would_be_refused():
    handlers = {**make_handlers(None), gen_ev.GenerationRequested: lambda session, message, meta: None}
    with pytest.raises(ValueError, match="GenerationRequested"):
        by_event_type(handlers, topics.CONSUMES)
