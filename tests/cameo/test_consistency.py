"""The "new enemy" guarantee with two replicas on one database: many
concurrent checks, spread over both replicas, while the owner withdraws
access through one of them. Once the withdrawal is acknowledged, no check that
starts afterwards, on either replica, may allow the use: sent alone
(CheckUse), several to a call (BatchCheckUse) or through ConsentClient, whose
checks made at the same time wait for a free call slot and share a call."""

import asyncio
import time

import pytest
from cameo_harness import World, start_replica

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.common.v1 import common_pb2 as common

CHECKERS = 16


async def _until(condition, *, at_least=0.6, at_most=20.0):
    """Sleep at least `at_least` seconds, then until `condition()` holds (or `at_most`)."""
    await asyncio.sleep(at_least)
    deadline = time.monotonic() + at_most
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def checking(path, stub, service, clients, i):
    """One check of bob's use through `path`: CheckUse, BatchCheckUse (several checks per call, as a
    caller with many sends them) or ConsentClient (checks made at the same time share calls)."""
    if path == "check":

        async def one(request):
            d = (await stub.CheckUse(request, metadata=service)).decisions[0]
            return [(d.allowed, d.reason, d.revision)]
    elif path == "batch":

        async def one(request):
            reply = await stub.BatchCheckUse(pb.BatchCheckUseRequest(checks=[request] * (1 + i % 4)), metadata=service)
            return [
                (r.response.decisions[0].allowed, r.response.decisions[0].reason, r.response.decisions[0].revision)
                for r in reply.results
            ]
    else:
        client = clients[i % 2]

        async def one(request):
            d = (await client.check(request.requester_user_id, request.cameo_ids, request.prompt, "g")).decisions[0]
            return [(d.allowed, pb.DecisionReason.Value(d.reason), d.revision)]

    return one


@pytest.mark.parametrize("path", ["check", "batch", "client"])
@pytest.mark.parametrize("change", ["revoke", "policy", "block"])
async def test_no_check_allows_after_withdrawal_is_acknowledged(pg_url, replica, change, path):
    from cameo_harness import SECRET

    from kinora.consent import ConsentClient
    from kinora.runtime.auth import mint_service_token
    from kinora.runtime.clients import TokenSource

    other = await start_replica(pg_url, replica.issuer)
    world = World(pg_url, replica.issuer)

    async def mint():
        return mint_service_token("generator", SECRET)

    clients = [
        ConsentClient(f"127.0.0.1:{r.ctx.app.port}", TokenSource(mint), timeout_s=20, in_flight=1)
        for r in (replica, other)
    ]
    try:
        owner, bob = world.user("owner"), world.user("bob")
        cameo = world.verify(owner)
        me = world.as_user(owner)
        await replica.stub.SetPolicy(
            pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_APPROVED), metadata=me
        )
        await replica.stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=bob), metadata=me)
        service = world.as_service("generator")
        stubs = [replica.stub, other.stub]
        results = []  # (started, allowed, reason, revision)
        stop = asyncio.Event()

        async def checker(i):
            one = checking(path, stubs[i % 2], service, clients, i)
            request = pb.CheckUseRequest(requester_user_id=bob, cameo_ids=[cameo], prompt="juggling in the rain")
            while not stop.is_set():
                started = time.monotonic()
                results.extend((started, *answer) for answer in await one(request))

        tasks = [asyncio.create_task(checker(i)) for i in range(CHECKERS)]
        # Enough allowed checks before the withdrawal and enough checks after it, however
        # slow a busy machine makes each one (a fixed 0.6 s gave 42 on a loaded CI run).
        await _until(lambda: sum(r[1] for r in results) > 60)
        # The withdrawal goes through the second replica; checks hit both.
        if change == "revoke":
            revision = (
                await other.stub.RevokeAccess(pb.RevokeAccessRequest(cameo_id=cameo, user_id=bob), metadata=me)
            ).revision
            denied_reason = pb.DECISION_REASON_BLOCKED
        elif change == "policy":
            revision = (
                await other.stub.SetPolicy(
                    pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_ONLY_ME), metadata=me
                )
            ).cameo.revision
            denied_reason = pb.DECISION_REASON_NOT_PERMITTED
        else:
            revision = (
                await other.stub.BlockUser(pb.BlockUserRequest(cameo_id=cameo, user_id=bob), metadata=me)
            ).revision
            denied_reason = pb.DECISION_REASON_BLOCKED
        acknowledged = time.monotonic()
        await _until(lambda: sum(r[0] >= acknowledged for r in results) > 60)
        stop.set()
        await asyncio.gather(*tasks)

        before = [r for r in results if r[0] < acknowledged]
        after = [r for r in results if r[0] >= acknowledged]
        assert sum(r[1] for r in before) > 50, "the race needs allowed checks before the withdrawal"
        assert len(after) > 50, "the race needs checks after the withdrawal"
        allowed_after = [r for r in after if r[1]]
        assert allowed_after == [], f"{len(allowed_after)} checks allowed after the withdrawal was acknowledged"
        assert all(r[2] == denied_reason and r[3] >= revision for r in after)
        # Every allowed answer was decided at a revision older than the withdrawal.
        assert all(r[3] < revision for r in results if r[1])
        if path == "client":  # the clients did share calls
            assert sum(c.batched_checks for c in clients) > 0
        print(
            f"{change} ({path}): {len(results)} checks, {len(before)} before / {len(after)} after the "
            f"acknowledgement, 0 allowed after"
        )
    finally:
        for client in clients:
            await client.close()
        world.close()
        await other.close()


