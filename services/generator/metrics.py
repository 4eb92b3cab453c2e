"""The generator's business metrics (RED per RPC comes from the runtime)."""

from prometheus_client import Counter, Gauge, Histogram

QUEUE_DEPTH = Gauge("kinora_generation_queue_depth", "Queued generations", ["tier", "model"])
QUEUE_WAIT = Histogram(
    "kinora_generation_queue_wait_seconds",
    "Time from queued to started",
    ["tier"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
GENERATIONS = Counter("kinora_generations_total", "Generations by model and status reached", ["model", "status"])
GENERATION_SECONDS = Histogram(
    "kinora_generation_seconds",
    "Time from started to completed",
    ["model"],
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200),
)
