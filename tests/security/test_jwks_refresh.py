"""A signing key removed at identity stops being trusted everywhere (issue 20, part 6).

Before: a verifier (the gateway's, every service's) read identity's JWKS once and again only on
an unknown `kid`, so a removed key - a leaked one, say - kept verifying tokens until each process
restarted, and tokens it had verified stayed cached until they expired. Now the JWKS is read
again when the max-age identity publishes with it runs out, and tokens verified under a key
that is gone leave the cache.

A real identity service signs with PEM files in a folder (KINORA_JWT_PRIVATE_KEYS_DIR, the
chart's layout); the operator retires a key by deleting its file."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from kinora.identity.tokens import jwks_from_identity
from kinora.identity.v1 import identity_pb2 as pb
from kinora.runtime.auth import TokenVerifier
from kinora.runtime.errors import Unauthenticated
from kinora.stack.tansu import free_port
from services.identity.keys import FolderKeyStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))
from identity_harness import Running, settings_for  # noqa: E402

MAX_AGE_S = 1
PASSWORD = "correct horse battery"


@pytest.fixture
async def idsvc(pg_url, tmp_path):
    keys = tmp_path / "jwt"
    async with Running(
        settings_for(pg_url, tmp_path / "blobs", jwt_keys_dir=str(keys), jwks_max_age_s=MAX_AGE_S)
    ) as running:
        # Identity re-reads its own key folder every 30 s; that delay is not what is tested here.
        running.service.keyring.reload_s = 0
        running.keys = FolderKeyStore(str(keys))
        yield running


def address(idsvc) -> str:
    return f"127.0.0.1:{idsvc.service.app.port}"


async def withdraw_the_signing_key(idsvc) -> None:
    (old_key,) = list(Path(idsvc.keys.folder).glob("*.pem"))
    idsvc.keys.rotate()  # the new key signs from now on...
    old_key.unlink()  # ...and the old one is withdrawn


async def sign_in(idsvc, handle: str) -> str:
    return (await idsvc.stub.SignIn(pb.SignInRequest(handle=handle, password=PASSWORD))).tokens.access_token


async def test_a_removed_key_stops_verifying_after_the_max_age(idsvc):
    verifier = TokenVerifier(jwks_from_identity(address(idsvc)))  # the services' defaults
    old_token = (await idsvc.sign_up("rotated")).tokens.access_token
    assert (await verifier.verify(old_token)).handle == "rotated"  # cached from now on
    await withdraw_the_signing_key(idsvc)
    new_token = await sign_in(idsvc, "rotated")

    await asyncio.sleep(MAX_AGE_S + 0.2)
    with pytest.raises(Unauthenticated, match="unknown key"):
        await verifier.verify(old_token)
    assert (await verifier.verify(new_token)).handle == "rotated"


async def test_tokens_verified_under_a_removed_key_leave_the_cache(idsvc):
    verifier = TokenVerifier(jwks_from_identity(address(idsvc)), min_refresh_s=0)
    old_token = (await idsvc.sign_up("cached")).tokens.access_token
    assert (await verifier.verify(old_token)).handle == "cached"
    await withdraw_the_signing_key(idsvc)
    # The new key's unknown kid makes the verifier read the JWKS at once, without the old key...
    assert (await verifier.verify(await sign_in(idsvc, "cached"))).handle == "cached"
    # ...and what was verified under the old key is not served from the cache any more.
    with pytest.raises(Unauthenticated, match="unknown key"):
        await verifier.verify(old_token)


async def test_the_jwks_comes_with_identitys_max_age(idsvc):
    jwks = await jwks_from_identity(address(idsvc))()
    assert jwks["max_age_seconds"] == MAX_AGE_S and jwks["keys"]


async def test_an_unreachable_identity_keeps_the_last_keys(idsvc):
    token = (await idsvc.sign_up("steady")).tokens.access_token
    verifier = TokenVerifier(jwks_from_identity(f"127.0.0.1:{free_port()}"), min_refresh_s=60)  # nobody there
    verifier.load_jwks(await jwks_from_identity(address(idsvc))())
    await asyncio.sleep(MAX_AGE_S + 0.2)
    # The re-read fails; refusing every caller would be worse than trusting the last answer a bit longer.
    assert (await verifier.verify(token)).handle == "steady"
