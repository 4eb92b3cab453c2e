"""Billing's Kafka topics and the aggregate types on its outbox rows, named
once, and the topics it reads with the event types it handles on each
(handlers.py has one handler per type; the runtime subscribes by them).
Event types need no names here: each is its protobuf message's full name
(kinora.runtime.events.event_type_of)."""

from kinora import topics as platform
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev

# Written (through the outbox); the event types on each are in kinora.topics.
TOPIC_USAGE = platform.BILLING_USAGE  # UsageRecorded
TOPIC_PAYMENTS = platform.BILLING_PAYMENTS  # CreditsPurchased, CreditsRefunded, SubscriptionChanged
TOPIC_RECONCILIATION = platform.BILLING_RECONCILIATION  # LedgerDriftDetected
TOPICS = [TOPIC_USAGE, TOPIC_PAYMENTS, TOPIC_RECONCILIATION]  # what billing's outbox writes

# The aggregate (type, and id column) each event is about.
AGGREGATE_RESERVATION = "reservation"
AGGREGATE_PURCHASE = "purchase"
AGGREGATE_SUBSCRIPTION = "subscription"
AGGREGATE_LEDGER = "ledger"

# Other services' topics billing consumes, and the event types it handles there (see handlers.py).
CONSUMES = {
    platform.GENERATOR_GENERATIONS: (gen_ev.GenerationCompleted, gen_ev.GenerationFailed, gen_ev.GenerationCanceled),
    platform.GENERATOR_DEMAND: (gen_ev.DemandChanged,),
    platform.IDENTITY_USERS: (id_ev.UserCreated, id_ev.UserDeleted),
}
CONSUME_TOPICS = list(CONSUMES)
