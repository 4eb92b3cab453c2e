"""The feed's Kafka contract (services/feed/topics.py) against the code that uses it: the
handlers registered. (Topic names, the platform's naming rule and each topic's event types:
tests/test_topics_declared_once.py.)"""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from services.feed import models as m
from services.feed.domain import Feed
from services.feed.server import consumed_events
from services.feed.topics import CONSUMES


def test_the_feed_handles_exactly_the_event_types_it_declares_it_reads():
    # No database is touched: building a Feed only wires its parts.
    feed = Feed(sessionmaker(), m.tables, consent=None, moderator=None, embedder=None, cursor_key=b"k" * 32)
    declared = [t for types in CONSUMES.values() for t in types]
    assert len(declared) == len(set(declared))  # each event type on one topic
    assert set(consumed_events(feed)) == set(declared)
