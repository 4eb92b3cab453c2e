"""Service bootstrap: a grpc.aio server with real health, reflection, the
runtime interceptor, /metrics, background workers and graceful shutdown.

Lifecycle: NOT_SERVING while starting (migrations, key loading, consumers);
SERVING once every startup hook has run; on SIGTERM/SIGINT NOT_SERVING again
for `drain_seconds` (so load balancers stop sending), then the server refuses
new calls and waits up to `grace_seconds` for in-flight calls, then background
workers stop and the process exits.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from kinora.runtime import auth
from kinora.runtime.convert import set_timestamp
from kinora.runtime.interceptors import RuntimeInterceptor
from kinora.runtime.peers import PeerPolicy
from kinora.runtime.settings import RuntimeSettings
from kinora.runtime.telemetry import serve_metrics, setup_tracing
from kinora.runtime.tls import server_credentials
from kinora.runtime.transport import MAX_MESSAGE_BYTES, stop_mutual_tls, use_mutual_tls
from kinora.runtime.v1 import runtime_pb2, runtime_pb2_grpc

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

log = logging.getLogger("kinora.server")


class _RuntimeServicer(runtime_pb2_grpc.RuntimeServiceServicer):
    def __init__(self, service: str, instance_id: str):
        self.service, self.instance_id = service, instance_id
        self.started_at = datetime.now(UTC)

    async def Ping(
        self, request: runtime_pb2.PingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> runtime_pb2.PingResponse:
        return runtime_pb2.PingResponse(payload=request.payload)

    async def GetInfo(
        self, request: runtime_pb2.GetInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> runtime_pb2.GetInfoResponse:
        from kinora import __version__

        reply = runtime_pb2.GetInfoResponse(service=self.service, version=__version__, instance_id=self.instance_id)
        set_timestamp(reply.started_at, self.started_at)
        p = auth.principal()
        reply.principal = p.subject if p else ""
        return reply


class BackgroundWorker:
    """A blocking loop on its own thread (Kafka clients are synchronous).
    `run(stop)` must return soon after `stop` is set."""

    def __init__(self, name: str, run: Callable[[threading.Event], None]):
        self.name, self._run = name, run
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.error: BaseException | None = None

    def _main(self) -> None:
        try:
            self._run(self.stop_event)
        except BaseException as exc:  # noqa: BLE001 - reported, and health goes NOT_SERVING
            self.error = exc
            log.exception("background worker %s crashed", self.name)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the loop to stop and wait for it; whether it stopped within `timeout`."""
        self.stop_event.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()


def stop_workers(workers: list[BackgroundWorker], timeout_s: float) -> list[str]:
    """Ask every worker to stop at once, then wait for all of them within one deadline; the
    names of those still running then (logged). At once, not one after another: each
    consumer of a group can take seconds to leave it (kinora.runtime.consumer: finishing a
    join, waiting for the group's leader to leave first), and one after another a process
    with several of them outlived its grace period, its last members killed in the group."""
    for worker in workers:
        worker.stop_event.set()
    deadline = time.monotonic() + timeout_s
    late = [w.name for w in workers if not w.stop(max(0.0, deadline - time.monotonic()))]
    if late:
        log.warning("background workers still running %.0f s after they were asked to stop: %s", timeout_s, late)
    return late


def freeze_startup_heap() -> None:
    """Call once a service process has started: moves everything alive then
    (imported modules, a loaded embedding model: about 530k objects in cameo)
    out of the cyclic garbage collector's reach. Otherwise each full
    collection walks them all: a 210 ms pause in cameo, in the middle of
    requests (measured; 0 ms after the freeze)."""
    gc.collect()
    gc.freeze()


