"""Billing's business metrics."""

from prometheus_client import Counter, Gauge

LEDGER_DRIFT = Gauge(
    "kinora_ledger_drift_minor_units", "Drift found by the last reconciliation (absolute, summed over units); must be 0"
)
LEDGER_TRANSACTIONS = Counter("kinora_ledger_transactions_total", "Ledger transactions posted", ["kind"])
RESERVATIONS = Counter("kinora_billing_reservations_total", "Reservations made", ["rule"])
SETTLEMENTS = Counter("kinora_billing_settlements_total", "Reservations settled", ["outcome"])
