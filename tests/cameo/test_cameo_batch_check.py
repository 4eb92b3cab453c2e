"""BatchCheckUse and the ConsentClient that uses it: every check in a batch is
answered exactly as CheckUse answers it alone, a bad check fails alone, and
checks made at the same time through ConsentClient share calls."""

import asyncio

import grpc
import pytest
from cameo_harness import SECRET

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.common.v1 import common_pb2 as common
from kinora.consent import PUBLISH, ConsentClient
from kinora.runtime.auth import mint_service_token
from kinora.runtime.clients import TokenSource
from kinora.runtime.errors import InvalidArgument, PermissionDenied, Unavailable

PROMPT = "skating through a park in autumn"


def answer(reply: pb.CheckUseResponse):
    return reply.all_allowed, [
        (d.cameo_id, d.allowed, d.reason, d.revision, d.owner_user_id, d.message) for d in reply.decisions
    ]


async def people(replica, world):
    """Four cameos, one per policy, and requesters that are approved, mutual, strangers or owners."""
    owners = [world.user(f"bo{i}") for i in range(4)]
    cameos = [world.verify(o) for o in owners]
    policies = [
        common.CAMEO_POLICY_ONLY_ME,
        common.CAMEO_POLICY_APPROVED,
        common.CAMEO_POLICY_MUTUALS,
        common.CAMEO_POLICY_EVERYONE,
    ]
    for o, c, p in zip(owners, cameos, policies):
        await replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=c, policy=p), metadata=world.as_user(o))
    users = [world.user(f"bu{i}") for i in range(4)]
    await replica.stub.Approve(
        pb.ApproveRequest(cameo_id=cameos[1], user_id=users[0]), metadata=world.as_user(owners[1])
    )
    world.follow(users[1], owners[2])
    world.follow(owners[2], users[1])
    await replica.stub.BlockUser(
        pb.BlockUserRequest(cameo_id=cameos[3], user_id=users[2]), metadata=world.as_user(owners[3])
    )
    return owners, cameos, users


async def test_batch_answers_each_check_as_check_use_does(replica, world):
    owners, cameos, users = await people(replica, world)
    service = world.as_service("generator")
    checks = [
        pb.CheckUseRequest(requester_user_id=u, cameo_ids=[c], prompt=PROMPT) for u in users + owners for c in cameos
    ]
    checks.append(pb.CheckUseRequest(requester_user_id=users[0], cameo_ids=[cameos[1], cameos[3]], prompt=PROMPT))
    checks.append(pb.CheckUseRequest(requester_user_id=users[0], cameo_ids=[cameos[0], cameos[0]], prompt=PROMPT))
    checks.append(pb.CheckUseRequest(requester_user_id=users[1], cameo_ids=[cameos[2]], prompt=" "))
    checks.append(pb.CheckUseRequest(requester_user_id="", cameo_ids=[cameos[2]], prompt=PROMPT))
    reply = await replica.stub.BatchCheckUse(pb.BatchCheckUseRequest(checks=checks), metadata=service)
    assert len(reply.results) == len(checks)
    for check, result in zip(checks, reply.results):
        try:
            alone = await replica.stub.CheckUse(check, metadata=service)
        except grpc.aio.AioRpcError as err:  # a check CheckUse refuses fails alone, with the same words
            assert result.WhichOneof("outcome") == "error", check
            assert (result.status, result.error.message) == (err.code().value[0], err.details())
            continue
        assert result.WhichOneof("outcome") == "response" and result.status == 0
        assert answer(result.response) == answer(alone), check
    allowed = [r.response.all_allowed for r in reply.results[:32]]
    # everyone-cameo for 3 of 4 users (one blocked) and 3 other owners, own cameos 4, approved 1, mutual 1
    assert sum(allowed) == 3 + 3 + 4 + 1 + 1
    codes = [r.error.code for r in reply.results[-3:]]
    assert codes == ["duplicate_cameo", "empty_prompt", "missing_requester"]


