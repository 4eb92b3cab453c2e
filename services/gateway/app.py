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
HTTP_DURATION = Histogram("kinora_http_request_duration_seconds", "HTTP handling time", ["route", "method"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class MetricsMiddleware:
    """RED metrics per route template (not per raw path, which would explode label values)."""

    def __init__(self, app):
        self.app = app

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
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(route, scope["method"], str(status["code"])).inc()
            HTTP_DURATION.labels(route, scope["method"]).observe(time.perf_counter() - started)


def create_app(settings: GatewaySettings, gateway: Gateway | None = None) -> FastAPI:
    from contextlib import asynccontextmanager

    gw = gateway or Gateway(settings)
    egress = Egress(EgressPolicy(development=settings.egress_development,
                                 denied_networks=settings.egress_denied_cidrs, timeout_s=settings.webhook_timeout_s,
                                 max_response_bytes=settings.webhook_max_response_bytes))
    registry = webhooks.WebhookRegistry(gw, egress, settings.webhook_max_attempts, settings.webhook_backoff_s,
                                        settings.webhook_poll_s)
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

    app = FastAPI(title="Kinora API", version="1.0.0", lifespan=lifespan,
                  description="Consent-gated social AI video. Errors are always "
                              "`{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`.")
    app.state.gateway = gw
    app.state.webhooks = registry
    app.state.billing_as_gateway = billing_as_gateway
    app.state.media = media_service
    errors.install(app)
    for router in rest.ROUTERS:
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
        return JSONResponse({"status": "ready" if ok else "not_ready", "dependencies": deps},
                            status_code=200 if ok else 503)

    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(video=settings.body_max_video_bytes,
                                                              image=settings.body_max_image_bytes,
                                                              json=settings.body_max_json_bytes))
    web.install(app, settings.web_dir or None)  # the web app at /, for paths no route matched
    app.add_middleware(MetricsMiddleware)  # added last: outermost, so refusals are counted too
    return app
