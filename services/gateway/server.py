"""Runs the gateway's HTTP app with uvicorn, with the same start/stop shape as
the gRPC services (so tests and the bootstrap drive it alike)."""

from __future__ import annotations

import asyncio
import signal

import uvicorn
from prometheus_client import start_http_server

from kinora.runtime.server import freeze_startup_heap
from kinora.runtime.telemetry import setup_tracing
from services.gateway.app import create_app
from services.gateway.core import Gateway
from services.gateway.settings import GatewaySettings


class GatewayServer:
    def __init__(self, settings: GatewaySettings, gateway: Gateway | None = None):
        self.settings = settings
        self.app = create_app(settings, gateway)
        # uvicorn takes the client from X-Forwarded-For (the rightmost address outside these ranges)
        # only when the peer is a trusted proxy; uvicorn's own default trusts 127.0.0.1, so with no
        # ranges set the header is not read at all and the peer is the client.
        trusted = [str(network) for network in settings.trusted_proxies]
        config = uvicorn.Config(
            self.app,
            host=settings.http_host,
            port=settings.http_port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            proxy_headers=bool(trusted),
            forwarded_allow_ips=trusted,
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # run_until_signal handles signals
        self._task: asyncio.Task | None = None

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    async def start(self) -> int:
        setup_tracing("gateway", self.settings.otlp_endpoint)  # as the services do (kinora/runtime/server.py)
        if self.settings.metrics_port:
            start_http_server(self.settings.metrics_port)
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # surfaces e.g. "address already in use"
                raise RuntimeError(f"the gateway could not listen on port {self.settings.http_port}")
            await asyncio.sleep(0.02)
        return self.port

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task:
            await self._task

    async def run_until_signal(self) -> None:
        await self.start()
        freeze_startup_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await self.stop()


async def build(settings: GatewaySettings) -> GatewayServer:
    return GatewayServer(settings)
