"""Cameo's (and identity's) Kafka contract is declared once, in topics.py:
every event type the code publishes has a declared topic, every declared
consumed type has a handler, and both services agree on the topic between them."""

import ast
import re
from pathlib import Path

from kinora.cameo.v1 import events_pb2 as ev
from services.cameo import handlers, topics
from services.identity import handlers as identity_handlers
from services.identity import topics as identity_topics

ROOT = Path(__file__).resolve().parents[2]


def test_every_consumed_type_has_a_handler_and_no_more():
    declared = {kind for kinds in topics.CONSUMES.values() for kind in kinds}
    assert set(handlers.consumed_events()) == declared
    assert set(identity_handlers.consumed_events(None)) == {
        kind for kinds in identity_topics.CONSUMES.values() for kind in kinds
    }


def test_every_published_event_type_is_declared_on_one_topic():
    declared = [kind for kinds in topics.WRITES.values() for kind in kinds]
    assert len(declared) == len(set(declared))
    # The cameo event types the domain constructs and hands to publish().
    built = set()
    for path in sorted((ROOT / "services/cameo").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ev"
                and node.func.attr[0].isupper()
            ):
                built.add(getattr(ev, node.func.attr))
    assert built and built <= set(declared)
    assert set(declared) - built == set(), "a declared event type nobody publishes"


def test_no_topic_literals_outside_topics_modules():
    topic = re.compile(r"kinora\.[a-z]+\.[a-z]+\.v[0-9]+")  # kinora.<area>.<stream>.v1
    for service in ("cameo", "identity"):
        for path in sorted((ROOT / "services" / service).glob("*.py")):
            if path.name != "topics.py":
                assert not topic.findall(path.read_text()), path


def test_the_two_services_agree_on_the_topics_between_them():
    assert topics.USERS_TOPIC == identity_topics.USERS_TOPIC
    assert topics.VERIFICATIONS_TOPIC == identity_topics.VERIFICATIONS_TOPIC
    assert identity_topics.CAMEO_CONSENT_TOPIC == topics.CONSENT_TOPIC
    for kind in identity_topics.CONSUMES[identity_topics.CAMEO_CONSENT_TOPIC]:
        assert kind in topics.WRITES[topics.CONSENT_TOPIC]
    for topic, kinds in topics.CONSUMES.items():
        if topic in identity_topics.WRITES:
            assert set(kinds) <= set(identity_topics.WRITES[topic]), topic
