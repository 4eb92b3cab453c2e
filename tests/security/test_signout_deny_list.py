"""Signing out ends the access tokens of that sign-in within a minute (issue 20, part 6).

Before: sign-out revoked the session's refresh tokens only; its access tokens (15 minutes) kept
working everywhere, as verifiers check signatures locally and cache what they verified. Now an
access token names its sign-in (`sid`), identity lists the recently ended sessions
(ListRevokedSessions) and every verifier re-reads that list at most every 30 s and refuses the
tokens of a listed session, cached ones included. A real identity service and the services'
verifier, as the gateway and every service build it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import jwt
import pytest

from kinora.identity.tokens import jwks_from_identity, revoked_sessions_from_identity
from kinora.identity.v1 import identity_pb2 as pb
from kinora.runtime.auth import TokenVerifier
from kinora.runtime.errors import Unauthenticated

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))
from identity_harness import Running, settings_for  # noqa: E402


@pytest.fixture
async def idsvc(pg_url, tmp_path):
    async with Running(settings_for(pg_url, tmp_path / "blobs")) as running:
        yield running


LIST_AGE_S = 1.0  # the services use 30 s; the wait is real here


def verifier_for(idsvc) -> TokenVerifier:
    address = f"127.0.0.1:{idsvc.service.app.port}"
    return TokenVerifier(
        jwks_from_identity(address), fetch_revoked=revoked_sessions_from_identity(address), revoked_max_age_s=LIST_AGE_S
    )


async def list_ages_out() -> None:
    await asyncio.sleep(LIST_AGE_S + 0.2)


async def test_sign_out_ends_the_access_token_within_a_minute(idsvc):
    verifier = verifier_for(idsvc)
    signed_up = await idsvc.sign_up("leaver")
    other = (await idsvc.stub.SignIn(pb.SignInRequest(handle="leaver", password="correct horse battery"))).tokens
    token = signed_up.tokens.access_token
    assert jwt.decode(token, options={"verify_signature": False})["sid"]
    assert (await verifier.verify(token)).handle == "leaver"  # verified and cached

    await idsvc.stub.SignOut(
        pb.SignOutRequest(refresh_token=signed_up.tokens.refresh_token), metadata=[("authorization", f"Bearer {token}")]
    )
    await list_ages_out()
    with pytest.raises(Unauthenticated, match="signed out") as info:
        await verifier.verify(token)
    assert info.value.code == "session_revoked"
    # The other sign-in of the same person is untouched.
    assert (await verifier.verify(other.access_token)).handle == "leaver"


async def test_sign_out_of_every_session_ends_every_access_token(idsvc):
    verifier = verifier_for(idsvc)
    first = (await idsvc.sign_up("everywhere")).tokens
    second = (await idsvc.stub.SignIn(pb.SignInRequest(handle="everywhere", password="correct horse battery"))).tokens
    for t in (first, second):
        assert (await verifier.verify(t.access_token)).handle == "everywhere"
    await idsvc.stub.SignOut(
        pb.SignOutRequest(all_sessions=True), metadata=[("authorization", f"Bearer {first.access_token}")]
    )
    await list_ages_out()
    for t in (first, second):
        with pytest.raises(Unauthenticated, match="signed out"):
            await verifier.verify(t.access_token)
    # Signing in again works: a new session.
    fresh = (await idsvc.stub.SignIn(pb.SignInRequest(handle="everywhere", password="correct horse battery"))).tokens
    assert (await verifier.verify(fresh.access_token)).handle == "everywhere"
