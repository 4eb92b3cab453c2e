"""The generator's Kafka contract in one place: the topics it writes, and the
topics it reads with the event types it handles on each (handlers.py; the
runtime subscribes by these types)."""

from __future__ import annotations

from kinora import topics as platform
from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.identity.v1 import events_pb2 as id_ev

# Written (through the outbox); the event types on each are declared in kinora.topics.
GENERATIONS_TOPIC = platform.GENERATOR_GENERATIONS
DEMAND_TOPIC = platform.GENERATOR_DEMAND
TOPICS = [GENERATIONS_TOPIC, DEMAND_TOPIC]

# Read (one consumer group).
TAKEDOWN_TOPIC = platform.CAMEO_TAKEDOWNS
CONSENT_TOPIC = platform.CAMEO_CONSENT
USERS_TOPIC = platform.IDENTITY_USERS
CONSUMES = {
    TAKEDOWN_TOPIC: (cameo_ev.TakedownRequested,),  # a video or a likeness taken down
    CONSENT_TOPIC: (cameo_ev.CameoDeleted,),
    USERS_TOPIC: (id_ev.UserDeleted,),  # the person's generations go
}
CONSUME_TOPICS = list(CONSUMES)
