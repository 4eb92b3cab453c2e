"""Every Kafka topic of the platform, named once: the service whose outbox writes it and the
event types (protobuf messages of its area's events.proto) it carries. Services may not import
each other, so a consumer takes the producer's topic name from here, not from a string of its
own (services/<svc>/topics.py says which of these each service writes and reads).

Topics are named `kinora.<area>.<stream>.v1`; each is written by one service, its area's. The
runtime (kinora.runtime) does not import this module: it knows no service's contract."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from kinora.billing.v1 import events_pb2 as billing_ev
from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev


@dataclass(frozen=True)
class Topic:
    name: str
    producer: str  # the service whose outbox writes it (its Kafka user alone may)
    event_types: tuple[type[Message], ...]


# --- identity ------------------------------------------------------------------------------------
IDENTITY_USERS = "kinora.identity.users.v1"
IDENTITY_VERIFICATIONS = "kinora.identity.verifications.v1"

# --- cameo ---------------------------------------------------------------------------------------
CAMEO_CONSENT = "kinora.cameo.consent.v1"
CAMEO_TAKEDOWNS = "kinora.cameo.takedowns.v1"
CAMEO_NOTIFICATIONS = "kinora.cameo.notifications.v1"

# --- feed ----------------------------------------------------------------------------------------
FEED_POSTS = "kinora.feed.posts.v1"
FEED_GRAPH = "kinora.feed.graph.v1"

# --- generator -----------------------------------------------------------------------------------
GENERATOR_GENERATIONS = "kinora.generator.generations.v1"
GENERATOR_DEMAND = "kinora.generator.demand.v1"

# --- billing -------------------------------------------------------------------------------------
BILLING_USAGE = "kinora.billing.usage.v1"
BILLING_PAYMENTS = "kinora.billing.payments.v1"
BILLING_RECONCILIATION = "kinora.billing.reconciliation.v1"

TOPICS: tuple[Topic, ...] = (
    Topic(
        IDENTITY_USERS,
        "identity",
        (
            id_ev.UserCreated,
            id_ev.UserUpdated,
            id_ev.GuardianLinked,
            id_ev.GuardianUnlinked,
            id_ev.ParentalControlsChanged,
            id_ev.UserDeleted,
        ),
    ),
    Topic(IDENTITY_VERIFICATIONS, "identity", (id_ev.CameoVerified, id_ev.VerificationFailed)),
    Topic(
        CAMEO_CONSENT,
        "cameo",
        (
            cameo_ev.CameoCreated,
            cameo_ev.PolicyChanged,
            cameo_ev.AccessRevoked,
            cameo_ev.CameoDeleted,
            cameo_ev.CharacterCreated,
            cameo_ev.CharacterDeleted,
        ),
    ),
    Topic(CAMEO_TAKEDOWNS, "cameo", (cameo_ev.TakedownRequested,)),
    Topic(CAMEO_NOTIFICATIONS, "cameo", (cameo_ev.CameoUsed,)),
    Topic(FEED_POSTS, "feed", (feed_ev.PostPublished, feed_ev.PostRemoved)),
    Topic(FEED_GRAPH, "feed", (feed_ev.FollowChanged, feed_ev.BlockChanged)),
    Topic(
        GENERATOR_GENERATIONS,
        "generator",
        (
            gen_ev.GenerationRequested,
            gen_ev.GenerationStarted,
            gen_ev.GenerationProgress,
            gen_ev.GenerationCompleted,
            gen_ev.GenerationFailed,
            gen_ev.GenerationCanceled,
            gen_ev.GenerationTakenDown,
            gen_ev.GenerationDeleted,
        ),
    ),
    Topic(GENERATOR_DEMAND, "generator", (gen_ev.DemandChanged,)),
    Topic(BILLING_USAGE, "billing", (billing_ev.UsageRecorded,)),
    Topic(
        BILLING_PAYMENTS,
        "billing",
        (billing_ev.CreditsPurchased, billing_ev.CreditsRefunded, billing_ev.SubscriptionChanged),
    ),
    Topic(BILLING_RECONCILIATION, "billing", (billing_ev.LedgerDriftDetected,)),
)
BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}


def written_by(producer: str) -> dict[str, tuple[type[Message], ...]]:
    """The topics `producer` writes, each with the event types it carries (declaration order)."""
    return {t.name: t.event_types for t in TOPICS if t.producer == producer}
