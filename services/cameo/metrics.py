"""Cameo business metrics."""

from prometheus_client import Counter

CONSENT_CHECKS = Counter("kinora_cameo_consent_checks_total", "Per-cameo consent decisions", ["reason"])
TAKEDOWNS = Counter("kinora_cameo_takedowns_total", "Appearances sent for takedown", ["cause"])
