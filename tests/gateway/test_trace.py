"""One generation is one trace, from the tap to the clip (issue 23 part 4).

A person with a verified cameo asks the gateway for a clip of herself; the request carries the
phone's own W3C traceparent. Every hop must land in that one trace: the gateway's request span,
the generator's CreateGeneration, cameo's consent check, billing's hold, the queued job picked
up by the worker, the Triton call, billing's capture, and the consumers in other services that
apply the generator's events from Kafka. Spans are read back from an in-memory exporter on the
five real services (in-process), the real broker and the real Triton server."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from test_cameo_erasure import generator_worker
from test_likeness_guard import verify_cameo

from kinora.runtime import telemetry

pytestmark = pytest.mark.asyncio(loop_scope="module")
RPC = "kinora.{}.v1.{}/{}"
COMPLETED = "consume kinora.generator.v1.GenerationCompleted"
CAPTURE = RPC.format("billing", "BillingService", "Capture")
GROUP = "messaging.consumer.group.name"  # the consumer span's attribute: the group (service) that applied it
# The services whose consumers must apply the generator's GenerationCompleted in the same trace: the
# feed (the clip's post) and billing (its usage). Cameo also reads it, so a bare count would not tell.
COMPLETED_BY = {"feed", "billing"}


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        yield c


async def wait_for(exporter: InMemorySpanExporter, done, timeout_s: float = 120.0):
    for _ in range(int(timeout_s * 10)):
        spans = exporter.get_finished_spans()
        if done(spans):
            return spans
        await asyncio.sleep(0.1)
    raise AssertionError(f"the trace never completed: {sorted({s.name for s in exporter.get_finished_spans()})}")


async def one_generation(client, person: dict, exporter: InMemorySpanExporter, trace_hex: str) -> tuple[str, list]:
    """Ask for a clip of `person` under the phone's trace; the spans of that trace once its
    clip is captured and the feed's and billing's consumers have applied GenerationCompleted."""
    created = await client.post(
        "/api/v1/generations",
        json={"prompt": "a person waves on a beach at dusk", "seconds": 4, "cameos": [person["handle"]]},
        headers={**auth(person), "traceparent": f"00-{trace_hex}-{secrets.token_hex(8)}-01"},
    )
    assert created.status_code == 201, created.text

    def ours(spans):
        return [s for s in spans if format(s.context.trace_id, "032x") == trace_hex]

    def complete(spans):
        mine = ours(spans)
        names = {s.name for s in mine}
        groups = {s.attributes.get(GROUP) for s in mine if s.name == COMPLETED}
        return "generator.job" in names and CAPTURE in names and COMPLETED_BY <= groups

    return created.json()["generation"]["id"], ours(await wait_for(exporter, complete))


async def test_a_generation_is_one_trace_from_the_gateway_to_the_feeds_consumer(platform, client):
    alice = await platform.signup(client, f"tr{secrets.token_hex(4)}")
    await verify_cameo(client, alice)
    exporter = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        async with generator_worker(platform):
            gid, spans = await one_generation(client, alice, exporter, secrets.token_hex(16))
    finally:
        exporter.shutdown()
    by_id = {s.context.span_id: s for s in spans}

    def one(name: str, kind: SpanKind | None = None):
        found = [s for s in spans if s.name == name and (kind is None or s.kind == kind)]
        assert found, f"no {name} span in the trace: {sorted({s.name for s in spans})}"
        return found[0]

    def ancestors(span) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            names.append(span.name)
        return names

    request = one("POST /api/v1/generations", SpanKind.SERVER)
    create = one(RPC.format("generator", "GeneratorService", "CreateGeneration"), SpanKind.SERVER)
    check = one(RPC.format("cameo", "CameoService", "CheckUse"), SpanKind.SERVER)
    reserve = one(RPC.format("billing", "BillingService", "Reserve"), SpanKind.SERVER)
    job = one("generator.job")
    model = one("triton.generate")
    capture = one(CAPTURE, SpanKind.SERVER)
    consumed = [s for s in spans if s.name == COMPLETED]

    assert request.parent is not None  # it continues the phone's span
    assert request.name in ancestors(create)
    for span in (check, reserve):  # the synchronous checks of the create call
        assert create.name in ancestors(span), (span.name, ancestors(span))
    assert job.attributes["kinora.generation_id"] == gid
    assert job.parent.span_id == create.context.span_id  # the job continues the trace stored with it
    assert model.parent.span_id == job.context.span_id
    assert job.name in ancestors(capture)
    assert all(s.kind == SpanKind.CONSUMER for s in consumed)
    assert COMPLETED_BY <= {s.attributes.get(GROUP) for s in consumed}, [dict(s.attributes) for s in consumed]
    assert len({s.attributes["messaging.message.id"] for s in consumed}) == 1  # the one event, applied by each
    assert all(job.name in ancestors(s) for s in consumed), [ancestors(s) for s in consumed]
