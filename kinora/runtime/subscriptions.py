"""A service subscribes by event type: it names a handler for each event type
it reads and hands over its topics table (topic -> the event types on it, as
its topics.py declares them); the topics to subscribe to follow from the
table, and the consumer dispatches each event by its type.

The two must agree: a handled type no topic carries would never arrive, and a
declared type without a handler would be skipped without a word; either is a
mistake, refused when the service is built."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from google.protobuf.message import Message

from kinora.runtime.consumer import Handler

TopicTable = Mapping[str, Collection[type[Message]]]


@dataclass(frozen=True)
class Subscription:
    handlers: dict[type[Message], Handler]  # event type -> handler
    topics: list[str]  # what to subscribe to, in the table's order


def by_event_type(handlers: Mapping[type[Message], Handler], topics: TopicTable) -> Subscription:
    """The subscription for `handlers` (event type -> handler) over `topics`
    (topic -> event types read there)."""
    declared = {kind for kinds in topics.values() for kind in kinds}
    undeclared = sorted(k.DESCRIPTOR.full_name for k in handlers if k not in declared)
    if undeclared:
        raise ValueError(f"handlers for event types no consumed topic carries: {', '.join(undeclared)}")
    unhandled = sorted(k.DESCRIPTOR.full_name for k in declared if k not in handlers)
    if unhandled:
        raise ValueError(f"consumed event types without a handler: {', '.join(unhandled)}")
    return Subscription(dict(handlers), subscribed_topics(topics))


def subscribed_topics(topics: TopicTable) -> list[str]:
    """The topics a table says a service reads (for deployment checks: ACLs, the chart)."""
    return [topic for topic, kinds in topics.items() if kinds]
