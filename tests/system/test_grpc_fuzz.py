"""Hypothesis against every gRPC method of every service: requests built from
the protobuf descriptors (hostile values mixed with ids that exist), sent with
every kind of credential (none, malformed, user, teen, guardian, API key,
service). The server must never answer INTERNAL or UNKNOWN, must answer within
the deadline, and a refused call must leave the service's tables exactly as
they were (every table's contents hashed before and after).

KINORA_FUZZ_EXAMPLES sets examples per method (default 12, ~97 methods)."""

from __future__ import annotations

import os
import time
from collections import Counter

import grpc
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from platform_harness import table_digests
from protofuzz import message

from kinora.billing.v1 import billing_pb2
from kinora.cameo.v1 import cameo_pb2
from kinora.feed.v1 import feed_pb2
from kinora.generator.v1 import generator_pb2
from kinora.identity.v1 import identity_pb2
from kinora.testing import bearer

EXAMPLES = int(os.environ.get("KINORA_FUZZ_EXAMPLES", "12"))
CALL_TIMEOUT_S = 15.0  # far above any honest answer here; hitting it means a hang
STREAM_WINDOW_S = 2.0  # streams of a queued job legitimately stay open: read for this long
# Shrinking re-sends many requests; off by default to keep the suite short, KINORA_FUZZ_SHRINK=1 turns it on.
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("KINORA_FUZZ_SHRINK") else [])

SERVICES = {
    "identity": identity_pb2,
    "cameo": cameo_pb2,
    "feed": feed_pb2,
    "generator": generator_pb2,
    "billing": billing_pb2,
}
METHODS = [
    (name, svc, m)
    for name, module in SERVICES.items()
    for svc in module.DESCRIPTOR.services_by_name.values()
    for m in svc.methods
]

# Tables a refused call may legitimately write, with the reason.
MAY_CHANGE_WHEN_REFUSED = {
    ("identity", "SignIn"): {"signin_failures"},  # failed attempts are counted to throttle guessing
    ("identity", "RefreshTokens"): {"signin_failures"},
    # a wrong password is counted like a failed sign-in, so neither can be guessed freely
    ("identity", "DeleteAccount"): {"signin_failures"},
    ("identity", "ChangePassword"): {"signin_failures"},
}
CREDENTIALS = ["anonymous", "owner", "other", "teen", "guardian", "apikey", "service", "malformed", "basic"]
CASES: Counter = Counter()
OUTCOMES: dict[str, Counter] = {}


def _metadata(principals, who):
    if who == "malformed":
        return bearer("not.a.jwt")
    if who == "basic":
        return [("authorization", "Basic dXNlcjpwYXNz")]
    return principals.md(who)


@pytest.fixture(scope="module")
def report(request):
    yield
    writer = request.config.pluginmanager.get_plugin("terminalreporter")
    writer.write_line(f"\ngRPC fuzz: {sum(CASES.values())} cases, {EXAMPLES} max examples per method")
    for name in SERVICES:
        codes = ", ".join(f"{c}={n}" for c, n in sorted(OUTCOMES.get(name, Counter()).items()))
        writer.write_line(f"  {name}: {CASES[name]} cases ({codes})")


@pytest.mark.parametrize("service_name,service,method", METHODS, ids=[f"{s.name}.{m.name}" for _, s, m in METHODS])
def test_no_internal_error_hang_or_change_on_refusal(platform, principals, report, service_name, service, method):
    known = [
        principals.owner["id"],
        principals.other["id"],
        principals.teen["id"],
        principals.guardian["id"],
        principals.owner["handle"],
        principals.cameo_id,
        principals.generation_id,
        principals.post_id,
    ]
    request_class = message(method.input_type, known)
    output = _output_class(service_name, method)
    path = f"/{service.full_name}/{method.name}"
    channel = platform.channel(service_name)
    call = (channel.unary_stream if method.server_streaming else channel.unary_unary)(
        path, request_serializer=lambda m: m.SerializeToString(), response_deserializer=output.FromString
    )
    url = platform.db_url[service_name]
    allowed_changes = MAY_CHANGE_WHEN_REFUSED.get((service_name, method.name), set())

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck), phases=PHASES
    )
    @given(request=request_class, who=st.sampled_from(CREDENTIALS))
    def probe(request, who):
        before = table_digests(url)
        started = time.monotonic()
        code, detail = _invoke(call, method, request, _metadata(principals, who))
        elapsed = time.monotonic() - started
        CASES[service_name] += 1
        OUTCOMES.setdefault(service_name, Counter())[code.name] += 1
        assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (
            f"{method.name} as {who} answered {code.name}: {detail!r}\nrequest: {_short(request)}"
        )
        assert code != grpc.StatusCode.DEADLINE_EXCEEDED, (
            f"{method.name} as {who} hung for {elapsed:.1f}s\nrequest: {_short(request)}"
        )
        if code != grpc.StatusCode.OK and code != grpc.StatusCode.RESOURCE_EXHAUSTED:
            after = table_digests(url)
            changed = {t for t in after if after[t] != before.get(t)} - allowed_changes
            assert not changed, (
                f"{method.name} as {who} was refused ({code.name}: {detail}) but changed "
                f"{sorted(changed)}\nrequest: {_short(request)}"
            )

    try:
        probe()
    finally:
        channel.close()


def _invoke(call, method, request, metadata):
    try:
        if method.server_streaming:
            stream = call(request, metadata=metadata, timeout=STREAM_WINDOW_S)
            for _ in stream:
                pass
        else:
            call(request, metadata=metadata, timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as exc:
        code = exc.code()
        if method.server_streaming and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return grpc.StatusCode.OK, "stream stayed open (a job still running)"
        return code, exc.details()
    return grpc.StatusCode.OK, ""


def _output_class(service_name, method):
    from google.protobuf.message_factory import GetMessageClass

    return GetMessageClass(method.output_type)


def _short(request) -> str:
    text = str(request)
    return text if len(text) < 1500 else text[:1500] + f"... ({len(text)} chars)"
