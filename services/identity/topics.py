"""Identity's Kafka contract in one place: the topics it writes (and the event
types on each), the topic it reads (and the event type it handles there), and
the aggregate type its outbox rows carry."""

from __future__ import annotations

from kinora import topics as platform
from kinora.cameo.v1 import events_pb2 as cameo_ev

# Written (through the outbox); the event types on each are declared in kinora.topics.
USERS_TOPIC = platform.IDENTITY_USERS
VERIFICATIONS_TOPIC = platform.IDENTITY_VERIFICATIONS
WRITES = platform.written_by("identity")
TOPICS = list(WRITES)

# The outbox's aggregate type: every identity event is keyed by the user it is about.
USER_AGGREGATE = "user"

# Read (one consumer group, handlers in handlers.py): a deleted cameo's likeness is erased here;
# characters' handles are reserved (reserved.py).
CAMEO_CONSENT_TOPIC = platform.CAMEO_CONSENT
CONSUMES = {
    CAMEO_CONSENT_TOPIC: (cameo_ev.CameoDeleted, cameo_ev.CharacterCreated, cameo_ev.CharacterDeleted),
}
CONSUME_TOPICS = list(CONSUMES)
