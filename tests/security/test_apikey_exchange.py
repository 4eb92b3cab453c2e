"""API-key exchange cannot be turned into free database lookups (issue 20, part 4).

Before: every request with an unknown API key made the gateway ask identity (a database lookup)
and left a lock for that key in a map that was never emptied, so random keys cost a lookup each
and memory forever. Now a key the gateway has not cached is rate limited per client before
identity is asked, a failed exchange leaves nothing behind, and the cache of good keys is a
bounded LRU. A key already cached keeps working for a client that has run out of exchanges."""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from services.gateway.apikeys import ApiKeyCache, Exchanged

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from gateway_platform import running_platform  # noqa: E402

BURST = 10  # the gateway's default: KINORA_RATE_KEY_EXCHANGE_BURST


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("keys")) as p:  # the gateway's default limits
        ch = grpc.aio.insecure_channel(p.identity_addr)
        try:
            reply = await identity_pb2_grpc.IdentityServiceStub(ch).SignUp(
                identity_pb2.SignUpRequest(
                    invite_code=await p.invite(),
                    handle="keyholder",
                    password="correct horse battery",
                    birthdate="1990-05-01",
                    region="US",
                )
            )
        finally:
            await ch.close()
        async with httpx.AsyncClient(base_url=p.url) as c:
            created = await c.post(
                "/api/v1/apikeys",
                json={"name": "ci", "scopes": ["videos:read"]},
                headers={"Authorization": f"Bearer {reply.tokens.access_token}"},
            )
        assert created.status_code == 201, created.text
        p.api_key = created.json()["secret"]
        yield p


def exchanges_by_identity() -> float:
    return sum(
        s.value
        for m in REGISTRY.collect()
        if m.name == "kinora_grpc_requests"
        for s in m.samples
        if s.name.endswith("_total") and s.labels.get("method") == "ExchangeApiKey"
    )


def client_from(url: str, local_address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, transport=httpx.AsyncHTTPTransport(local_address=local_address))


async def list_videos(client: httpx.AsyncClient, key: str) -> tuple[int, str]:
    reply = await client.get("/v1/videos", headers={"Authorization": f"Bearer {key}"})
    return reply.status_code, reply.json().get("error", {}).get("code", "") if reply.status_code >= 400 else ""


@pytest.mark.asyncio(loop_scope="module")
async def test_random_keys_are_throttled_before_identity_is_asked(platform):
    before, started = exchanges_by_identity(), time.monotonic()
    async with client_from(platform.url, "127.0.0.5") as guesser:
        codes = [await list_videos(guesser, f"sk-{secrets.token_hex(16)}") for _ in range(40)]
    asked = exchanges_by_identity() - before
    refill = time.monotonic() - started + 1  # 1 exchange a second refills while the guesses run
    assert codes[0] == (401, "invalid_api_key")
    assert codes[-1] == (429, "rate_limited"), codes
    assert asked <= BURST + refill, f"identity looked up {asked:.0f} of 40 random keys"
    assert codes.count((401, "invalid_api_key")) == asked
    # Nothing is kept for keys that failed.
    assert len(platform.gateway.app.state.gateway.api_keys) <= 1  # at most the fixture's own key


@pytest.mark.asyncio(loop_scope="module")
async def test_a_cached_key_keeps_working_for_a_throttled_client(platform):
    async with client_from(platform.url, "127.0.0.6") as client, client_from(platform.url, "127.0.0.7") as other:
        assert await list_videos(client, platform.api_key) == (200, "")
        for _ in range(BURST + 5):
            await list_videos(client, f"sk-{secrets.token_hex(16)}")
        assert await list_videos(client, f"sk-{secrets.token_hex(16)}") == (429, "rate_limited")
        assert await list_videos(client, platform.api_key) == (200, "")  # from the cache: no exchange needed
        # Each client has its own allowance.
        assert await list_videos(other, f"sk-{secrets.token_hex(16)}") == (401, "invalid_api_key")


# --- the cache on its own -------------------------------------------------------------------


class Identity:
    """Stands in for identity's ExchangeApiKey: keys starting 'good' are valid."""

    def __init__(self):
        self.calls = 0

    async def exchange(self, secret: str) -> Exchanged:
        self.calls += 1
        await asyncio.sleep(0.01)
        if not secret.startswith("good"):
            raise PermissionError("not a key")
        return Exchanged(f"token-for-{secret}", time.time() + 300, f"key-{secret}")


async def allow():
    pass


async def test_the_cache_is_a_bounded_lru():
    identity = Identity()
    cache = ApiKeyCache(identity.exchange, max_entries=3)
    for name in ("good1", "good2", "good3"):
        await cache.get(name, allow)
    await cache.get("good1", allow)  # used again: now the most recent
    await cache.get("good4", allow)  # pushes out the least recently used, good2
    assert len(cache) == 3 and identity.calls == 4
    await cache.get("good1", allow)
    await cache.get("good2", allow)
    assert identity.calls == 5  # good1 was still cached; good2 had to be traded again


async def test_concurrent_misses_share_one_exchange_and_failures_leave_nothing():
    identity = Identity()
    cache = ApiKeyCache(identity.exchange, max_entries=10)
    found = await asyncio.gather(*(cache.get("good-shared", allow) for _ in range(20)))
    assert identity.calls == 1 and {f.api_key_id for f in found} == {"key-good-shared"}
    for i in range(100):
        with pytest.raises(PermissionError):
            await cache.get(f"random-{i}", allow)
    assert len(cache) == 1


async def test_a_refused_miss_asks_nothing_and_keeps_nothing():
    identity = Identity()
    cache = ApiKeyCache(identity.exchange, max_entries=10)

    async def throttled():
        raise RuntimeError("rate limited")

    with pytest.raises(RuntimeError):
        await cache.get("good-key", throttled)
    assert identity.calls == 0 and len(cache) == 0
