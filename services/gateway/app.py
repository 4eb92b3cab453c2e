"""The gateway's HTTP application: routes, error shape, health, metrics."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram

from kinora.runtime.egress import Egress, EgressPolicy
from services.gateway import (
    characters,
    errors,
    feed,
    generations,
    media,
    payment_webhooks,
    provenance,
    rest,
    session,
    takedowns,
    videos,
    web,
    webhooks,
)
from services.gateway.bodylimit import BodyLimitMiddleware, BodyLimits
from services.gateway.core import Gateway
from services.gateway.settings import GatewaySettings

HTTP_REQUESTS = Counter("kinora_http_requests_total", "HTTP requests handled", ["route", "method", "status"])
HTTP_DURATION = Histogram(
    "kinora_http_request_duration_seconds",
    "HTTP handling time",
    ["route", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# FastAPI's own OpenTelemetry: the request span stays (a proxied call's trace starts there); the
# operation spans (dependency resolution, endpoint, serialization: three more spans a request)
# cost 0.22 ms of CPU per request (0.66 -> 0.43 ms for /healthz, in-process ASGI calls), and its
# OTel HTTP metrics repeat MetricsMiddleware's Prometheus ones.
TELEMETRY = {"operation_spans": False, "metrics": False}

# Routes are matched one by one, router after router, twice a request (FastAPI's included
# routers): the API areas most requests go to come first (status polls and feed reads were 75%
# of scripts/load.py's mix). No path matches routes in two areas (tests/gateway/
# test_gateway_route_order.py), so the order decides nothing else.
HOT_FIRST = (generations.router, feed.router)


def by_traffic(routers):
    return (*(r for r in HOT_FIRST if r in routers), *(r for r in routers if r not in HOT_FIRST))


class MetricsMiddleware:
    """RED metrics per route template (not per raw path, which would explode label values)."""

    def __init__(self, app):
        self.app = app
        self._children = {}  # (route, method, status) -> bound children: labels() is not free

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            key = (getattr(scope.get("route"), "path", "unmatched"), scope["method"], status["code"])
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    HTTP_REQUESTS.labels(key[0], key[1], str(key[2])),
                    HTTP_DURATION.labels(key[0], key[1]),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def create_app(settings: GatewaySettings, gateway: Gateway | None = None) -> FastAPI:
    from contextlib import asynccontextmanager

    gw = gateway or Gateway(settings)
    egress = Egress(
        EgressPolicy(
            development=settings.egress_development,
            denied_networks=settings.egress_denied_cidrs,
            timeout_s=settings.webhook_timeout_s,
            max_response_bytes=settings.webhook_max_response_bytes,
        )
    )
    registry = webhooks.WebhookRegistry(
        gw, egress, settings.webhook_max_attempts, settings.webhook_backoff_s, settings.webhook_poll_s
    )
    billing_as_gateway = payment_webhooks.BillingAsGateway()
    media_service = media.MediaService.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app):
        registry.start()
        try:
            yield
        finally:
            await registry.stop()
            await billing_as_gateway.close()
            await media_service.close()
            await gw.close()

    app = FastAPI(
        title="Kinora API",
        version="1.0.0",
        lifespan=lifespan,
        telemetry=TELEMETRY,
        description='Consent-gated social AI video. Errors are always `{"error": {"code": "...", "message": "..."}}`.',
    )
    app.state.gateway = gw
    app.state.webhooks = registry
    app.state.billing_as_gateway = billing_as_gateway
    app.state.media = media_service
    errors.install(app)
    for router in by_traffic(rest.ROUTERS):
        app.include_router(router)
    app.include_router(characters.router)
    app.include_router(videos.router)
    app.include_router(webhooks.router)
    app.include_router(payment_webhooks.router)
    app.include_router(session.router)
    app.include_router(media.router)
    app.include_router(provenance.router)
    app.include_router(takedowns.router)

    @app.get("/healthz", tags=["health"])
    async def healthz():
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz():
        """Every service the gateway calls answers SERVING."""
        deps = await gw.ready()
        ok = all(v == "SERVING" for v in deps.values())
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "dependencies": deps}, status_code=200 if ok else 503
        )

    app.add_middleware(
        BodyLimitMiddleware,
        limits=BodyLimits(
            video=settings.body_max_video_bytes, image=settings.body_max_image_bytes, json=settings.body_max_json_bytes
        ),
    )
    web.install(app, settings.web_dir or None)  # the web app at /, for paths no route matched
    app.add_middleware(MetricsMiddleware)  # added last: outermost, so refusals are counted too
    return app
