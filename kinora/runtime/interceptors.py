"""One server interceptor does the per-call work of every service: trace
context, authentication (with mutual TLS, checked against the peer's
certificate: kinora.runtime.peers), error mapping and RED metrics. Folding them into a
single wrapper (built once per method, then cached) keeps the per-call cost
low; see benchmarks/runtime_bench.py."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from prometheus_client import Counter
from sqlalchemy.exc import DataError

from kinora.runtime import auth
from kinora.runtime.errors import ERROR_CODE_KEY, InvalidArgument, KinoraError
from kinora.runtime.metrics import RPC_DURATION, RPC_REQUESTS
from kinora.runtime.peers import PeerPolicy
from kinora.runtime.telemetry import current_trace_id, extract_context

if TYPE_CHECKING:
    from grpc.aio import ServicerContext

    _Handler = grpc.RpcMethodHandler[Any, Any]
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # generic in the stubs only
    _ServerInterceptor = grpc.aio.ServerInterceptor

log = logging.getLogger("kinora.rpc")
_tracer = trace.get_tracer("kinora.grpc")
_OK = grpc.StatusCode.OK


_STRING, _MESSAGE = FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE


def _nul_field(message: Message) -> str | None:
    """Name of a text field holding a NUL character, if any. Databases cannot
    store NUL in text, so such input is refused up front for every service."""
    for field, value in message.ListFields():
        if field.type == _STRING:
            values = value if field.is_repeated else (value,)
            if any("\x00" in v for v in values):
                return str(field.name)
        elif field.type == _MESSAGE:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                values = [v for v in value.values() if hasattr(v, "ListFields")]
            else:
                values = value if field.is_repeated else (value,)
            for item in values:
                found = _nul_field(item)
                if found:
                    return f"{field.name}.{found}"
    return None


def check_request(request: object) -> None:
    if hasattr(request, "ListFields"):
        bad = _nul_field(cast(Message, request))
        if bad:
            raise InvalidArgument(f"{bad} contains a NUL character, which is not allowed in text", "nul_in_text")


class _CallMetrics:
    """Pre-bound metric children for one method (labels() is not free)."""

    def __init__(self, service: str, method: str):
        self.service, self.method = service, method
        self.duration = RPC_DURATION.labels(service, method)
        self._counters: dict[str, Counter] = {}

    def count(self, code: grpc.StatusCode) -> None:
        counter = self._counters.get(code.name)
        if counter is None:
            counter = self._counters[code.name] = RPC_REQUESTS.labels(self.service, self.method, code.name)
        counter.inc()


class RuntimeInterceptor(_ServerInterceptor):
    def __init__(self, service: str, verifier: auth.TokenVerifier | None, peers: PeerPolicy | None = None):
        self.service = service
        self.verifier = verifier
        self.peers = peers  # set when the server runs mutual TLS
        # Hot methods whose calls get a span only inside a caller's trace (a
        # traceparent came with the call): a root span per call costs more than
        # the rest of this wrapper together (see ServiceApp.trace_only_within_traces).
        self.untraced_roots: set[str] = set()
        self._wrapped: dict[str, _Handler | None] = {}

    # grpc.aio takes None for "no such method" (the stubs allow a handler only)
    async def intercept_service(  # type: ignore[override]
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler | None:
        method = handler_call_details.method
        if method in self._wrapped:
            return self._wrapped[method]
        handler = await continuation(handler_call_details)
        wrapped = self._wrap(method, handler) if handler is not None and not _is_plumbing(method) else handler
        self._wrapped[method] = wrapped
        return wrapped

    async def _enter(
        self, metadata: Iterable[tuple[str, str]], context: ServicerContext[Any, Any]
    ) -> auth.Principal | None:
        """Authenticate and return the principal; raises KinoraError."""
        token = auth.bearer_token(metadata)
        if token is None:
            return None
        if self.verifier is None:
            raise KinoraError("this service cannot verify tokens")
        found = self.verifier.verify_cached(token) or await self.verifier.verify(token)
        if self.peers is not None:
            self.peers.check(found, context)
        return found

    def _wrap(self, method: str, handler: _Handler) -> _Handler:
        method_info = _Method(self, method)

        if handler.unary_unary or handler.stream_unary:
            inner: Any = handler.unary_unary or handler.stream_unary  # async handlers under grpc.aio

            async def unary(request: Any, context: ServicerContext[Any, Any]) -> Any:
                async with _Call(method_info, request, context):
                    return await inner(request, context)

            factory = (
                grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
            )
            return factory(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        inner_stream: Any = handler.unary_stream or handler.stream_stream

        async def streaming(request: Any, context: ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with _Call(method_info, request, context):
                async for item in inner_stream(request, context):
                    yield item

        factory = (
            grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
        )
        return factory(
            streaming,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class _Method:
    """What the interceptor knows about one method, built once."""

    def __init__(self, interceptor: RuntimeInterceptor, method: str):
        self.interceptor = interceptor
        self.metrics = _CallMetrics(interceptor.service, method.rsplit("/", 1)[-1])
        self.span_name = method.lstrip("/")
        self.attributes: dict[str, str] = {"rpc.system": "grpc", "rpc.method": self.span_name}
        self.root_spans = method not in interceptor.untraced_roots


class _Call:
    """One call: span and trace context, principal, request checks, error
    mapping and metrics around the handler (unary and streaming alike)."""

    __slots__ = ("m", "request", "context", "started", "span", "otel_token", "principal_token", "finished")

    def __init__(self, method: _Method, request: Any, context: ServicerContext[Any, Any]):
        self.m, self.request, self.context = method, request, context

    async def __aenter__(self) -> _Call:
        self.started = time.perf_counter()
        self.finished = False
        self.principal_token: contextvars.Token[auth.Principal | None] | None = None
        metadata = cast("Sequence[tuple[str, str]]", self.context.invocation_metadata() or ())
        carrier = {k: v for k, v in metadata if k == "traceparent" or k == "tracestate"}
        self.span: Span | None = None
        self.otel_token: object = None
        if carrier or self.m.root_spans:
            parent = extract_context(carrier) if carrier else None
            self.span = _tracer.start_span(
                self.m.span_name, context=parent, kind=SpanKind.SERVER, attributes=self.m.attributes
            )
            self.otel_token = otel_context.attach(trace.set_span_in_context(self.span))
        try:
            self.principal_token = auth.current_principal.set(await self.m.interceptor._enter(metadata, self.context))
            check_request(self.request)
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        code = _OK
        try:
            if exc is None:
                return False
            if isinstance(exc, (grpc.aio.AbortError, grpc.aio.UsageError)):
                code = cast("grpc.StatusCode | None", self.context.code()) or grpc.StatusCode.UNKNOWN
                return False
            if isinstance(exc, asyncio.CancelledError):  # the caller went away or its deadline passed
                code = grpc.StatusCode.CANCELLED
                return False
            if isinstance(exc, DataError):  # e.g. a value longer than its column: the input's fault
                exc = InvalidArgument("a field is too long or holds a value that cannot be stored", "invalid_value")
            if isinstance(exc, KinoraError):
                code, message = exc.status, exc.message
                self.context.set_trailing_metadata(((ERROR_CODE_KEY, exc.code),))
            else:
                code = grpc.StatusCode.INTERNAL
                message = f"internal error; quote reference {current_trace_id() or 'n/a'} when reporting it"
                log.exception("unhandled error in %s", self.m.span_name, exc_info=exc)
            if self.span is not None:
                self.span.set_status(Status(StatusCode.ERROR, message))
            await self.context.abort(code, message)  # raises
        finally:
            if self.principal_token is not None:
                auth.current_principal.reset(self.principal_token)
                self.principal_token = None
            if not self.finished:
                self._finish(code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN)

    def _finish(self, code: grpc.StatusCode) -> None:
        self.finished = True
        metrics = self.m.metrics
        metrics.duration.observe(time.perf_counter() - self.started)
        metrics.count(code)
        if self.span is None:
            return
        if code is not _OK:
            self.span.set_attribute("rpc.grpc.status_code", code.value[0])
        self.span.end()
        self.span = None
        otel_context.detach(cast(Any, self.otel_token))


def _is_plumbing(method: str) -> bool:
    # Health and reflection stay cheap and anonymous.
    return method.startswith("/grpc.health.v1.") or method.startswith("/grpc.reflection.")
