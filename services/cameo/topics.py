"""Cameo's Kafka contract in one place: the topics it writes (and the event
types on each), the topics it reads (and the event types it handles there),
and the aggregate type its outbox rows carry."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from kinora import topics as platform
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.runtime.events import EventTables, emit

# Written (through the outbox); the event types on each are declared in kinora.topics.
CONSENT_TOPIC = platform.CAMEO_CONSENT
TAKEDOWN_TOPIC = platform.CAMEO_TAKEDOWNS
NOTIFICATION_TOPIC = platform.CAMEO_NOTIFICATIONS
WRITES = platform.written_by("cameo")
TOPICS = list(WRITES)
_TOPIC_OF = {kind: topic for topic, kinds in WRITES.items() for kind in kinds}

# The outbox's aggregate type: every cameo event is keyed by its cameo.
CAMEO_AGGREGATE = "cameo"

# Read (one consumer group, handlers in handlers.py).
USERS_TOPIC = platform.IDENTITY_USERS
VERIFICATIONS_TOPIC = platform.IDENTITY_VERIFICATIONS
GRAPH_TOPIC = platform.FEED_GRAPH
POSTS_TOPIC = platform.FEED_POSTS
GENERATIONS_TOPIC = platform.GENERATOR_GENERATIONS
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


def publish(s: Session, tables: EventTables, message: Message, cameo_id: str) -> str:
    """Add a cameo event to the outbox on the topic its type is declared on."""
    return emit(s, tables, _TOPIC_OF[type(message)], message, CAMEO_AGGREGATE, cameo_id)
