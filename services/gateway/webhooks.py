"""Sora-style webhooks: `video.completed` and `video.failed`, per API key.

Each API key may have one endpoint (`POST /v1/webhooks`), kept by identity
with the key (so every gateway replica sees it and it outlives restarts);
videos created with that key are watched until they finish, then the event is
POSTed, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), and
retried with doubling backoff until a 2xx or the attempts run out. Every
delivery goes through the egress helper (kinora.runtime.egress): https to a
public address only, the address checked when the URL is set and again at each
attempt, no redirects followed, the answer capped in size and time.

Why polling rather than consuming generator events: the gateway owns no
database or consumer group, and only videos created through a key with an
endpoint are watched, so one GetGeneration per watched video per second
(with a service token) is cheap. The endpoint is read from identity again when
a video ends, so a change or removal made through any replica applies. What
stays in this process: the watched videos and the deliveries waiting for a
retry (a restarted replica does not announce videos that were running).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field

import grpc
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kinora.generator.v1 import generator_pb2 as gpb
from kinora.identity.v1 import identity_pb2 as ipb
from kinora.runtime.egress import Egress, EgressError, EgressRefused
from services.gateway.core import developer, gateway_of, require_scope
from services.gateway.errors import ApiError

log = logging.getLogger("kinora.gateway.webhooks")
router = APIRouter(prefix="/v1", tags=["webhooks"])


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass
class Delivery:
    event_id: str
    url: str
    secret: str
    body: bytes
    attempt: int = 0
    next_at: float = field(default_factory=time.monotonic)


class WebhookRegistry:
    """Watched videos and pending deliveries; the endpoints are identity's.

    Whether a key has an endpoint is remembered for KNOWN_S when its videos start (one identity
    call per key, not per video; this replica forgets it when it sets or removes one), so an
    endpoint set through another replica applies to videos started up to KNOWN_S later."""

    KNOWN_S = 10.0

    def __init__(self, gateway, egress: Egress, max_attempts: int, backoff_s: float, poll_s: float):
        self.gateway, self.egress = gateway, egress
        self.max_attempts, self.backoff_s, self.poll_s = max_attempts, backoff_s, poll_s
        self.watches: dict[str, str] = {}  # video id -> api key id
        self.pending: list[Delivery] = []
        self.delivered: list[tuple[str, int]] = []  # (event id, http status), most recent last
        self._has_endpoint: dict[str, tuple[bool, float]] = {}  # api key id -> (has one, until)
        self._task: asyncio.Task | None = None

    async def endpoint(self, key_id: str) -> ipb.ApiKeyWebhook | None:
        """The key's endpoint with its secret, from identity; None if it has none (or the key
        was revoked)."""
        stub = self.gateway.service_identity
        if stub is None:
            return None
        try:
            hook = (await stub.GetApiKeyWebhook(ipb.GetApiKeyWebhookRequest(api_key_id=key_id), timeout=5)).webhook
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise
            hook = None
        self._has_endpoint[key_id] = (hook is not None, time.monotonic() + self.KNOWN_S)
        return hook

    def changed(self, key_id: str) -> None:
        """This replica set or removed the key's endpoint: ask identity again."""
        self._has_endpoint.pop(key_id, None)

    async def watch(self, request: Request, video_id: str) -> None:
        key_id = getattr(request.state, "api_key_id", "")
        if not key_id:
            return
        known = self._has_endpoint.get(key_id)
        if known is None or known[1] < time.monotonic():
            try:
                await self.endpoint(key_id)
            except grpc.aio.AioRpcError:  # identity unreachable: watch, and decide when the video ends
                self._has_endpoint[key_id] = (True, 0.0)
            known = self._has_endpoint[key_id]
        if known[0]:
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
            try:
                endpoint = await self.endpoint(key_id)  # as it is now: changed or removed since, it applies
            except grpc.aio.AioRpcError:
                continue  # identity unreachable: try again next round
            del self.watches[video_id]
            if endpoint is None:
                continue
            event_id = f"evt_{uuid.uuid4().hex}"
            body = json.dumps(
                {
                    "id": event_id,
                    "object": "event",
                    "created_at": int(time.time()),
                    "type": f"video.{video['status']}",
                    "data": {"id": video_id},
                }
            ).encode()
            self.pending.append(Delivery(event_id, endpoint.url, endpoint.secret, body))

    async def _deliver_due(self) -> None:
        now = time.monotonic()
        for delivery in [d for d in self.pending if d.next_at <= now]:
            delivery.attempt += 1
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": delivery.event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(delivery.secret, delivery.event_id, timestamp, delivery.body),
            }
            status = 0
            try:  # the URL is checked again: its name may resolve elsewhere since it was set
                status = (await self.egress.post(delivery.url, delivery.body, headers.items())).status
            except EgressError as exc:
                log.info(
                    "webhook %s attempt %d failed (%s): %s", delivery.event_id, delivery.attempt, exc.code, exc.message
                )
            if 200 <= status < 300 or delivery.attempt >= self.max_attempts:
                self.pending.remove(delivery)
                self.delivered.append((delivery.event_id, status))
                del self.delivered[:-100]
            else:
                delivery.next_at = now + self.backoff_s * 2 ** (delivery.attempt - 1)


EVENTS = ["video.completed", "video.failed"]


class EndpointBody(BaseModel):
    url: str


def _key_id(request: Request, caller, scope: str) -> str:
    key_id = getattr(request.state, "api_key_id", "")
    if not key_id:
        raise ApiError(400, "api_key_required", "webhooks are configured per API key: call this with an API key")
    require_scope(caller, scope)  # the key's own videos are what its webhook announces
    return key_id


@router.post("/webhooks", status_code=201, summary="Set this API key's webhook endpoint")
async def set_endpoint(body: EndpointBody, request: Request, caller=Depends(developer)):
    key_id, g = _key_id(request, caller, "videos:write"), gateway_of(request)
    try:
        await request.app.state.webhooks.egress.check(body.url)
    except EgressRefused as exc:
        raise ApiError(400, exc.code, f"this webhook URL cannot be used: {exc.message}") from None
    hook = (
        await g.identity.SetApiKeyWebhook(
            ipb.SetApiKeyWebhookRequest(api_key_id=key_id, url=body.url), timeout=g.timeout
        )
    ).webhook
    request.app.state.webhooks.changed(key_id)
    return {"object": "webhook_endpoint", "url": hook.url, "secret": hook.secret, "events": EVENTS}


@router.get("/webhooks", summary="This API key's webhook endpoint")
async def get_endpoint(request: Request, caller=Depends(developer)):
    key_id, g = _key_id(request, caller, "videos:read"), gateway_of(request)
    hook = (
        await g.identity.GetApiKeyWebhook(ipb.GetApiKeyWebhookRequest(api_key_id=key_id), timeout=g.timeout)
    ).webhook
    return {"object": "webhook_endpoint", "url": hook.url, "events": EVENTS}


@router.delete("/webhooks", summary="Remove this API key's webhook endpoint")
async def delete_endpoint(request: Request, caller=Depends(developer)):
    key_id, g = _key_id(request, caller, "videos:write"), gateway_of(request)
    await g.identity.DeleteApiKeyWebhook(ipb.DeleteApiKeyWebhookRequest(api_key_id=key_id), timeout=g.timeout)
    request.app.state.webhooks.changed(key_id)
    return {"object": "webhook_endpoint.deleted", "deleted": True}