async def test_coalesced_checks_match_single_checks(pg_url, replica):
    """Checks that queue up share one statement; each still gets its own answer."""
    from concurrent.futures import ThreadPoolExecutor

    from services.cameo.fastpath import CoalescingReader, PgConsentReader

    world = World(pg_url, replica.issuer)
    reader = PgConsentReader(pg_url)
    pool = ThreadPoolExecutor(2)
    try:
        owners = [world.user(f"co{i}") for i in range(4)]
        cameos = [world.verify(o) for o in owners]
        policies = [
            common.CAMEO_POLICY_ONLY_ME,
            common.CAMEO_POLICY_APPROVED,
            common.CAMEO_POLICY_MUTUALS,
            common.CAMEO_POLICY_EVERYONE,
        ]
        for o, c, p in zip(owners, cameos, policies):
            await replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=c, policy=p), metadata=world.as_user(o))
        users = [world.user(f"cu{i}") for i in range(6)]
        await replica.stub.Approve(
            pb.ApproveRequest(cameo_id=cameos[1], user_id=users[0]), metadata=world.as_user(owners[1])
        )
        world.follow(users[1], owners[2])
        world.follow(owners[2], users[1])
        checks = [(u, [c]) for u in users + owners for c in cameos] + [(users[0], [cameos[1], cameos[3]])]
        batches = []
        read_many = reader.read_many
        reader.read_many = lambda batch: batches.append(len(batch)) or read_many(batch)
        coalescer = CoalescingReader(reader, pool, in_flight=1)
        together = await asyncio.gather(*[coalescer.read(r, ids) for r, ids in checks])
        assert max(batches) > 1 and sum(batches) == len(checks)
        alone = [read_many([check])[0] for check in checks]
        assert [[(d.cameo_id, d.allowed, d.reason) for d in t[0]] for t in together] == [
            [(d.cameo_id, d.allowed, d.reason) for d in a[0]] for a in alone
        ]
        # everyone-cameo x (6 users + 3 other owners), own cameos (4), approved (1), mutual (1), the pair (2)
        assert sum(d.allowed for t in together for d in t[0]) == 9 + 4 + 1 + 1 + 2
    finally:
        reader.close()
        pool.shutdown()
        world.close()
