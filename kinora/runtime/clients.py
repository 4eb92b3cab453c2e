"""Outgoing gRPC: channels that carry the trace context and credentials.

By default a call made while serving a user's request forwards that user's
access token, so downstream services authorise the real caller. Background
work (workers, consumers) passes a `TokenSource` for a service token instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import grpc
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kinora.runtime import auth
from kinora.runtime.telemetry import inject_context

# The transport switches stay importable from here, where callers have always found them.
from kinora.runtime.transport import (  # noqa: F401 - re-exported
    MAX_MESSAGE_BYTES,
    outgoing_credentials,
    stop_mutual_tls,
    use_mutual_tls,
    use_settings_tls,
)

_tracer = trace.get_tracer("kinora.grpc.client")

if TYPE_CHECKING:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
else:  # generic in the stubs only
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor


class TokenSource:
    """Caches a token and fetches a new one shortly before it expires."""

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]], margin_s: float = 30.0):
        self._fetch, self._margin = fetch, margin_s
        self._token, self._expires = "", 0.0

    async def token(self) -> str:
        if time.time() > self._expires - self._margin:
            self._token, self._expires = await self._fetch()
        return self._token


class _CallCredentials:
    """Adds the bearer token and the trace context to outgoing metadata."""

    def __init__(self, token_source: TokenSource | None):
        self.token_source = token_source

    async def _metadata(self, details: grpc.aio.ClientCallDetails) -> list[tuple[str, str]]:
        metadata: list[tuple[str, str]] = list(cast("Iterable[tuple[str, str]]", details.metadata or ()))
        if self.token_source is not None:
            token: str | None = await self.token_source.token()
        else:
            caller = auth.principal()
            token = caller.token if caller else None
        if token:  # an explicit authorization header is kept unless we have a token to send
            metadata = [(k, v) for k, v in metadata if k != "authorization"]
            metadata.append(("authorization", f"Bearer {token}"))
        metadata.extend(inject_context({}).items())
        return metadata

    def _details(
        self, details: grpc.aio.ClientCallDetails, metadata: list[tuple[str, str]]
    ) -> grpc.aio.ClientCallDetails:
        # grpc.aio takes a list of (key, value) pairs as metadata
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            cast("grpc.aio.Metadata", metadata),
            details.credentials,
            details.wait_for_ready,
        )


# grpc.aio files an interceptor under its first matching kind only, so each
# call shape gets its own class.
class _UnaryUnaryInterceptor(_CallCredentials, _UnaryUnary):
    async def intercept_unary_unary(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        method = cast("str | bytes", details.method)  # bytes under grpc.aio, whatever the stubs say
        name = method.decode() if isinstance(method, bytes) else method
        with _tracer.start_as_current_span(name.lstrip("/"), kind=SpanKind.CLIENT):
            call = await continuation(self._details(details, await self._metadata(details)), request)
            await call  # surface errors inside the span
            return call


class _UnaryStreamInterceptor(_CallCredentials, _UnaryStream):
    async def intercept_unary_stream(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        return await continuation(self._details(details, await self._metadata(details)), request)


# Spread calls over every address the target resolves to. gRPC keeps one
# long-lived HTTP/2 connection per address, so behind a plain (virtual IP)
# Kubernetes Service all of a client's calls would land on one replica; the
# chart gives each gRPC service a headless Service and its address is
# dns:///name:port, which resolves to every ready pod. Servers end connections
# after KINORA_GRPC_MAX_CONNECTION_AGE_S, so clients re-resolve and pick up new
# replicas. With one address (the local stack) this is the same as pick_first.
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def channel(
    address: str,
    token_source: TokenSource | None = None,
    credentials: grpc.ChannelCredentials | None = None,
    *,
    intercept: bool = True,
    options: list[tuple[str, Any]] | None = None,
) -> grpc.aio.Channel:
    """A channel to another service. With `intercept=False` the caller sets
    credentials and trace metadata on each call itself; `options` are added to
    the channel's own."""
    channel_options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.service_config", ROUND_ROBIN),
        *(options or []),
    ]
    # grpc-stubs type the interceptors as a placeholder one must cast to
    interceptors: list[Any] = (
        [_UnaryUnaryInterceptor(token_source), _UnaryStreamInterceptor(token_source)] if intercept else []
    )
    credentials = credentials or outgoing_credentials()
    if credentials is not None:
        return grpc.aio.secure_channel(address, credentials, options=channel_options, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=channel_options, interceptors=interceptors)
