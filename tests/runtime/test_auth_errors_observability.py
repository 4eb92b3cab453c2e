"""Authentication context, error mapping, RED metrics, /metrics and JSON logs
through a real in-process server built on the runtime."""

import io
import json
import logging
import urllib.request

import grpc
import pytest

from kinora.runtime import auth
from kinora.runtime.auth import TokenVerifier, mint_service_token
from kinora.runtime.errors import ERROR_CODE_KEY, InvalidArgument, error_code_of
from kinora.runtime.logs import JsonFormatter
from kinora.runtime.server import ServiceApp
from kinora.runtime.settings import RuntimeSettings
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer

SECRET = "a-test-internal-secret-long-enough-for-hs256"


class Calls:
    def __init__(self):
        self.fetches = 0


async def whoami(request: bytes, context) -> bytes:
    p = auth.require_user()
    return f"{p.subject}/{p.handle}/{p.teen}".encode()


async def refuse(request: bytes, context) -> bytes:
    raise InvalidArgument("the prompt is longer than 2,000 characters", "prompt_too_long")


async def crash(request: bytes, context) -> bytes:
    raise ZeroDivisionError("boom")


@pytest.fixture
async def server():
    issuer = LocalIssuer("k1")
    calls = Calls()
    keys = {"current": issuer}

    async def fetch():
        calls.fetches += 1
        return keys["current"].jwks()

    verifier = TokenVerifier(fetch, internal_secret=SECRET, min_refresh_s=0)
    app = ServiceApp(
        "authtest",
        RuntimeSettings(grpc_host="127.0.0.1", grpc_port=free_port(), metrics_port=free_port(), internal_secret=SECRET),
        verifier,
    )
    app.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "kinora.test.v1.T",
                {
                    "WhoAmI": grpc.unary_unary_rpc_method_handler(whoami),
                    "Refuse": grpc.unary_unary_rpc_method_handler(refuse),
                    "Crash": grpc.unary_unary_rpc_method_handler(crash),
                },
            )
        ]
    )
    await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    yield app, channel, issuer, keys, calls
    await channel.close()
    await app.stop()


async def call(channel, method, token=None):
    return await channel.unary_unary(f"/kinora.test.v1.T/{method}")(
        b"", metadata=bearer(token) if token else None, timeout=5
    )


async def test_user_token_is_verified_and_visible_to_the_handler(server):
    app, channel, issuer, _, calls = server
    assert await call(channel, "WhoAmI", issuer.token("u-1", "alice", teen=True)) == b"u-1/alice/True"
    assert calls.fetches >= 1


