"""Only the gateway may tell identity who the client is (issue 20).

Before: SignIn and RefreshTokens took `client_address` from any caller, and the sign-in back-off
is keyed by it (per handle and client, and per client): anyone reaching identity directly could
name a fresh address with every guess and never be slowed down. Now the stated address counts only
when the caller holds the gateway's service token; anyone else (a person calling identity
directly, another service) is keyed by their own peer address."""

from __future__ import annotations

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
            signin_backoff_s=60,
        )
    ) as running:
        yield running


async def sign_in(stub, handle: str, password: str, address: str, metadata=None) -> grpc.StatusCode:
    try:
        await stub.SignIn(pb.SignInRequest(handle=handle, password=password, client_address=address), metadata=metadata)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("caller", ["anonymous", "another service", "a signed-in person"])
async def test_a_stated_address_from_anyone_but_the_gateway_is_ignored(idsvc, caller):
    await idsvc.sign_up("victim")
    if caller == "anonymous":
        metadata = None
    elif caller == "another service":
        metadata = bearer(mint_service_token("feed", INTERNAL_SECRET)[0])
    else:
        metadata = bearer((await idsvc.sign_up("attacker")).tokens.access_token)
    # A new made-up address per guess: all of them are the caller's own peer address to identity.
    codes = [await sign_in(idsvc.stub, "victim", f"guess {i}", f"198.51.100.{i}", metadata) for i in range(LIMIT + 2)]
    assert codes[:LIMIT] == [grpc.StatusCode.UNAUTHENTICATED] * LIMIT
    assert codes[LIMIT:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2, codes
    # The right password from that caller waits too; through the gateway, another client is not held up.
    assert await sign_in(idsvc.stub, "victim", PASSWORD, "203.0.113.9", metadata) == grpc.StatusCode.RESOURCE_EXHAUSTED
    gateway = bearer(mint_service_token("gateway", INTERNAL_SECRET)[0])
    assert await sign_in(idsvc.stub, "victim", PASSWORD, "203.0.113.9", gateway) == grpc.StatusCode.OK


async def test_the_gateway_states_each_clients_address(idsvc):
    await idsvc.sign_up("shared")
    gateway = bearer(mint_service_token("gateway", INTERNAL_SECRET)[0])
    for _ in range(LIMIT + 1):
        await sign_in(idsvc.stub, "shared", "wrong", "192.0.2.1", gateway)
    assert await sign_in(idsvc.stub, "shared", PASSWORD, "192.0.2.1", gateway) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await sign_in(idsvc.stub, "shared", PASSWORD, "192.0.2.2", gateway) == grpc.StatusCode.OK


async def test_refresh_records_the_stated_address_only_from_the_gateway(idsvc):
    from sqlalchemy import text

    signed_up = await idsvc.sign_up("refresher")
    direct = await idsvc.stub.RefreshTokens(
        pb.RefreshTokensRequest(refresh_token=signed_up.tokens.refresh_token, client_address="198.51.100.77")
    )
    relayed = await idsvc.stub.RefreshTokens(
        pb.RefreshTokensRequest(refresh_token=direct.tokens.refresh_token, client_address="203.0.113.5"),
        metadata=bearer(mint_service_token("gateway", INTERNAL_SECRET)[0]),
    )
    assert relayed.tokens.refresh_token
    with idsvc.service.ctx.engine.connect() as c:
        seen = set(c.execute(text("SELECT client_address FROM refresh_tokens")).scalars())
    assert "198.51.100.77" not in seen and "203.0.113.5" in seen, seen
