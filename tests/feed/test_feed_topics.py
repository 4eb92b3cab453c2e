"""The feed's Kafka contract (services/feed/topics.py) against the code that uses it: the
handlers registered, the event types' areas, the platform's naming rule."""

from __future__ import annotations

import re

from sqlalchemy.orm import sessionmaker

from services.feed import models as m
from services.feed.domain import Feed
from services.feed.server import consumed_events
from services.feed.topics import CONSUMES, WRITES


def test_the_feed_handles_exactly_the_event_types_it_declares_it_reads():
    # No database is touched: building a Feed only wires its parts.
    feed = Feed(sessionmaker(), m.tables, consent=None, moderator=None, embedder=None, cursor_key=b"k" * 32)
    declared = [t for types in CONSUMES.values() for t in types]
    assert len(declared) == len(set(declared))  # each event type on one topic
    assert set(consumed_events(feed)) == set(declared)


def test_each_event_type_is_on_a_topic_of_its_own_area():
    for topic, types in [*WRITES.items(), *CONSUMES.items()]:
        area = topic.split(".")[1]  # kinora.<area>.<stream>.v1
        for event_type in types:
            assert event_type.DESCRIPTOR.full_name.split(".")[1] == area, (topic, event_type.DESCRIPTOR.full_name)


def test_topic_names_follow_the_platform_rule():
    for topic in [*WRITES, *CONSUMES]:
        assert re.fullmatch(r"kinora\.[a-z]+\.[a-z_]+\.v1", topic), topic
    assert all(topic.startswith("kinora.feed.") for topic in WRITES)
