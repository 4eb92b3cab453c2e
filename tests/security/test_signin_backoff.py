"""Sign-in throttling keyed so that it cannot be turned against a victim (issue 20, part 4).

Before: five failures locked a handle for everyone, so anyone could lock anyone out, and the
failure count was read, then written, so concurrent guesses all passed the check. Now failures
back off per (handle, client address) with a counter bumped atomically before the password is
checked; the per-client limit across handles stays."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc
import pytest

from kinora.identity.v1 import identity_pb2 as pb
from kinora.runtime.auth import mint_service_token
from kinora.testing import bearer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))
from identity_harness import INTERNAL_SECRET, Running, settings_for  # noqa: E402

PASSWORD = "correct horse battery"
LIMIT = 3


@pytest.fixture
async def idsvc(pg_url, tmp_path):
    async with Running(
        settings_for(
            pg_url,
            tmp_path / "blobs",
            signin_max_failures_account=LIMIT,
            signin_max_failures_address=40,
            signin_backoff_s=1,
        )
    ) as running:
        yield running


async def attempt(stub, handle: str, password: str, address: str) -> grpc.StatusCode:
    """A sign-in relayed by the gateway, which alone may state the client's address."""
    try:
        await stub.SignIn(
            pb.SignInRequest(handle=handle, password=password, client_address=address),
            metadata=bearer(mint_service_token("gateway", INTERNAL_SECRET)[0]),
        )
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


async def test_failures_from_one_client_do_not_lock_the_account_for_others(idsvc):
    await idsvc.sign_up("victim")
    for _ in range(LIMIT + 3):
        await attempt(idsvc.stub, "victim", "wrong password", "203.0.113.66")
    # The attacker's address is backed off, even with the right password...
    assert await attempt(idsvc.stub, "victim", PASSWORD, "203.0.113.66") == grpc.StatusCode.RESOURCE_EXHAUSTED
    # ...the owner, signing in from elsewhere, is not.
    assert await attempt(idsvc.stub, "victim", PASSWORD, "198.51.100.7") == grpc.StatusCode.OK


async def test_backoff_doubles_and_ends(idsvc):
    await idsvc.sign_up("slowpoke")
    for _ in range(LIMIT):
        assert await attempt(idsvc.stub, "slowpoke", "wrong password", "10.7.7.7") == grpc.StatusCode.UNAUTHENTICATED
    assert await attempt(idsvc.stub, "slowpoke", PASSWORD, "10.7.7.7") == grpc.StatusCode.RESOURCE_EXHAUSTED
    await asyncio.sleep(1.2)  # the first wait (1 s) is over: one more try is checked
    assert await attempt(idsvc.stub, "slowpoke", "wrong password", "10.7.7.7") == grpc.StatusCode.UNAUTHENTICATED
    await asyncio.sleep(1.2)  # the wait has doubled to 2 s
    assert await attempt(idsvc.stub, "slowpoke", PASSWORD, "10.7.7.7") == grpc.StatusCode.RESOURCE_EXHAUSTED
    await asyncio.sleep(1.0)
    assert await attempt(idsvc.stub, "slowpoke", PASSWORD, "10.7.7.7") == grpc.StatusCode.OK
    # A success clears the count: the next mistake is not throttled.
    assert await attempt(idsvc.stub, "slowpoke", "wrong password", "10.7.7.7") == grpc.StatusCode.UNAUTHENTICATED


async def test_concurrent_guesses_are_all_counted(idsvc):
    await idsvc.sign_up("target")
    codes = await asyncio.gather(*(attempt(idsvc.stub, "target", f"guess {i}", "10.8.8.8") for i in range(12)))
    checked = codes.count(grpc.StatusCode.UNAUTHENTICATED)
    assert checked == LIMIT, f"{checked} of 12 concurrent guesses had their password checked; the limit is {LIMIT}"
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 12 - LIMIT
