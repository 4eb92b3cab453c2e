"""Changing the password ends every other sign-in (issue 20, part 6).

Before: there was no way to change a password (POST /api/v1/me/password answered 404), so a
person who suspected a stolen session could not lock the thief out. Now the endpoint asks for the
current password (counted and backed off like sign-in failures), applies the sign-up rules to the
new one, and ends every other session: its refresh token is refused at once and its access tokens
are on the deny list every verifier re-reads at most every 30 s. The session that made the change
carries on. Real gateway and services over HTTP (no broker needed)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from gateway_platform import running_platform  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

OLD, NEW = "correct horse battery", "a whole new passphrase"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory):
    async with running_platform(tmp_path_factory.mktemp("pw"), user_burst=1000, anon_burst=1000) as p:
        yield p


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as c:
        yield c


async def sign_up(platform, client, handle: str) -> dict:
    reply = await client.post(
        "/api/v1/auth/signup",
        json={
            "invite_code": await platform.invite(),
            "handle": handle,
            "password": OLD,
            "birthdate": "1990-05-01",
            "region": "US",
        },
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["tokens"]


async def sign_in(client, handle: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/signin", json={"handle": handle, "password": password})


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def change(client, tokens: dict, current: str, new: str) -> httpx.Response:
    return await client.post(
        "/api/v1/me/password", headers=bearer(tokens), json={"current_password": current, "new_password": new}
    )


async def test_changing_the_password_ends_every_other_session(platform, client):
    stolen = await sign_up(platform, client, "changer")  # say a thief holds this sign-in
    mine = (await sign_in(client, "changer", OLD)).json()["tokens"]
    assert (await client.get("/api/v1/me", headers=bearer(stolen))).status_code == 200

    changed = await change(client, mine, OLD, NEW)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"sessions_ended": 1}

    # The other sign-in's refresh token is refused at once...
    refused = await client.post("/api/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_refresh_token", refused.text
    # ...and its access token within the deny list's refresh (30 s at most).
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        still = await client.get("/api/v1/me", headers=bearer(stolen))
        if still.status_code == 401:
            break
        await asyncio.sleep(1)
    assert still.status_code == 401 and still.json()["error"]["code"] == "session_revoked", still.text

    # The session that changed it carries on, and refreshes.
    assert (await client.get("/api/v1/me", headers=bearer(mine))).status_code == 200
    assert (await client.post("/api/v1/auth/refresh", json={"refresh_token": mine["refresh_token"]})).status_code == 200
    # Only the new password signs in.
    assert (await sign_in(client, "changer", OLD)).status_code == 401
    assert (await sign_in(client, "changer", NEW)).status_code == 200


async def test_the_new_password_follows_the_sign_up_rules(platform, client):
    tokens = await sign_up(platform, client, "ruled")
    for new, code in (("short", "invalid_password"), ("x" * 257, "invalid_password"), (OLD, "same_password")):
        reply = await change(client, tokens, OLD, new)
        assert reply.status_code == 400 and reply.json()["error"]["code"] == code, reply.text
    missing = await client.post("/api/v1/me/password", headers=bearer(tokens), json={"new_password": NEW})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "password_required", missing.text
    assert (await sign_in(client, "ruled", OLD)).status_code == 200  # nothing changed


async def test_a_wrong_current_password_is_refused_and_rate_limited(platform, client):
    tokens = await sign_up(platform, client, "guessed")
    limit = platform.apps["identity"].settings.signin_max_failures_account
    for _ in range(limit):
        wrong = await change(client, tokens, "not my password", NEW)
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password", wrong.text
    # Backed off now, even with the right password: a stolen access token can't guess it.
    held = await change(client, tokens, OLD, NEW)
    assert held.status_code == 429 and held.json()["error"]["code"] == "password_rate_limited", held.text
    assert "Retry-After" in held.headers
    assert (await sign_in(client, "guessed", OLD)).status_code == 200  # the password did not change