class ServiceApp:
    def __init__(self, name: str, settings: RuntimeSettings, verifier: auth.TokenVerifier | None = None):
        self.name = name
        self.settings = settings
        self.verifier = verifier
        self.instance_id = uuid.uuid4().hex[:12]
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]  # the stubs lack .aio
        # With mutual TLS the peer's certificate must back every token (kinora.runtime.peers).
        peers = PeerPolicy(settings.user_token_peers) if settings.tls_cert_file else None
        self.interceptor = RuntimeInterceptor(name, verifier, peers)
        self.server = grpc.aio.server(
            interceptors=[self.interceptor],
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.so_reuseport", 0),
                *(
                    [("grpc.max_connection_age_ms", int(settings.max_connection_age_s * 1000))]
                    if settings.max_connection_age_s
                    else []
                ),
            ],
        )
        self._service_names: list[str] = []
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._workers: list[BackgroundWorker] = []
        self._stopping = asyncio.Event()
        self.port: int | None = None
        self.metrics_port: int | None = None
        self._metrics_server: WSGIServer | None = None
        self._health_server: grpc.aio.Server | None = None
        self.health_port: int | None = None
        self.add_servicer(
            runtime_pb2_grpc.add_RuntimeServiceServicer_to_server,
            _RuntimeServicer(name, self.instance_id),
            runtime_pb2.DESCRIPTOR.services_by_name["RuntimeService"].full_name,
        )

    def add_servicer(self, add_fn: Callable[[Any, grpc.aio.Server], None], servicer: object, full_name: str) -> None:
        add_fn(servicer, self.server)
        self._service_names.append(full_name)

    def trace_only_within_traces(self, *methods: str) -> None:
        """These methods ("/package.Service/Method") get a server span only when the
        caller sends trace context, not a root span of their own per call: for
        hot calls that other services make inside their traces (cameo's CheckUse).
        Call before the server starts."""
        self.interceptor.untraced_roots.update(methods)

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(fn)

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(fn)

    def add_worker(self, name: str, run: Callable[[threading.Event], None]) -> BackgroundWorker:
        worker = BackgroundWorker(name, run)
        self._workers.append(worker)
        return worker

    async def _set_all(self, status: int) -> None:
        for name in ("", *self._service_names):
            await self.health.set(name, status)

    async def start(self) -> int:
        setup_tracing(self.name, self.settings.otlp_endpoint)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*self._service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            self.server,
        )
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        address = f"{self.settings.grpc_host}:{self.settings.grpc_port}"
        try:
            if self.settings.tls_cert_file:
                self.port = self.server.add_secure_port(address, self._tls_credentials())
            else:
                self.port = self.server.add_insecure_port(address)
        except RuntimeError as exc:
            raise RuntimeError(f"{self.name}: cannot listen on {address}: is the port already in use?") from exc
        if self.port == 0:
            raise RuntimeError(f"{self.name}: cannot listen on {address}: is the port already in use?")
        if self.settings.metrics_port:
            try:
                self._metrics_server, self.metrics_port = serve_metrics(self.settings.metrics_port)
            except OSError as exc:
                raise RuntimeError(
                    f"{self.name}: cannot serve /metrics on port {self.settings.metrics_port}: {exc.strerror}"
                ) from exc
        await self.server.start()  # health answers NOT_SERVING while we start up
        if self.settings.health_port:
            await self._serve_plain_health(self.settings.health_port)
        for hook in self._startup:
            await hook()
        for worker in self._workers:
            worker.start()
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"port": self.port, "metrics_port": self.metrics_port})
        return self.port

    def _tls_credentials(self) -> grpc.ServerCredentials:
        """Mutual TLS: callers must present a certificate signed by our CA (the files are
        re-read when they change). Outgoing channels of this process use the same identity."""
        s = self.settings
        if not (s.tls_cert_file and s.tls_key_file and s.tls_ca_file):  # the settings check this too
            raise RuntimeError(f"{self.name}: mutual TLS needs a certificate, its key and the CA")
        use_mutual_tls(s.tls_cert_file, s.tls_key_file, s.tls_ca_file)
        return server_credentials(s.tls_cert_file, s.tls_key_file, s.tls_ca_file)

    async def _serve_plain_health(self, port: int) -> None:
        """Health only, in plaintext, on its own port: kubelet's gRPC probes cannot present a
        client certificate. It tells what the main port's health service tells, nothing more."""
        self._health_server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
        address = f"{self.settings.grpc_host}:{port}"
        try:
            self.health_port = self._health_server.add_insecure_port(address)
        except RuntimeError:
            self.health_port = 0
        if not self.health_port:
            raise RuntimeError(f"{self.name}: cannot serve health on {address}: is the port already in use?")
        await self._health_server.start()

    async def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        await self.health.enter_graceful_shutdown()  # NOT_SERVING from now on
        if self.settings.drain_seconds:
            await asyncio.sleep(self.settings.drain_seconds)
        await self.server.stop(self.settings.grace_seconds)  # finishes in-flight calls
        if self._health_server is not None:
            await self._health_server.stop(0)
        await asyncio.to_thread(stop_workers, self._workers, self.settings.worker_stop_seconds)
        for hook in reversed(self._shutdown):
            await hook()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        if self.settings.tls_cert_file:
            stop_mutual_tls()
        log.info("stopped")

    async def run_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop_requested.set)
        await self.start()
        freeze_startup_heap()
        watch = asyncio.create_task(self._watch_workers(stop_requested))
        await stop_requested.wait()
        watch.cancel()
        log.info("stopping on signal")
        await self.stop()

    async def _watch_workers(self, stop_requested: asyncio.Event) -> None:
        # A crashed background worker makes the process unhealthy rather than silently half-working.
        while True:
            await asyncio.sleep(1.0)
            if any(w.error for w in self._workers):
                await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
                return
