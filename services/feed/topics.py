"""The feed's Kafka contract in one place: the topics it writes (and the event
types on each), the topics it reads (and the event types it handles there),
and the aggregate types its outbox rows carry."""

from __future__ import annotations

from kinora import topics as platform
from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev

# Written (through the outbox); the event types on each are declared in kinora.topics.
POSTS_TOPIC = platform.FEED_POSTS
GRAPH_TOPIC = platform.FEED_GRAPH
WRITES = platform.written_by("feed")
TOPICS = list(WRITES)

# The outbox's aggregate type (the record key is that aggregate's id).
POST_AGGREGATE = "post"
USER_AGGREGATE = "user"

# Read (one consumer group, handlers in handlers.py).
GENERATIONS_TOPIC = platform.GENERATOR_GENERATIONS
TAKEDOWNS_TOPIC = platform.CAMEO_TAKEDOWNS
USERS_TOPIC = platform.IDENTITY_USERS
CONSUMES = {
    GENERATIONS_TOPIC: (
        gen_ev.GenerationRequested,
        gen_ev.GenerationCompleted,
        gen_ev.GenerationFailed,
        gen_ev.GenerationCanceled,
        gen_ev.GenerationTakenDown,
        gen_ev.GenerationDeleted,
    ),
    TAKEDOWNS_TOPIC: (cameo_ev.TakedownRequested,),
    USERS_TOPIC: (id_ev.ParentalControlsChanged, id_ev.UserCreated, id_ev.UserUpdated, id_ev.UserDeleted),
}
CONSUME_TOPICS = list(CONSUMES)
# What a cameo TakedownRequested names, as the handler passes it on.
TAKEDOWN_TARGET_POST = "post"
TAKEDOWN_TARGET_GENERATION = "generation"

# The status the feed's copy of a generation takes on each generator event (and the final ones,
# which remove its post).
GENERATION_PENDING = "pending"
GENERATION_COMPLETED = "completed"
GENERATION_FAILED = "failed"
GENERATION_CANCELED = "canceled"
GENERATION_TAKEN_DOWN = "taken_down"
GENERATION_DELETED = "deleted"
GENERATION_REMOVED = (GENERATION_TAKEN_DOWN, GENERATION_DELETED)
