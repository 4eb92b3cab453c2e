"""Cameo's (and identity's) Kafka contract in topics.py against their code: every
event type the code publishes has a declared topic, every declared consumed type
has a handler. (Topic names, their producers and the event types each carries are
declared once in kinora/topics.py: tests/test_topics_declared_once.py.)"""

import ast
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
