"""Metrics shared by every service: RED per RPC and the event pipeline.
Business metrics live with their service (e.g. services/generator/metrics.py)."""

from prometheus_client import Counter, Gauge, Histogram

RPC_REQUESTS = Counter("kinora_grpc_requests_total", "gRPC calls handled", ["service", "method", "code"])
RPC_DURATION = Histogram(
    "kinora_grpc_request_duration_seconds",
    "gRPC handling time",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_PUBLISHED = Counter("kinora_outbox_published_total", "Events relayed from the outbox", ["service"])
OUTBOX_REPUBLISHED = Counter(
    "kinora_outbox_republished_total", "Retained events published again because the broker lost them", ["service"]
)
OUTBOX_PENDING = Gauge("kinora_outbox_pending", "Outbox rows waiting to be relayed (last seen)", ["service"])
EVENTS_CONSUMED = Counter("kinora_events_consumed_total", "Events handled", ["service", "topic", "result"])
CONSUMER_LAG = Gauge("kinora_consumer_lag", "Records behind the log end", ["service", "topic"])
