"""The gateway against the five real services (in-process, PostgreSQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth

pytestmark = pytest.mark.asyncio(loop_scope="module")
ROOT = Path(__file__).resolve().parents[2]
ANONYMOUS = {
    "/healthz",
    "/readyz",
    "/api/v1/auth/signup",
    "/api/v1/auth/signin",
    "/api/v1/auth/refresh",
    # the web app's cookie session (CSRF-checked) and signed media URLs: tests/gateway/test_web_session.py,
    # test_media_urls.py
    "/api/v1/session",
    "/api/v1/session/signup",
    "/api/v1/session/refresh",
    "/api/v1/session/signout-everywhere",
    "/api/v1/media/{generation_id}/{variant}",
    # public by design, rate limited per client: tests/gateway/test_provenance.py,
    # test_takedown_requests.py
    "/api/v1/provenance/check",
    "/api/v1/takedown-requests",
}


def assert_error(reply: httpx.Response, status: int, code: str | None = None) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    # The Videos API answers in OpenAI's error shape (type and param besides code and message).
    fields = {"code", "message", "type", "param"} if reply.request.url.path.startswith("/v1/") else {"code", "message"}
    assert set(body) == {"error"} and set(body["error"]) == fields, body
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def users(platform):
    async with httpx.AsyncClient(base_url=platform.url) as c:
        return {h: await platform.signup(c, h) for h in ("alice", "bob")}


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=120) as c:
        yield c


def routes(platform):
    for path, methods in platform.gateway.app.openapi()["paths"].items():
        if path not in ANONYMOUS:
            for method in methods:
                yield method.upper(), re.sub(r"\{[^}]+\}", "x1", path)


async def test_openapi_matches_committed(client):
    served = (await client.get("/openapi.json")).json()
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert served == committed, "openapi.json is stale: run `python -m services.gateway openapi > openapi.json`"


async def test_health_and_ready(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and set(ready.json()["dependencies"]) == {
        "identity",
        "cameo",
        "feed",
        "generator",
        "billing",
    }


async def test_every_endpoint_refuses_without_credentials(platform, client):
    checked = 0
    for method, path in routes(platform):
        assert_error(await client.request(method, path), 401)
        assert_error(await client.request(method, path, headers={"Authorization": "Bearer not.a.jwt"}), 401)
        checked += 1
    assert checked >= 60


async def test_api_keys_only_open_the_videos_api(platform, client, users):
    key = (await client.post("/api/v1/apikeys", json={"name": "ci"}, headers=auth(users["alice"]))).json()["secret"]
    headers = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/videos", headers=headers)).status_code == 200
    assert_error(await client.get("/api/v1/me", headers=headers), 401, "api_key_not_allowed")
    assert_error(await client.get("/v1/videos", headers={"Authorization": "Bearer kin_bad_key"}), 401)


async def test_signin_refresh_and_bad_input(client, users):
    r = await client.post("/api/v1/auth/signin", json={"handle": "alice", "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": r.json()["tokens"]["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.json()["tokens"]["access_token"]
    assert_error(await client.post("/api/v1/auth/signin", json={"handle": "alice", "password": "wrong"}), 401)
    assert_error(await client.post("/api/v1/auth/signin", json={"handle": "alice"}), 400, "invalid_request")
    assert_error(
        await client.post(
            "/api/v1/generations",
            content=b"{not json",
            headers={**auth(users["alice"]), "content-type": "application/json"},
        ),
        400,
    )
    assert_error(
        await client.put("/api/v1/cameo/policy", json={"policy": "anyone at all"}, headers=auth(users["alice"])), 400
    )
    # A service's refusal keeps its code and message (generator validation).
    err = assert_error(
        await client.post("/api/v1/generations", json={"prompt": "a cat", "seconds": 7}, headers=auth(users["alice"])),
        400,
    )
    assert "seconds" in err["message"]


async def test_other_users_cannot_touch_a_generation(client, users):
    created = await client.post(
        "/api/v1/generations",
        json={"prompt": "a red ball bounces on a wooden floor", "seconds": 4},
        headers=auth(users["alice"]),
    )
    assert created.status_code == 201, created.text
    gen_id = created.json()["generation"]["id"]
    mine = await client.get(f"/api/v1/generations/{gen_id}", headers=auth(users["alice"]))
    assert mine.status_code == 200 and mine.json()["generation"]["prompt"].startswith("a red ball")
    bob = auth(users["bob"])
    for method, path in [
        ("GET", f"/api/v1/generations/{gen_id}"),
        ("POST", f"/api/v1/generations/{gen_id}/cancel"),
        ("DELETE", f"/api/v1/generations/{gen_id}"),
        ("GET", f"/api/v1/generations/{gen_id}/events"),
        ("GET", f"/api/v1/generations/{gen_id}/content"),
        ("GET", f"/v1/videos/{gen_id}"),
        ("DELETE", f"/v1/videos/{gen_id}"),
        ("GET", f"/v1/videos/{gen_id}/content"),
    ]:
        reply = await client.request(method, path, headers=bob)
        assert reply.status_code in (403, 404), (method, path, reply.text)
        assert_error(reply, reply.status_code)
    listed = (await client.get("/api/v1/generations", headers=bob)).json()
    assert all(g["id"] != gen_id for g in listed.get("generations", []))
    # Bob's "my cameo" routes act on his own (absent) cameo, never alice's.
    assert_error(await client.put("/api/v1/cameo/policy", json={"policy": "everyone"}, headers=bob), 404)
    # Still there for alice after bob's attempts.
    assert (await client.get(f"/api/v1/generations/{gen_id}", headers=auth(users["alice"]))).status_code == 200


async def test_progress_stream_sends_current_state(client, users):
    created = (
        await client.post(
            "/api/v1/generations", json={"prompt": "a blue kite in wind", "seconds": 4}, headers=auth(users["alice"])
        )
    ).json()["generation"]
    await client.post(f"/api/v1/generations/{created['id']}/cancel", headers=auth(users["alice"]))
    async with client.stream("GET", f"/api/v1/generations/{created['id']}/events", headers=auth(users["alice"])) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = (await r.aread()).decode()
    events = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line != "data: {}"]
    assert events[-1]["status"] == "GENERATION_STATUS_CANCELED"


async def test_billing_and_feed_routes(client, users):
    alice = auth(users["alice"])
    balance = await client.get("/api/v1/billing/balance", headers=alice)
    assert balance.status_code == 200 and "allowance" in balance.json()["balance"]
    packs = (await client.get("/api/v1/billing/packs", headers=alice)).json()["packs"]
    bought = await client.post(
        "/api/v1/billing/purchases",
        headers=alice,
        json={"pack_id": packs[0]["id"], "payment_token": "tok_test_succeed"},
    )
    assert bought.status_code == 201, bought.text
    assert int(bought.json()["balance"]["credits"]) == int(packs[0]["credits"])
    declined = await client.post(
        "/api/v1/billing/purchases",
        headers=alice,
        json={"pack_id": packs[0]["id"], "payment_token": "tok_test_nonsense"},
    )
    assert_error(declined, 400)
    feed = await client.get("/api/v1/feed", headers=alice)
    assert feed.status_code == 200, feed.text
    assert (await client.post("/api/v1/users/bob/follow", headers=alice)).status_code == 200
    assert_error(await client.post("/api/v1/users/nobody_here/follow", headers=alice), 404)


async def test_rate_limit_answers_429_with_retry_after(platform, client, users):
    from services.gateway.ratelimit import Limit

    gw = platform.gateway.app.state.gateway
    saved = gw.user_limit
    gw.user_limit = Limit(rate=0.5, burst=3)
    try:
        codes = [(await client.get("/api/v1/me", headers=auth(users["bob"]))) for _ in range(5)]
    finally:
        gw.user_limit = saved
    assert [r.status_code for r in codes[:3]] == [200, 200, 200]
    limited = codes[3]
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # Alice has her own bucket.
    assert (await client.get("/api/v1/me", headers=auth(users["alice"]))).status_code == 200


async def test_a_multipart_create_carries_every_field_the_json_one_does(client, users):
    """One builder for both body kinds: seed, remix_of, extend_of and quote_id reach the generator
    from a multipart form as they do from JSON (each is seen in the answer or in its refusal)."""
    alice = auth(users["alice"])

    async def form_create(**fields):
        return await client.post(
            "/api/v1/generations",
            headers=alice,
            files={
                "prompt": (None, "a paper boat on a pond"),
                "seconds": (None, "4"),
                **{k: (None, str(v)) for k, v in fields.items()},
            },
        )

    seeded = await form_create(seed=424242)
    assert seeded.status_code == 201, seeded.text
    source = seeded.json()["generation"]
    assert int(source["seed"]) == 424242 and source["seconds"] == 4
    # The source is still queued (no worker here): the generator refuses it by name, so the field arrived.
    remix = assert_error(await form_create(remix_of=source["id"]), 400, "remix_source_invalid")
    assert source["id"] in remix["message"]
    extend = assert_error(await form_create(extend_of=source["id"]), 400, "extend_source_invalid")
    assert source["id"] in extend["message"]
    quote = (
        await client.post(
            "/api/v1/billing/quote", headers=alice, json={"model": "standard", "seconds": 8, "size": "720x1280"}
        )
    ).json()["quote"]
    mismatch = assert_error(await form_create(quote_id=quote["quote_id"]), 400, "quote_mismatch")
    assert "8 s" in mismatch["message"] and "4 s" in mismatch["message"]
    quoted = await form_create(quote_id=quote["quote_id"], seconds=8)
    assert quoted.status_code == 201, quoted.text
    assert_error(await form_create(seed="soon"), 400, "invalid_request")


async def test_a_request_and_the_grpc_calls_it_makes_are_one_trace(client, users):
    """The request's server span (FastAPI's own, once a tracer provider is set up) is the ancestor of
    the generator's CreateGeneration span, through the client span of the call."""
    import asyncio

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from kinora.runtime import telemetry

    exporter = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"  # the client's own trace is continued
    try:
        created = await client.post(
            "/api/v1/generations",
            json={"prompt": "a lantern on a quiet street", "seconds": 4},
            headers={**auth(users["alice"]), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
        )
        assert created.status_code == 201, created.text
        for _ in range(100):  # the request's span ends just after the answer is sent
            spans = exporter.get_finished_spans()
            if any(s.name == "POST /api/v1/generations" for s in spans):
                break
            await asyncio.sleep(0.02)
    finally:
        exporter.shutdown()
    request = next(s for s in spans if s.name == "POST /api/v1/generations")
    assert request.kind == SpanKind.SERVER and format(request.context.trace_id, "032x") == trace_id
    assert request.attributes["http.route"] == "/api/v1/generations"
    assert request.attributes["http.response.status_code"] == 201
    create = next(
        s
        for s in spans
        if s.name == "kinora.generator.v1.GeneratorService/CreateGeneration" and s.kind == SpanKind.SERVER
    )
    assert create.context.trace_id == request.context.trace_id
    by_id, parents, span = {s.context.span_id: s for s in spans}, [], create
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        parents.append(span.name)
    assert parents[0] == "kinora.generator.v1.GeneratorService/CreateGeneration"  # the gateway's client span
    assert "POST /api/v1/generations" in parents, parents
