"""Billing's Kafka topics and the aggregate types on its outbox rows, named
once, and the topics it reads with the event types it handles on each
(handlers.py has one handler per type; the runtime subscribes by them).
Event types need no names here: each is its protobuf message's full name
(kinora.runtime.events.event_type_of)."""

from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev

TOPIC_USAGE = "kinora.billing.usage.v1"  # UsageRecorded
TOPIC_PAYMENTS = "kinora.billing.payments.v1"  # CreditsPurchased, CreditsRefunded, SubscriptionChanged
TOPIC_RECONCILIATION = "kinora.billing.reconciliation.v1"  # LedgerDriftDetected
TOPICS = [TOPIC_USAGE, TOPIC_PAYMENTS, TOPIC_RECONCILIATION]  # what billing's outbox writes

# The aggregate (type, and id column) each event is about.
AGGREGATE_RESERVATION = "reservation"
AGGREGATE_PURCHASE = "purchase"
AGGREGATE_SUBSCRIPTION = "subscription"
AGGREGATE_LEDGER = "ledger"

# Other services' topics billing consumes, and the event types it handles there (see handlers.py).
CONSUMES = {
    "kinora.generator.generations.v1": (gen_ev.GenerationCompleted, gen_ev.GenerationFailed, gen_ev.GenerationCanceled),
    "kinora.generator.demand.v1": (gen_ev.DemandChanged,),
    "kinora.identity.users.v1": (id_ev.UserCreated, id_ev.UserDeleted),
}
CONSUME_TOPICS = list(CONSUMES)
