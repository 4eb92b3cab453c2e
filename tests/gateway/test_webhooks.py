"""Webhooks `video.completed` and `video.failed` end to end: the five real
services and the gateway (gateway_platform), a real Triton serving worldsim
and a model that always fails, a real generator worker, and a real HTTP
receiver on a local port that checks the Standard Webhooks signature."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import http.server
import json
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth, running_platform

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generator"))
from generator_harness import TritonHarness, running_worker  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")
BACKOFF_S = 0.4
MAX_ATTEMPTS = 4


class Receiver:
    """A local HTTP endpoint that records every POST and answers each path
    with the statuses queued for it (then 200)."""

    def __init__(self):
        self.received: list[dict] = []
        self.plans: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    plan = receiver.plans.get(self.path, [])
                    status = plan.pop(0) if plan else 200
                    receiver.received.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "body": body,
                            "at": time.monotonic(),
                            "answered": status,
                        }
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def at(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["path"] == path]

    async def wait_for(self, path: str, count: int, timeout_s: float) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, (
                f"{path}: {len(self.at(path))} of {count} deliveries after {timeout_s} s"
            )
            await asyncio.sleep(0.05)
        return self.at(path)


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """Standard Webhooks: HMAC-SHA256 over "id.timestamp.body" keyed with the
    base64 bytes after `whsec_`; the header lists `v1,<base64>` signatures."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(part.removeprefix("v1,"), expected)
        for part in headers["webhook-signature"].split()
        if part.startswith("v1,")
    )


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def triton():
    with TritonHarness(with_failing_model=True) as harness:
        yield harness


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory, broker):
    # Fast polling and short backoff so retries fit in seconds. The receiver is http:// on
    # loopback, which only the egress development setting allows (tests/security checks the rest).
    async with running_platform(
        tmp_path_factory.mktemp("webhooks"),
        broker.bootstrap,
        user_burst=1000,
        key_burst=1000,
        webhook_poll_s=0.1,
        webhook_backoff_s=BACKOFF_S,
        webhook_max_attempts=MAX_ATTEMPTS,
        egress_development=True,
    ) as p:
        yield p


def worker(platform, triton, routes: str):
    """A real generator worker on the platform's generator database, sending
    `standard` jobs to the Triton model named in `routes`."""
    from services.generator.server import make_consent
    from services.generator.settings import model_routes

    app = platform.apps["generator"]
    settings = dataclasses.replace(
        app.context.settings,
        triton_addr=triton.grpc_address,
        models=model_routes(routes),
        worker_slots=1,
        poll_seconds=0.05,
    )
    return running_worker(settings, app.context.sessions, app.billing, make_consent(settings, app.context))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def dev(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as c:
        user = await platform.signup(c, "hooker")
    return user


async def new_key(client: httpx.AsyncClient, user: dict) -> dict:
    reply = await client.post(
        "/api/v1/apikeys", json={"name": "hooks", "scopes": ["videos:read", "videos:write"]}, headers=auth(user)
    )
    assert reply.status_code in (200, 201), reply.text
    return {"Authorization": f"Bearer {reply.json()['secret']}"}


async def set_endpoint(client, key_headers, url) -> str:
    reply = await client.post("/v1/webhooks", json={"url": url}, headers=key_headers)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["url"] == url and set(body["events"]) == {"video.completed", "video.failed"}
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) >= 24
    return body["secret"]


