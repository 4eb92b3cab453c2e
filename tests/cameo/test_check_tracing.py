"""CheckUse is traced inside its caller's trace, and only there: a check sent
with trace context gets a server span in that trace (what a generation's trace
shows); a check sent without one gets no root span of its own, which is most
of the interceptor's CPU per check (issue 25). Other methods keep their root spans."""

import secrets

import grpc
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.runtime import telemetry

CHECK_USE = "kinora.cameo.v1.CameoService/CheckUse"
GET_CAMEO = "kinora.cameo.v1.CameoService/GetCameo"


@pytest.fixture
def exporter():
    found = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(found))
    yield found
    found.shutdown()


def traceparent(trace_hex: str) -> tuple[str, str]:
    return ("traceparent", f"00-{trace_hex}-{secrets.token_hex(8)}-01")


async def test_a_check_has_a_span_in_its_callers_trace_and_none_of_its_own(replica, world, exporter):
    owner = world.user("tracy")
    cameo = world.verify(owner)
    service = list(world.as_service("generator"))
    request = pb.CheckUseRequest(requester_user_id=owner, cameo_ids=[cameo], prompt="waving on a beach")

    trace_hex = secrets.token_hex(16)
    reply = await replica.stub.CheckUse(request, metadata=[*service, traceparent(trace_hex)])
    assert reply.all_allowed
    checks = [s for s in exporter.get_finished_spans() if s.name == CHECK_USE]
    assert len(checks) == 1
    assert checks[0].kind == SpanKind.SERVER
    assert format(checks[0].context.trace_id, "032x") == trace_hex
    assert checks[0].parent is not None and checks[0].parent.is_remote

    exporter.clear()
    assert (await replica.stub.CheckUse(request, metadata=service)).all_allowed
    assert [s.name for s in exporter.get_finished_spans() if s.name == CHECK_USE] == []

    # Refused checks are still answered, and still traced under a caller's trace.
    bad = pb.CheckUseRequest(requester_user_id=owner, cameo_ids=["nope"], prompt="waving")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.CheckUse(bad, metadata=service)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trace_hex = secrets.token_hex(16)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.CheckUse(bad, metadata=[*service, traceparent(trace_hex)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    refused = [s for s in exporter.get_finished_spans() if s.name == CHECK_USE]
    assert len(refused) == 1 and format(refused[0].context.trace_id, "032x") == trace_hex
    assert refused[0].status.status_code == StatusCode.ERROR

    # Other methods still start a trace of their own.
    exporter.clear()
    await replica.stub.GetCameo(pb.GetCameoRequest(cameo_id=cameo), metadata=service)
    assert [s.name for s in exporter.get_finished_spans() if s.name == GET_CAMEO] == [GET_CAMEO]
