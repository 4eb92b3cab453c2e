"""kinora.runtime.subscriptions: a service subscribes by event type; the topics
follow from its table, and a table and handlers that disagree are refused."""

import pytest

from kinora.runtime.subscriptions import by_event_type, subscribed_topics
from kinora.runtime.v1.runtime_pb2 import GetInfoRequest, GetInfoResponse, PingRequest, PingResponse


def handle(session, message, meta):
    pass


TABLE = {"a.v1": (PingRequest, PingResponse), "b.v1": (GetInfoRequest,), "c.v1": ()}


def test_the_topics_come_from_the_table_and_the_handlers_are_kept_by_type():
    handlers = {PingRequest: handle, PingResponse: handle, GetInfoRequest: handle}
    sub = by_event_type(handlers, TABLE)
    assert sub.topics == ["a.v1", "b.v1"]  # a topic carrying nothing read is not subscribed to
    assert sub.handlers == handlers
    assert subscribed_topics(TABLE) == ["a.v1", "b.v1"]


def test_a_handler_for_a_type_no_topic_carries_is_refused():
    with pytest.raises(ValueError, match="GetInfoResponse"):
        by_event_type(
            {PingRequest: handle, PingResponse: handle, GetInfoRequest: handle, GetInfoResponse: handle}, TABLE
        )


def test_a_declared_type_without_a_handler_is_refused():
    with pytest.raises(ValueError, match="PingResponse"):
        by_event_type({PingRequest: handle, GetInfoRequest: handle}, TABLE)
