"""kinora.consent.ConsentClient against the real cameo service (in-process,
on PostgreSQL): an allowed use, a refused one with cameo's reason, and an
unreachable service. And the generator's checker built on it keeps its
refusal wording and codes."""

import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "cameo")]

from cameo_harness import SECRET, World, start_replica  # noqa: E402

from kinora.cameo.v1 import cameo_pb2  # noqa: E402
from kinora.common.v1 import common_pb2  # noqa: E402
from kinora.consent import GENERATE, PUBLISH, ConsentClient  # noqa: E402
from kinora.runtime.auth import mint_service_token  # noqa: E402
from kinora.runtime.clients import TokenSource  # noqa: E402
from kinora.runtime.errors import PermissionDenied, Unavailable  # noqa: E402
from kinora.stack.tansu import free_port  # noqa: E402
from kinora.testing import LocalIssuer  # noqa: E402


def service_tokens(name: str = "generator") -> TokenSource:
    async def fetch():
        return mint_service_token(name, SECRET)

    return TokenSource(fetch)


@pytest.fixture
async def cameo_world(pg_url):
    issuer = LocalIssuer()
    cameo = await start_replica(pg_url, issuer)
    world = World(pg_url, issuer)
    try:
        yield cameo, world
    finally:
        world.close()
        await cameo.close()


async def test_allowed_and_refused_decisions_come_back_per_cameo(cameo_world):
    cameo, world = cameo_world
    alice, bob, carol = world.user("alice"), world.user("bob"), world.user("carol")
    bob_cameo, carol_cameo = world.verify(bob), world.verify(carol)
    await cameo.stub.SetPolicy(
        cameo_pb2.SetPolicyRequest(cameo_id=bob_cameo, policy=common_pb2.CAMEO_POLICY_EVERYONE),
        metadata=world.as_user(bob),
    )
    client = ConsentClient(f"127.0.0.1:{cameo.ctx.app.port}", service_tokens(), timeout_s=5)
    try:
        allowed = await client.check(alice, [bob_cameo], "bob juggles", "g-1", GENERATE)
        assert allowed.all_allowed and not allowed.refused
        assert [(d.cameo_id, d.allowed, d.reason) for d in allowed.decisions] == [
            (bob_cameo, True, "DECISION_REASON_ALLOWED_EVERYONE")
        ]

        mixed = await client.check(alice, [bob_cameo, carol_cameo], "bob and carol dance", "g-2", PUBLISH)
        assert not mixed.all_allowed
        assert [d.cameo_id for d in mixed.refused] == [carol_cameo]
        refusal = mixed.refused[0]
        assert refusal.reason == "DECISION_REASON_NOT_PERMITTED" and refusal.message

        with pytest.raises(ValueError):
            await client.check(alice, [bob_cameo], "bob", "g-3", "broadcast")
    finally:
        await client.close()


async def test_an_unreachable_cameo_service_is_consent_unavailable():
    client = ConsentClient(f"127.0.0.1:{free_port()}", service_tokens(), timeout_s=1)
    try:
        with pytest.raises(Unavailable) as caught:
            await client.check("u-alice", ["c-1"], "a prompt", "g-1")
        assert caught.value.code == "consent_unavailable"
    finally:
        await client.close()


async def test_the_generator_checker_keeps_its_refusals(cameo_world):
    from services.generator.remote import GrpcConsentChecker

    cameo, world = cameo_world
    alice, carol = world.user("alice"), world.user("carol")
    carol_cameo = world.verify(carol)
    checker = GrpcConsentChecker(f"127.0.0.1:{cameo.ctx.app.port}", service_tokens())
    try:
        with pytest.raises(PermissionDenied) as named:
            await checker.check(alice, [carol_cameo], "carol waves", "g-1")
        assert named.value.code == "consent_denied" and named.value.message
        with pytest.raises(PermissionDenied) as unnamed:
            await checker.check(alice, [carol_cameo], "a person waves", "g-2", unnamed=frozenset({carol_cameo}))
        assert unnamed.value.code == "likeness_consent_denied"
        assert "carol" not in unnamed.value.message.lower()  # the policy, not the person
        await checker.check(carol, [carol_cameo], "carol waves", "g-3")  # her own cameo
    finally:
        await checker.client.close()
