"""Billing's Kafka topics and the aggregate types on its outbox rows, named
once. Event types need no names here: each is its protobuf message's full
name (kinora.runtime.events.event_type_of)."""

TOPIC_USAGE = "kinora.billing.usage.v1"  # UsageRecorded
TOPIC_PAYMENTS = "kinora.billing.payments.v1"  # CreditsPurchased, CreditsRefunded, SubscriptionChanged
TOPIC_RECONCILIATION = "kinora.billing.reconciliation.v1"  # LedgerDriftDetected
TOPICS = [TOPIC_USAGE, TOPIC_PAYMENTS, TOPIC_RECONCILIATION]  # what billing's outbox writes

# The aggregate (type, and id column) each event is about.
AGGREGATE_RESERVATION = "reservation"
AGGREGATE_PURCHASE = "purchase"
AGGREGATE_SUBSCRIPTION = "subscription"
AGGREGATE_LEDGER = "ledger"

# Other services' topics billing consumes (see handlers.py).
CONSUME_TOPICS = ["kinora.generator.generations.v1", "kinora.generator.demand.v1", "kinora.identity.users.v1"]
