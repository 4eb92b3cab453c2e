"""Each Kafka topic is declared once, in kinora/topics.py (issue 23 part 2): no other module spells
a topic name; every topic a service reads is written by exactly one other service; each service
writes the topics kinora.topics names it the producer of, and reads only event types that the
topic carries. (The handlers against each service's declared types: tests/<svc>/*topics*.py.)"""

from __future__ import annotations

import ast
import importlib
import re
from collections import Counter
from pathlib import Path

import pytest

from kinora import topics as platform

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("identity", "cameo", "feed", "generator", "billing")  # those with a services/<svc>/topics.py
TOPIC_NAME = re.compile(r"kinora\.[a-z_]+\.[a-z_]+\.v[0-9]+")  # kinora.<area>.<stream>.v1


def _service_topics(service: str):
    return importlib.import_module(f"services.{service}.topics")


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_topic_name_is_spelled_outside_kinora_topics():
    declaration = ROOT / "kinora" / "topics.py"
    found = []
    scanned = 0
    for top in ("services", "kinora"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == declaration or "_pb2" in path.name:
                continue  # the declaration itself; protoc's generated code
            scanned += 1
            found += [
                f"{path.relative_to(ROOT)}:{line}: {value!r}"
                for line, value in _string_constants(path)
                if TOPIC_NAME.fullmatch(value)
            ]
    assert scanned > 100  # the walk saw the tree
    assert not found, "topic names belong in kinora/topics.py:\n" + "\n".join(found)


def test_the_scan_sees_a_topic_literal():
    # The check above would pass on a scanner that saw nothing: the declaration itself must show.
    values = {value for _, value in _string_constants(ROOT / "kinora" / "topics.py")}
    assert {t.name for t in platform.TOPICS} <= values


def test_each_topic_is_declared_once_by_the_service_of_its_area():
    names = [t.name for t in platform.TOPICS]
    assert [n for n, c in Counter(names).items() if c > 1] == []
    assert set(platform.BY_NAME) == set(names)
    for topic in platform.TOPICS:
        assert TOPIC_NAME.fullmatch(topic.name), topic.name
        area = topic.name.split(".")[1]
        assert topic.producer == area, topic.name
        assert topic.producer in SERVICES, topic.name
        assert topic.event_types and len(set(topic.event_types)) == len(topic.event_types), topic.name
        for event_type in topic.event_types:  # an area's topic carries its area's events
            assert event_type.DESCRIPTOR.full_name == f"kinora.{area}.v1.{event_type.__name__}", event_type
    carried = [e for t in platform.TOPICS for e in t.event_types]
    assert [e for e, c in Counter(carried).items() if c > 1] == [], "an event type on two topics"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_exactly_the_topics_it_produces(service):
    declared = _service_topics(service)
    assert set(declared.TOPICS) == set(platform.written_by(service))
    assert len(declared.TOPICS) == len(set(declared.TOPICS))
    writes = getattr(declared, "WRITES", None)
    if writes is not None:  # the services that route events by type declare each topic's types
        assert writes == platform.written_by(service)


@pytest.mark.parametrize("service", SERVICES)
def test_every_consumed_topic_has_exactly_one_other_producer(service):
    declared = _service_topics(service)
    assert declared.CONSUME_TOPICS == list(declared.CONSUMES)
    for topic in declared.CONSUMES:
        producers = [t.producer for t in platform.TOPICS if t.name == topic]
        assert len(producers) == 1, (service, topic, producers)
        assert producers[0] != service, (service, topic)  # a service does not read its own outbox topic


@pytest.mark.parametrize("service", SERVICES)
def test_a_consumer_subscribes_only_to_event_types_its_topic_carries(service):
    declared = _service_topics(service)
    for topic, event_types in declared.CONSUMES.items():
        assert event_types, (service, topic)
        carried = set(platform.BY_NAME[topic].event_types)
        stray = [e.DESCRIPTOR.full_name for e in event_types if e not in carried]
        assert not stray, f"{service} reads {stray} on {topic}, which carries no such events"
