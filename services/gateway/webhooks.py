"""Sora-style webhooks: `video.completed` and `video.failed`, per API key.

Each API key may register one endpoint (`POST /v1/webhooks`); videos created
with that key are watched until they finish, then the event is POSTed, signed
the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), and
retried with doubling backoff until a 2xx or the attempts run out.

Why polling rather than consuming generator events: the gateway owns no
database or consumer group, and only videos created through a key with an
endpoint are watched, so one GetGeneration per watched video per second
(with a service token) is cheap. The registry is kept in this process's
memory: endpoints must be set again after a gateway restart (a known gap;
a shared store is the next step for several replicas).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field

import grpc
import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kinora.generator.v1 import generator_pb2 as gpb
from services.gateway.core import developer
from services.gateway.errors import ApiError

log = logging.getLogger("kinora.gateway.webhooks")
router = APIRouter(prefix="/v1", tags=["webhooks"])


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass
class Endpoint:
    url: str
    secret: str


@dataclass
class Delivery:
    event_id: str
    url: str
    secret: str
    body: bytes
    attempt: int = 0
    next_at: float = field(default_factory=time.monotonic)


class WebhookRegistry:
    """Endpoints per API key, watched videos, and pending deliveries."""

    def __init__(self, gateway, max_attempts: int, backoff_s: float, poll_s: float):
        self.gateway, self.max_attempts, self.backoff_s, self.poll_s = gateway, max_attempts, backoff_s, poll_s
        self.endpoints: dict[str, Endpoint] = {}
        self.watches: dict[str, str] = {}  # video id -> api key id
        self.pending: list[Delivery] = []
        self.delivered: list[tuple[str, int]] = []  # (event id, http status), most recent last
        self._task: asyncio.Task | None = None
        self._http = httpx.AsyncClient(timeout=10)

    async def watch(self, request: Request, video_id: str) -> None:
        key_id = getattr(request.state, "api_key_id", "")
        if key_id and key_id in self.endpoints:
            self.watches[video_id] = key_id

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._http.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self._check_watches()
                await self._deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep delivering; one bad poll must not stop webhooks
                log.exception("webhook loop failed; retrying")
            await asyncio.sleep(self.poll_s)

    async def _check_watches(self) -> None:
        from services.gateway.videos import video_object

        stub = self.gateway.service_generator
        if stub is None or not self.watches:
            return
        for video_id, key_id in list(self.watches.items()):
            try:
                gen = (await stub.GetGeneration(gpb.GetGenerationRequest(generation_id=video_id), timeout=5)).generation
            except grpc.aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.NOT_FOUND:  # deleted before it finished: nothing to announce
                    self.watches.pop(video_id, None)
                continue  # otherwise try again next round
            except Exception:  # noqa: BLE001 - try again next round
                continue
            video = video_object(gen)
            if video["status"] not in ("completed", "failed"):
                continue
            del self.watches[video_id]
            endpoint = self.endpoints.get(key_id)
            if endpoint is None:
                continue
            event_id = f"evt_{uuid.uuid4().hex}"
            body = json.dumps({"id": event_id, "object": "event", "created_at": int(time.time()),
                               "type": f"video.{video['status']}", "data": {"id": video_id}}).encode()
            self.pending.append(Delivery(event_id, endpoint.url, endpoint.secret, body))

    async def _deliver_due(self) -> None:
        now = time.monotonic()
        for delivery in [d for d in self.pending if d.next_at <= now]:
            delivery.attempt += 1
            timestamp = int(time.time())
            headers = {"content-type": "application/json", "webhook-id": delivery.event_id,
                       "webhook-timestamp": str(timestamp),
                       "webhook-signature": sign(delivery.secret, delivery.event_id, timestamp, delivery.body)}
            status = 0
            try:
                status = (await self._http.post(delivery.url, content=delivery.body, headers=headers)).status_code
            except httpx.HTTPError as exc:
                log.info("webhook %s attempt %d failed: %s", delivery.event_id, delivery.attempt, exc)
            if 200 <= status < 300 or delivery.attempt >= self.max_attempts:
                self.pending.remove(delivery)
                self.delivered.append((delivery.event_id, status))
                del self.delivered[:-100]
            else:
                delivery.next_at = now + self.backoff_s * 2 ** (delivery.attempt - 1)


class EndpointBody(BaseModel):
    url: str


def _key_id(request: Request) -> str:
    key_id = getattr(request.state, "api_key_id", "")
    if not key_id:
        raise ApiError(400, "api_key_required", "webhooks are configured per API key: call this with an API key")
    return key_id


@router.post("/webhooks", status_code=201, summary="Set this API key's webhook endpoint")
async def set_endpoint(body: EndpointBody, request: Request, caller=Depends(developer)):
    if not body.url.startswith(("http://", "https://")):
        raise ApiError(400, "invalid_url", "the webhook URL must start with http:// or https://")
    registry: WebhookRegistry = request.app.state.webhooks
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    registry.endpoints[_key_id(request)] = Endpoint(body.url, secret)
    return {"object": "webhook_endpoint", "url": body.url, "secret": secret,
            "events": ["video.completed", "video.failed"]}


@router.get("/webhooks", summary="This API key's webhook endpoint")
async def get_endpoint(request: Request, caller=Depends(developer)):
    endpoint = request.app.state.webhooks.endpoints.get(_key_id(request))
    if endpoint is None:
        raise ApiError(404, "no_webhook", "this API key has no webhook endpoint")
    return {"object": "webhook_endpoint", "url": endpoint.url, "events": ["video.completed", "video.failed"]}


@router.delete("/webhooks", summary="Remove this API key's webhook endpoint")
async def delete_endpoint(request: Request, caller=Depends(developer)):
    request.app.state.webhooks.endpoints.pop(_key_id(request), None)
    return {"object": "webhook_endpoint.deleted", "deleted": True}
