"""Identity's Kafka contract in one place: the topics it writes (and the event
types on each), the topic it reads (and the event type it handles there), and
the aggregate type its outbox rows carry."""

from __future__ import annotations

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.identity.v1 import events_pb2 as id_ev

# Written (through the outbox).
USERS_TOPIC = "kinora.identity.users.v1"
VERIFICATIONS_TOPIC = "kinora.identity.verifications.v1"
WRITES = {
    USERS_TOPIC: (
        id_ev.UserCreated,
        id_ev.UserUpdated,
        id_ev.GuardianLinked,
        id_ev.GuardianUnlinked,
        id_ev.ParentalControlsChanged,
        id_ev.UserDeleted,
    ),
    VERIFICATIONS_TOPIC: (id_ev.CameoVerified, id_ev.VerificationFailed),
}
TOPICS = list(WRITES)

# The outbox's aggregate type: every identity event is keyed by the user it is about.
USER_AGGREGATE = "user"

# Read (one consumer group, handlers in handlers.py): a deleted cameo's likeness is erased here;
# characters' handles are reserved (reserved.py).
CAMEO_CONSENT_TOPIC = "kinora.cameo.consent.v1"
CONSUMES = {
    CAMEO_CONSENT_TOPIC: (cameo_ev.CameoDeleted, cameo_ev.CharacterCreated, cameo_ev.CharacterDeleted),
}
CONSUME_TOPICS = list(CONSUMES)
