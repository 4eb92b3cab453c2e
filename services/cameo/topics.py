"""Cameo's Kafka contract in one place: the topics it writes (and the event
types on each), the topics it reads (and the event types it handles there),
and the aggregate type its outbox rows carry."""

from __future__ import annotations

from sqlalchemy.orm import Session

from kinora.cameo.v1 import events_pb2 as ev
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.runtime.events import EventTables, emit

# Written (through the outbox).
CONSENT_TOPIC = "kinora.cameo.consent.v1"
TAKEDOWN_TOPIC = "kinora.cameo.takedowns.v1"
NOTIFICATION_TOPIC = "kinora.cameo.notifications.v1"
WRITES = {
    CONSENT_TOPIC: (
        ev.CameoCreated,
        ev.PolicyChanged,
        ev.AccessRevoked,
        ev.CameoDeleted,
        ev.CharacterCreated,
        ev.CharacterDeleted,
    ),
    TAKEDOWN_TOPIC: (ev.TakedownRequested,),
    NOTIFICATION_TOPIC: (ev.CameoUsed,),
}
TOPICS = list(WRITES)
_TOPIC_OF = {kind: topic for topic, kinds in WRITES.items() for kind in kinds}

# The outbox's aggregate type: every cameo event is keyed by its cameo.
CAMEO_AGGREGATE = "cameo"

# Read (one consumer group, handlers in handlers.py).
USERS_TOPIC = "kinora.identity.users.v1"
VERIFICATIONS_TOPIC = "kinora.identity.verifications.v1"
GRAPH_TOPIC = "kinora.feed.graph.v1"
POSTS_TOPIC = "kinora.feed.posts.v1"
GENERATIONS_TOPIC = "kinora.generator.generations.v1"
CONSUMES = {
    USERS_TOPIC: (id_ev.UserCreated, id_ev.UserUpdated, id_ev.UserDeleted, id_ev.ParentalControlsChanged),
    VERIFICATIONS_TOPIC: (id_ev.CameoVerified,),
    GRAPH_TOPIC: (feed_ev.FollowChanged, feed_ev.BlockChanged),
    POSTS_TOPIC: (feed_ev.PostPublished, feed_ev.PostRemoved),
    GENERATIONS_TOPIC: (
        gen_ev.GenerationRequested,
        gen_ev.GenerationCompleted,
        gen_ev.GenerationFailed,
        gen_ev.GenerationCanceled,
        gen_ev.GenerationTakenDown,
        gen_ev.GenerationDeleted,
    ),
}
CONSUME_TOPICS = list(CONSUMES)


def publish(s: Session, tables: EventTables, message, cameo_id: str) -> str:
    """Add a cameo event to the outbox on the topic its type is declared on."""
    return emit(s, tables, _TOPIC_OF[type(message)], message, CAMEO_AGGREGATE, cameo_id)
