"""Billing storage (SQLAlchemy Core).

The ledger is `accounts` + `ledger_transactions` + `ledger_entries`:
entries are only ever inserted; an account's `balance` is updated in the
same database transaction as its entries, under a row lock, so it always
equals the sum of its entries. User accounts may never go negative (CHECK)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

from kinora.runtime.db import BigId
from kinora.runtime.events import define_event_tables

metadata = MetaData()

billing_users = Table(
    "billing_users",
    metadata,
    Column("user_id", String(64), primary_key=True),
    # The UTC day the allowance was last granted for, and how much was granted.
    Column("allowance_day", Date),
    Column("allowance_granted", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("owner", String(64), nullable=False),  # a user id, or "platform"
    Column("kind", String(24), nullable=False),  # credits | held | allowance | revenue | issued | clearing
    Column("unit", String(16), nullable=False),  # credits | allowance | ISO 4217 code
    Column("balance", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("owner", "kind", "unit", name="uq_accounts_owner_kind_unit"),
    CheckConstraint("owner = 'platform' OR balance >= 0", name="ck_accounts_user_not_negative"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("user_id", String(64)),
    Column("generation_id", String(64)),
    Column("purchase_id", String(36)),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # References without foreign keys (their per-row triggers were a third of metering's settle
    # statement); only the ledger writes entries, and reconciliation reports any dangling one.
    Column("transaction_id", String(36), nullable=False),
    Column("account_id", BigId, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_ledger_entries_account_id", "account_id", "id"),  # statements read by account; nothing by transaction
)

quotes = Table(
    "quotes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("size", String(16), nullable=False),
    Column("rule", Integer, nullable=False),
    Column("price_credits", BigInteger, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("estimated_wait_seconds", Float, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("generation_id", String(64), nullable=False, unique=True),
    Column("user_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # held | captured | released | expired
    Column("rule", Integer, nullable=False),
    Column("tier", Integer, nullable=False),
    Column("allowance_units", Integer, nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("model", String(64), nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("size", String(16), nullable=False),
    Column("quote_id", String(36)),
    Column("day", Date, nullable=False),  # the UTC day whose allowance was used
    Column("reason", String(64), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
    Index("ix_reservations_status_expires_at", "status", "expires_at"),
    Index("ix_reservations_user_id", "user_id"),
)

purchases = Table(
    "purchases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("pack_id", String(64), nullable=False),
    Column("credits", BigInteger, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),  # pending | succeeded | declined | failed | refunded
    Column("provider", String(32), nullable=False),
    Column("provider_payment_id", String(128)),
    Column("idempotency_key", String(128)),
    Column("failure_message", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("user_id", "idempotency_key", name="uq_purchases_user_idempotency_key"),
    Index("ix_purchases_provider_payment_id", "provider_payment_id"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("plan_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # active | canceling | ended | past_due
    Column("current_period_start", DateTime(timezone=True), nullable=False),
    Column("current_period_end", DateTime(timezone=True), nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False, server_default="0"),
    Column("provider_payment_id", String(128)),
    Column("idempotency_key", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_subscriptions_user_id", "user_id"),
    Index("ix_subscriptions_provider_payment_id", "provider_payment_id"),
)

# Provider webhook events already handled (replays are answered "duplicate").
payment_events = Table(
    "payment_events",
    metadata,
    Column("event_key", String(160), primary_key=True),  # provider:event id
    Column("type", String(64), nullable=False),
    Column("provider_payment_id", String(128), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# Latest DemandChanged per pool ("" = platform aggregate).
demand = Table(
    "demand",
    metadata,
    Column("pool_name", String(128), primary_key=True),
    Column("free_queue_depth", Integer, nullable=False),
    Column("free_wait_seconds", Float, nullable=False),
    Column("measured_at", DateTime(timezone=True), nullable=False),
)

# What metering saw happen to each generation; reconciliation compares it with captures.
generation_outcomes = Table(
    "generation_outcomes",
    metadata,
    Column("generation_id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # completed | failed | canceled
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("ix_generation_outcomes_recorded_at", "recorded_at", postgresql_using="brin"),  # appended in time order
)

tables = define_event_tables(metadata)
