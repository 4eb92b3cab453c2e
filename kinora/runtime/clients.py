"""Outgoing gRPC: channels that carry the trace context and credentials.

By default a call made while serving a user's request forwards that user's
access token, so downstream services authorise the real caller. Background
work (workers, consumers) passes a `TokenSource` for a service token instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable

import grpc
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kinora.runtime import auth
from kinora.runtime.server import MAX_MESSAGE_BYTES
from kinora.runtime.telemetry import inject_context

_tracer = trace.get_tracer("kinora.grpc.client")


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

    async def _metadata(self, details) -> list[tuple[str, str]]:
        metadata = list(details.metadata or ())
        if self.token_source is not None:
            token = await self.token_source.token()
        else:
            caller = auth.principal()
            token = caller.token if caller else None
        if token:  # an explicit authorization header is kept unless we have a token to send
            metadata = [(k, v) for k, v in metadata if k != "authorization"]
            metadata.append(("authorization", f"Bearer {token}"))
        metadata.extend(inject_context({}).items())
        return metadata

    def _details(self, details, metadata):
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata, details.credentials,
                                          details.wait_for_ready)


# grpc.aio files an interceptor under its first matching kind only, so each
# call shape gets its own class.
class _UnaryUnaryInterceptor(_CallCredentials, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        name = details.method.decode() if isinstance(details.method, bytes) else details.method
        with _tracer.start_as_current_span(name.lstrip("/"), kind=SpanKind.CLIENT):
            call = await continuation(self._details(details, await self._metadata(details)), request)
            await call  # surface errors inside the span
            return call


class _UnaryStreamInterceptor(_CallCredentials, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._details(details, await self._metadata(details)), request)


_tls: grpc.ChannelCredentials | None = None


def use_mutual_tls(cert_file: str, key_file: str, ca_file: str) -> None:
    """From now on, channels present this certificate (this process's identity:
    one service per process) and trust only this CA."""
    global _tls
    from kinora.runtime.tls import channel_credentials

    _tls = channel_credentials(cert_file, key_file, ca_file)


def use_settings_tls(settings) -> None:
    """Mutual TLS for this process's outgoing channels when its settings name certificate
    files (KINORA_TLS_*): gateways and workers, which serve no gRPC, call this at start."""
    if getattr(settings, "tls_cert_file", None):
        use_mutual_tls(settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file)


def stop_mutual_tls() -> None:
    global _tls
    _tls = None


# Spread calls over every address the target resolves to. gRPC keeps one
# long-lived HTTP/2 connection per address, so behind a plain (virtual IP)
# Kubernetes Service all of a client's calls would land on one replica; the
# chart gives each gRPC service a headless Service and its address is
# dns:///name:port, which resolves to every ready pod. Servers end connections
# after KINORA_GRPC_MAX_CONNECTION_AGE_S, so clients re-resolve and pick up new
# replicas. With one address (the local stack) this is the same as pick_first.
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def channel(address: str, token_source: TokenSource | None = None,
            credentials: grpc.ChannelCredentials | None = None, *, intercept: bool = True) -> grpc.aio.Channel:
    """A channel to another service. With `intercept=False` the caller sets
    credentials and trace metadata on each call itself."""
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
               ("grpc.service_config", ROUND_ROBIN)]
    interceptors = [_UnaryUnaryInterceptor(token_source), _UnaryStreamInterceptor(token_source)] if intercept else []
    credentials = credentials or _tls
    if credentials is not None:
        return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