async def create_video(client, key_headers, prompt: str) -> str:
    reply = await client.post(
        "/v1/videos", json={"prompt": prompt, "model": "sora-2", "seconds": "4"}, headers=key_headers
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def check_delivery(delivery: dict, secret: str, event_type: str, video_id: str) -> dict:
    headers, body = delivery["headers"], delivery["body"]
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert verify(secret, headers, body), "signature does not verify with the endpoint's secret"
    assert not verify(secret, headers, body + b" "), "a changed body must not verify"
    event = json.loads(body)
    assert event["id"] == headers["webhook-id"] and event["object"] == "event"
    assert event["type"] == event_type and event["data"] == {"id": video_id}
    assert abs(event["created_at"] - time.time()) < 120
    return event


async def test_endpoint_management_and_bad_input(platform, dev, receiver):
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as c:
        key = await new_key(c, dev)
        bad = await c.post("/v1/webhooks", json={"url": "ftp://example.test/hook"}, headers=key)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_url"
        missing = await c.get("/v1/webhooks", headers=key)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_webhook"
        # Webhooks belong to API keys: a signed-in user's token is refused with a reason.
        user_call = await c.post("/v1/webhooks", json={"url": receiver.url("/user")}, headers=auth(dev))
        assert user_call.status_code == 400 and user_call.json()["error"]["code"] == "api_key_required"
        assert (await c.post("/v1/webhooks", json={"url": receiver.url("/x")})).status_code == 401

        await set_endpoint(c, key, receiver.url("/managed"))
        shown = await c.get("/v1/webhooks", headers=key)
        assert shown.status_code == 200 and shown.json()["url"] == receiver.url("/managed")
        assert "secret" not in shown.json()
        # Another key of the same user has its own (no) endpoint.
        assert (await c.get("/v1/webhooks", headers=await new_key(c, dev))).status_code == 404
        assert (await c.delete("/v1/webhooks", headers=key)).json()["deleted"] is True
        assert (await c.get("/v1/webhooks", headers=key)).status_code == 404


async def test_completed_video_is_delivered_signed(platform, dev, receiver, triton):
    async with (
        httpx.AsyncClient(base_url=platform.url, timeout=60) as c,
        worker(platform, triton, "standard=worldsim:standard"),
    ):
        key = await new_key(c, dev)
        secret = await set_endpoint(c, key, receiver.url("/completed"))
        video_id = await create_video(c, key, "a paper boat drifts down a rainy street")
        [delivery] = await receiver.wait_for("/completed", 1, timeout_s=60)
        event = check_delivery(delivery, secret, "video.completed", video_id)
        video = (await c.get(f"/v1/videos/{video_id}", headers=key)).json()
        assert video["status"] == "completed" and video["progress"] == 100
        content = await c.get(f"/v1/videos/{video_id}/content", headers=key)
        assert content.status_code == 200 and content.content[4:8] == b"ftyp"
        await asyncio.sleep(3 * BACKOFF_S)
        assert len(receiver.at("/completed")) == 1, "a 200 must end the deliveries"
        assert (event["id"], 200) in platform.gateway.app.state.webhooks.delivered


async def test_failed_video_retried_with_backoff_until_accepted(platform, dev, receiver, triton):
    receiver.plans["/failed"] = [500, 503]  # the receiver is down twice, then accepts
    async with (
        httpx.AsyncClient(base_url=platform.url, timeout=60) as c,
        worker(platform, triton, "standard=failing:standard"),
    ):
        key = await new_key(c, dev)
        secret = await set_endpoint(c, key, receiver.url("/failed"))
        video_id = await create_video(c, key, "a lighthouse in a storm")
        deliveries = await receiver.wait_for("/failed", 3, timeout_s=30)
        video = (await c.get(f"/v1/videos/{video_id}", headers=key)).json()
        assert video["status"] == "failed" and video["error"]["code"] == "model_internal"
        assert "ran out of GPU memory" in video["error"]["message"]
        events = [check_delivery(d, secret, "video.failed", video_id) for d in deliveries]
        assert [d["answered"] for d in deliveries] == [500, 503, 200]
        assert len({e["id"] for e in events}) == 1, "retries carry the same event id"
        # Doubling backoff: ~BACKOFF_S, then ~2 * BACKOFF_S (plus poll and loop delays).
        gaps = [b["at"] - a["at"] for a, b in zip(deliveries, deliveries[1:])]
        assert BACKOFF_S * 0.9 <= gaps[0] < BACKOFF_S + 1.0, gaps
        assert 2 * BACKOFF_S * 0.9 <= gaps[1] < 2 * BACKOFF_S + 1.0, gaps
        await asyncio.sleep(6 * BACKOFF_S)
        assert len(receiver.at("/failed")) == 3, "accepted: no more deliveries"


async def test_retries_stop_after_max_attempts_and_removed_endpoint_gets_nothing(platform, dev, receiver, triton):
    receiver.plans["/down"] = [500] * 10
    async with (
        httpx.AsyncClient(base_url=platform.url, timeout=60) as c,
        worker(platform, triton, "standard=failing:standard"),
    ):
        key = await new_key(c, dev)
        secret = await set_endpoint(c, key, receiver.url("/down"))
        video_id = await create_video(c, key, "a kite over a beach")
        deliveries = await receiver.wait_for("/down", MAX_ATTEMPTS, timeout_s=30)
        assert len({check_delivery(d, secret, "video.failed", video_id)["id"] for d in deliveries}) == 1
        await asyncio.sleep(2**MAX_ATTEMPTS * BACKOFF_S)
        assert len(receiver.at("/down")) == MAX_ATTEMPTS, "gives up after the last attempt"
        assert (deliveries[0]["headers"]["webhook-id"], 500) in platform.gateway.app.state.webhooks.delivered

        # An endpoint removed before the video ends receives nothing.
        other = await new_key(c, dev)
        await set_endpoint(c, other, receiver.url("/removed"))
        removed_id = await create_video(c, other, "a train crosses a bridge")
        assert (await c.delete("/v1/webhooks", headers=other)).status_code == 200
        for _ in range(100):
            if (await c.get(f"/v1/videos/{removed_id}", headers=other)).json()["status"] == "failed":
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert receiver.at("/removed") == []


async def test_endpoint_is_kept_by_identity_for_every_replica_and_restart(platform, dev, receiver, triton):
    """Set through one gateway, the endpoint is seen by another (a second replica, or this one
    restarted): it lives with the API key in identity, not in a gateway's memory."""
    from services.gateway.server import GatewayServer

    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as c:
        key = await new_key(c, dev)
        secret = await set_endpoint(c, key, receiver.url("/replica"))
    other = GatewayServer(dataclasses.replace(platform.gateway.settings, http_port=0))
    port = await other.start()
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c,
            worker(platform, triton, "standard=worldsim:standard"),
        ):
            shown = await c.get("/v1/webhooks", headers=key)
            assert shown.status_code == 200 and shown.json()["url"] == receiver.url("/replica")
            video_id = await create_video(c, key, "a red balloon over rooftops")
            [delivery] = await receiver.wait_for("/replica", 1, timeout_s=60)
            check_delivery(delivery, secret, "video.completed", video_id)
            # Removed through this replica: the first one reads it as gone.
            assert (await c.delete("/v1/webhooks", headers=key)).status_code == 200
        async with httpx.AsyncClient(base_url=platform.url, timeout=30) as c:
            assert (await c.get("/v1/webhooks", headers=key)).status_code == 404
    finally:
        await other.stop()
