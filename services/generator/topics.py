"""The generator's Kafka contract in one place: the topics it writes, and the
topics it reads with the event types it handles on each (handlers.py; the
runtime subscribes by these types)."""

from __future__ import annotations

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.identity.v1 import events_pb2 as id_ev

# Written (through the outbox).
GENERATIONS_TOPIC = "kinora.generator.generations.v1"
DEMAND_TOPIC = "kinora.generator.demand.v1"
TOPICS = [GENERATIONS_TOPIC, DEMAND_TOPIC]

# Read (one consumer group).
TAKEDOWN_TOPIC = "kinora.cameo.takedowns.v1"
CONSENT_TOPIC = "kinora.cameo.consent.v1"
USERS_TOPIC = "kinora.identity.users.v1"
CONSUMES = {
    TAKEDOWN_TOPIC: (cameo_ev.TakedownRequested,),  # a video or a likeness taken down
    CONSENT_TOPIC: (cameo_ev.CameoDeleted,),
    USERS_TOPIC: (id_ev.UserDeleted,),  # the person's generations go
}
CONSUME_TOPICS = list(CONSUMES)
