"""Rate limits and sign-in back-off key on the real client, not on the proxy (issue 20, part 4).

Before: uvicorn believed X-Forwarded-For from 127.0.0.1 only (its default), so behind an ingress
every client had the ingress pod's address - one client's sign-in failures or request burst
throttled everyone - while anyone on the gateway's own host could name any address they liked.
Now the header is believed only from KINORA_TRUSTED_PROXIES (none by default), and the address
it gives is what the gateway's limits and identity's sign-in back-off count.

Loopback is a /8 on Linux, so the proxy and a direct client are told apart by the local address
each connection is made from."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import grpc
import httpx
import pytest
import pytest_asyncio

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.runtime.egress import cidrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from gateway_platform import running_platform  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROXY = "127.0.0.2"  # the ingress, as the gateway sees it
DIRECT = "127.0.0.3"  # someone reaching the gateway around the ingress
BURST = 8  # anonymous calls per client address, never refilled here
PASSWORD = "correct horse battery"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory):
    async with running_platform(
        tmp_path_factory.mktemp("edge"), trusted_proxies=cidrs(f"{PROXY}/32"), anon_burst=BURST, anon_rate=0.0
    ) as p:
        yield p


def client_from(url: str, local_address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, transport=httpx.AsyncHTTPTransport(local_address=local_address), timeout=30)


async def sign_in(client: httpx.AsyncClient, handle: str, password: str, forwarded_for: str | None) -> tuple[int, str]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    reply = await client.post("/api/v1/auth/signin", json={"handle": handle, "password": password}, headers=headers)
    return reply.status_code, reply.json().get("error", {}).get("code", "")


async def sign_up(platform, handle: str) -> None:
    ch = grpc.aio.insecure_channel(platform.identity_addr)
    try:
        await identity_pb2_grpc.IdentityServiceStub(ch).SignUp(
            identity_pb2.SignUpRequest(
                invite_code=await platform.invite(),
                handle=handle,
                password=PASSWORD,
                birthdate="1990-05-01",
                region="US",
            )
        )
    finally:
        await ch.close()


async def exhaust(client: httpx.AsyncClient, forwarded_for) -> None:
    """Spends one client's anonymous allowance (distinct unknown handles: identity's back-off stays out)."""
    for i in range(BURST):
        forwarded = forwarded_for(i) if callable(forwarded_for) else forwarded_for
        assert await sign_in(client, f"nobody{i}", "wrong", forwarded) == (401, "invalid_credentials")


async def test_behind_the_proxy_each_client_has_its_own_limit(platform):
    async with client_from(platform.url, PROXY) as proxy:
        await exhaust(proxy, "198.51.100.1")
        assert await sign_in(proxy, "nobody", "wrong", "198.51.100.1") == (429, "rate_limited")
        # Another client behind the same proxy is not throttled by the first one.
        assert await sign_in(proxy, "nobody", "wrong", "198.51.100.2") == (401, "invalid_credentials")
        # A client cannot escape by sending its own header: the proxy appends the real address,
        # and the rightmost address outside the trusted ranges is the one believed.
        assert await sign_in(proxy, "nobody", "wrong", "10.9.9.9, 198.51.100.1") == (429, "rate_limited")


async def test_a_direct_client_cannot_name_its_own_address(platform):
    async with client_from(platform.url, DIRECT) as direct:
        await exhaust(direct, lambda i: f"192.0.2.{i + 1}")  # a new made-up address every call
        assert await sign_in(direct, "nobody", "wrong", "192.0.2.200") == (429, "rate_limited")


async def test_with_no_trusted_proxies_the_header_is_ignored(platform):
    from services.gateway.server import GatewayServer

    # The default settings, on the address uvicorn itself would trust (127.0.0.1).
    bare = GatewayServer(dataclasses.replace(platform.gateway.settings, http_port=0, trusted_proxies=()))
    port = await bare.start()
    try:
        async with client_from(f"http://127.0.0.1:{port}", "127.0.0.1") as local:
            await exhaust(local, lambda i: f"192.0.2.{i + 1}")
            assert await sign_in(local, "nobody", "wrong", "192.0.2.201") == (429, "rate_limited")
    finally:
        await bare.stop()


async def test_sign_in_back_off_counts_the_real_client(platform):
    await sign_up(platform, "edgevictim")
    async with client_from(platform.url, PROXY) as proxy:
        for _ in range(5):  # identity's default: five failures per (handle, client)
            assert await sign_in(proxy, "edgevictim", "wrong", "203.0.113.66") == (401, "invalid_credentials")
        # The guesser is backed off even with the right password...
        assert await sign_in(proxy, "edgevictim", PASSWORD, "203.0.113.66") == (429, "signin_rate_limited")
        # ...the owner, behind the same ingress, is not.
        assert await sign_in(proxy, "edgevictim", PASSWORD, "198.51.100.7") == (200, "")