async def test_batch_refuses_whole_call_for_bad_batches_and_other_peoples_checks(replica, world):
    owners, cameos, users = await people(replica, world)
    one = pb.CheckUseRequest(requester_user_id=users[0], cameo_ids=[cameos[1]], prompt=PROMPT)
    service = world.as_service("generator")
    for request, code, words in [
        (pb.BatchCheckUseRequest(), grpc.StatusCode.INVALID_ARGUMENT, "at least one check"),
        (pb.BatchCheckUseRequest(checks=[one] * 65), grpc.StatusCode.INVALID_ARGUMENT, "at most 64 checks"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await replica.stub.BatchCheckUse(request, metadata=service)
        assert err.value.code() == code and words in err.value.details()
    # A user checks only on their own behalf: a check for someone else fails alone.
    mine = pb.CheckUseRequest(cameo_ids=[cameos[1]], prompt=PROMPT)
    reply = await replica.stub.BatchCheckUse(
        pb.BatchCheckUseRequest(checks=[mine, one]), metadata=world.as_user(users[0])
    )
    assert [r.response.all_allowed for r in reply.results] == [True, True]
    reply = await replica.stub.BatchCheckUse(
        pb.BatchCheckUseRequest(checks=[mine, one]), metadata=world.as_user(users[1])
    )
    assert reply.results[0].WhichOneof("outcome") == "response" and not reply.results[0].response.all_allowed
    assert (reply.results[1].status, reply.results[1].error.code) == (7, "not_requester")
    # Only the services that check consent may batch for others.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.BatchCheckUse(pb.BatchCheckUseRequest(checks=[one]), metadata=world.as_service("billing"))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await replica.stub.BatchCheckUse(pb.BatchCheckUseRequest(checks=[one]))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def service_client(replica, in_flight=1, **options):
    async def mint():
        return mint_service_token("generator", SECRET)

    address = f"127.0.0.1:{replica.ctx.app.port}"
    return ConsentClient(address, TokenSource(mint), timeout_s=20, in_flight=in_flight, **options)


async def test_client_checks_made_together_share_calls(replica, world):
    owners, cameos, users = await people(replica, world)
    client = service_client(replica)
    try:
        checks = [(u, [c]) for u in users + owners for c in cameos] * 3
        together = await asyncio.gather(*[client.check(u, ids, PROMPT, "g1") for u, ids in checks])
        # The first check went alone; the rest waited for it and went in batches.
        assert client.batched_checks == len(checks) - 1 and client.calls <= 2, (client.calls, client.batched_checks)
        alone = [await client.check(u, ids, PROMPT, "g1", purpose=PUBLISH) for u, ids in checks[:32]]
        assert together[:32] == alone and together[32:64] == alone
        assert client.batched_checks == len(checks) - 1  # one at a time: no batch
        # A bad check fails alone, with the domain error CheckUse gives; its neighbours are answered.
        mixed = await asyncio.gather(
            client.check(users[0], [cameos[1]], PROMPT, "g2"),
            client.check(users[0], [cameos[1]], PROMPT, "g2"),
            client.check(users[0], [cameos[1], cameos[1]], PROMPT, "g2"),
            client.check(users[0], [cameos[1]], PROMPT, "g2"),
            return_exceptions=True,
        )
        assert isinstance(mixed[2], InvalidArgument) and mixed[2].code == "duplicate_cameo"
        assert [v.all_allowed for k, v in enumerate(mixed) if k != 2] == [True, True, True]
    finally:
        await client.close()


async def test_client_paces_its_calls_only_while_checks_queue(replica, world):
    """A call that came back with checks waiting means they arrive faster than calls
    return: the next call waits for the pace, and checks made meanwhile join it."""
    owners, cameos, users = await people(replica, world)
    client = service_client(replica, pace_s=0.5)

    def one():
        return asyncio.ensure_future(client.check(users[0], [cameos[1]], PROMPT, "g4"))

    try:
        for _ in range(3):  # one check at a time never waits for the pace
            assert (await one()).all_allowed
        assert (client.paced, client.calls) == (0, 0)
        first = one()
        await asyncio.sleep(0)  # on the wire
        queued = [one(), one()]
        while client.paced == 0 and not queued[0].done():
            await asyncio.sleep(0.005)
        assert client.paced == 1 and first.done() and not any(q.done() for q in queued)
        late = one()  # made while the next call waits for the pace: it goes with the two
        assert all(v.all_allowed for v in await asyncio.gather(*queued, late))
        assert (client.calls, client.batched_checks) == (1, 3)
        # That call came back with nothing waiting: the next check goes at once, alone.
        assert (await one()).all_allowed and (client.paced, client.calls) == (1, 1)
        for bad in (-0.001, 1.5):
            with pytest.raises(ValueError):
                service_client(replica, pace_s=bad)
        # Closed while checks wait for the pace: they are answered, not left hanging.
        first = one()
        await asyncio.sleep(0)
        queued = [one(), one()]
        while client.paced == 1 and not queued[0].done():
            await asyncio.sleep(0.005)
        assert client.paced == 2 and not any(q.done() for q in queued)
        await client.close()
        # At once, not when the pace (0.5 s after the first went) would have let them go.
        assert len((await asyncio.wait(queued, timeout=0.25))[0]) == 2
        assert (await first).all_allowed
        for q in queued:
            with pytest.raises(Unavailable):
                await q
    finally:
        await client.close()


async def test_client_forwarding_user_tokens_never_mixes_callers(replica, world):
    """Without a token source the client forwards the caller's own token: checks of
    different callers go in different calls, each authorised as its own caller."""
    from kinora.runtime import auth

    owners, cameos, users = await people(replica, world)
    client = ConsentClient(f"127.0.0.1:{replica.ctx.app.port}", timeout_s=20, in_flight=1)

    tokens = {u: world.as_user(u)[0][1].removeprefix("Bearer ") for u in users}

    async def as_caller(user, requester):
        auth.current_principal.set(auth.Principal(subject=user, kind="user", token=tokens[user]))
        return await client.check(requester, [cameos[3]], PROMPT, "g3")

    try:
        got = await asyncio.gather(
            *[as_caller(u, u) for u in users for _ in range(3)], as_caller(users[0], users[1]), return_exceptions=True
        )
        assert [v.all_allowed for v in got[:12]] == [True] * 6 + [False] * 3 + [True] * 3  # users[2] is blocked
        assert isinstance(got[12], PermissionDenied) and got[12].code == "not_requester"
        assert client.calls == 4 and client.batched_checks == 9  # per caller: one check alone, then a batch
    finally:
        await client.close()