async def test_missing_bad_expired_and_forged_tokens_are_refused(server):
    app, channel, issuer, _, _ = server
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(channel, "WhoAmI")
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and "sign in" in err.value.details()
    for bad, words in [
        ("not-a-jwt", "malformed"),
        (issuer.token("u", ttl_s=-60), "expired"),
        (LocalIssuer("k1").token("u"), "not valid"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(channel, "WhoAmI", bad)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert words in err.value.details()


async def test_rotated_key_is_fetched_once_and_old_tokens_keep_working(server):
    app, channel, issuer, keys, calls = server
    old_token = issuer.token("u-old", "old")
    assert await call(channel, "WhoAmI", old_token) == b"u-old/old/False"
    new = LocalIssuer("k2")

    class Both:  # JWKS now lists the new key and still the old one
        def jwks(self):
            return {"keys": issuer.jwks()["keys"] + new.jwks()["keys"]}

    keys["current"] = Both()
    before = calls.fetches
    assert await call(channel, "WhoAmI", new.token("u-new", "new")) == b"u-new/new/False"
    assert calls.fetches == before + 1
    assert await call(channel, "WhoAmI", old_token) == b"u-old/old/False"


async def test_service_tokens_are_not_users(server):
    app, channel, _, _, _ = server
    token = mint_service_token("generator", SECRET)[0]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(channel, "WhoAmI", token)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    forged = mint_service_token("generator", "wrong-secret-wrong-secret-wrong-secret")[0]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(channel, "WhoAmI", forged)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_domain_errors_keep_their_message_and_code(server):
    app, channel, _, _, _ = server
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(channel, "Refuse")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "the prompt is longer than 2,000 characters"
    assert error_code_of(err.value) == "prompt_too_long"
    assert (ERROR_CODE_KEY, "prompt_too_long") in tuple(err.value.trailing_metadata())


async def test_unexpected_errors_are_internal_with_a_reference_not_a_traceback(server):
    app, channel, _, _, _ = server
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(channel, "Crash")
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "boom" not in err.value.details() and "reference" in err.value.details()


async def test_red_metrics_on_the_metrics_endpoint(server):
    app, channel, issuer, _, _ = server
    await call(channel, "WhoAmI", issuer.token("u-1"))
    with pytest.raises(grpc.aio.AioRpcError):
        await call(channel, "Refuse")
    body = urllib.request.urlopen(f"http://127.0.0.1:{app.metrics_port}/metrics", timeout=5).read().decode()
    assert 'kinora_grpc_requests_total{code="OK",method="WhoAmI",service="authtest"}' in body
    assert 'kinora_grpc_requests_total{code="INVALID_ARGUMENT",method="Refuse",service="authtest"}' in body
    assert 'kinora_grpc_request_duration_seconds_count{method="WhoAmI",service="authtest"}' in body


def test_json_logs_carry_trace_ids_and_redact_secrets():
    from opentelemetry import trace

    from kinora.runtime.telemetry import setup_tracing

    setup_tracing("logtest")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("logtest"))
    log = logging.getLogger("kinora.test.logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    with trace.get_tracer("t").start_as_current_span("work") as span:
        log.info("signed in", extra={"user_id": "u-1", "password": "hunter2"})
    entry = json.loads(stream.getvalue().strip())
    assert entry["msg"] == "signed in" and entry["service"] == "logtest" and entry["user_id"] == "u-1"
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert entry["password"] == "[redacted]" and "hunter2" not in stream.getvalue()


async def test_outgoing_channels_forward_the_callers_token_on_every_call_shape(server):
    from kinora.runtime.clients import channel

    app, _, issuer, _, _ = server

    async def stream_whoami(request: bytes, context):
        yield await whoami(request, context)

    # A second service the first one calls while serving a user.
    downstream = ServiceApp("downstream", RuntimeSettings(grpc_host="127.0.0.1", grpc_port=free_port()), app.verifier)
    downstream.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "kinora.test.v1.D",
                {
                    "WhoAmI": grpc.unary_unary_rpc_method_handler(whoami),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream_whoami),
                },
            )
        ]
    )
    await downstream.start()
    try:
        async with channel(f"127.0.0.1:{downstream.port}") as ch:
            # No current user: an explicit header is kept.
            assert (
                await ch.unary_unary("/kinora.test.v1.D/WhoAmI")(
                    b"", metadata=bearer(issuer.token("u-x", "x")), timeout=5
                )
                == b"u-x/x/False"
            )
            token = issuer.token("u-2", "bob")
            reset = auth.current_principal.set(auth.Principal("u-2", "user", "bob", token=token))
            try:
                assert await ch.unary_unary("/kinora.test.v1.D/WhoAmI")(b"", timeout=5) == b"u-2/bob/False"
                items = [i async for i in ch.unary_stream("/kinora.test.v1.D/Stream")(b"", timeout=5)]
                assert items == [b"u-2/bob/False"]
            finally:
                auth.current_principal.reset(reset)
    finally:
        await downstream.stop()


async def test_nul_characters_and_unstorable_values_are_invalid_arguments():
    from sqlalchemy import create_engine, text

    from kinora.identity.v1 import identity_pb2
    from kinora.testing import temporary_database

    with temporary_database() as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v varchar(8))"))

        async def store(request, context):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": request.user_id})
            return identity_pb2.GetUserResponse()

        app = ServiceApp("valtest", RuntimeSettings(grpc_host="127.0.0.1", grpc_port=free_port()))
        app.server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "kinora.test.v1.V",
                    {
                        "Store": grpc.unary_unary_rpc_method_handler(
                            store,
                            request_deserializer=identity_pb2.GetUserRequest.FromString,
                            response_serializer=identity_pb2.GetUserResponse.SerializeToString,
                        )
                    },
                )
            ]
        )
        await app.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as ch:
                rpc = ch.unary_unary(
                    "/kinora.test.v1.V/Store",
                    request_serializer=identity_pb2.GetUserRequest.SerializeToString,
                    response_deserializer=identity_pb2.GetUserResponse.FromString,
                )
                for value, code in (("a\x00b", "nul_in_text"), ("x" * 100, "invalid_value")):
                    with pytest.raises(grpc.aio.AioRpcError) as err:
                        await rpc(identity_pb2.GetUserRequest(user_id=value), timeout=5)
                    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                    assert error_code_of(err.value) == code
                await rpc(identity_pb2.GetUserRequest(user_id="ok"), timeout=5)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT v FROM t")).scalars().all() == ["ok"]
        finally:
            await app.stop()
            engine.dispose()
