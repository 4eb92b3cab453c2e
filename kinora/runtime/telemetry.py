"""Tracing (OpenTelemetry) and metrics (Prometheus) set-up, once per process.

The W3C trace context travels in gRPC metadata and Kafka record headers; both
use the same global propagator, so one trace follows a request across the
gRPC call, the outbox, the broker and the consumer.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import start_http_server

_lock = threading.Lock()
_provider: TracerProvider | None = None


def setup_tracing(service: str, otlp_endpoint: str | None = None) -> TracerProvider:
    """Install the SDK tracer provider (first caller names the resource) and an
    OTLP exporter when an endpoint is configured."""
    global _provider
    with _lock:
        if _provider is None:
            _provider = TracerProvider(resource=Resource.create({"service.name": service}))
            trace.set_tracer_provider(_provider)
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
        return _provider


def add_span_processor(processor: SpanProcessor) -> None:
    setup_tracing("kinora").add_span_processor(processor)


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def inject_context(carrier: dict[str, str]) -> dict[str, str]:
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: dict[str, str]) -> Context:
    return propagate.extract(carrier)


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def serve_metrics(port: int, host: str = "0.0.0.0") -> tuple[WSGIServer, int]:
    """Start `/metrics` on a background thread; returns (server, bound port)."""
    server, _thread = start_http_server(port, addr=host)
    return server, int(server.server_address[1])
