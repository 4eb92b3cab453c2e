"""Feed business metrics (RED per RPC comes from the runtime)."""

from prometheus_client import Counter, Histogram

FEED_FALLBACKS = Counter(
    "kinora_feed_fallback_total", "GetFeed pages served reverse-chronologically because the scorer failed"
)
FEED_LATENCY = Histogram(
    "kinora_feed_latency_seconds",
    "GetFeed time, ranking included",
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5),
)
FEED_STAGE_SECONDS = Histogram(
    "kinora_feed_stage_seconds",
    "Time per ranking stage",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
)
