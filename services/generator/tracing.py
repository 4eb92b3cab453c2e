"""One generation, one trace: CreateGeneration stores its W3C trace context
with the job (generations.trace_context); the worker continues that trace
when it claims the job, runs it, calls the model and emits the job's events
(kinora.runtime.events puts the current context in each event's headers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from kinora.runtime.telemetry import extract_context, tracer

_tracer = tracer("kinora.generator.worker")


def job_context(row):
    """The creating call's context of a generations row (None before it was stored)."""
    raw = getattr(row, "trace_context", None)
    if not raw:
        return None
    try:
        carrier = json.loads(raw)
    except ValueError:
        return None
    return extract_context(carrier) if isinstance(carrier, dict) and carrier else None


@contextmanager
def in_job_trace(row) -> Iterator[None]:
    """Make the job's trace current (e.g. while its GenerationStarted is emitted at claim)."""
    parent = job_context(row)
    if parent is None:
        yield
        return
    token = otel_context.attach(parent)
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def job_span(row, attempt: int, worker_id: str) -> Iterator[object]:
    """The worker's span for one attempt at a job, a child of CreateGeneration's."""
    with _tracer.start_as_current_span(
        "generator.job",
        context=job_context(row),
        kind=SpanKind.CONSUMER,
        attributes={
            "kinora.generation_id": row.id,
            "kinora.model": row.model,
            "kinora.attempt": attempt,
            "kinora.worker_id": worker_id,
        },
    ) as span:
        yield span


@contextmanager
def model_span(triton_model: str, generation_id: str) -> Iterator[object]:
    """Around the model server call (Triton gRPC)."""
    with _tracer.start_as_current_span(
        "triton.generate",
        kind=SpanKind.CLIENT,
        attributes={"rpc.system": "triton", "kinora.triton_model": triton_model, "kinora.generation_id": generation_id},
    ) as span:
        yield span
