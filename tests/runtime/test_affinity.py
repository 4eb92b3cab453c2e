"""AffinityChannels over real gRPC servers: a key's calls reach one replica, keys spread over all of
them, a replica leaving moves only its keys, and an unreachable replica costs no call."""

from __future__ import annotations

import asyncio
import collections

import grpc
import pytest

from kinora.runtime.affinity import AffinityChannels, owner, split_target
from kinora.runtime.clients import channel

METHOD = "/kinora.test.Who/Name"


async def replica(name: str) -> tuple[grpc.aio.Server, str]:
    """A server whose one method answers with its name (raw bytes, no protobuf)."""

    async def who(request: bytes, context) -> bytes:
        return name.encode()

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "kinora.test.Who", {"Name": grpc.unary_unary_rpc_method_handler(who)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


class WhoStub:
    def __init__(self, ch: grpc.aio.Channel):
        self.Name = ch.unary_unary(METHOD)


async def served_by(channels: AffinityChannels, key: str) -> str:
    reply = await channels.call(key, "Name", b"", timeout=5)
    return bytes(reply).decode()


async def resolved(channels: AffinityChannels) -> None:
    """Until the first resolution is in (it runs in the background on first use)."""
    channels.channel_for("warm")
    for _ in range(200):
        if channels._addresses:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the target was never resolved")


@pytest.fixture
async def three():
    started = [await replica(f"r{k}") for k in range(3)]
    yield started
    for server, _ in started:
        await server.stop(None)


async def test_a_keys_calls_reach_one_replica_and_keys_spread(three):
    addresses = [a for _, a in three]
    names = dict(zip(addresses, ["r0", "r1", "r2"]))
    channels = AffinityChannels("dns:///kinora-test:1", WhoStub, resolver=lambda host, port: list(addresses))
    try:
        await resolved(channels)
        per_key = {}
        for k in range(60):
            seen = {await served_by(channels, f"viewer-{k}") for _ in range(3)}
            assert len(seen) == 1, f"viewer-{k} reached {seen}"
            per_key[f"viewer-{k}"] = seen.pop()
            assert per_key[f"viewer-{k}"] == names[owner(f"viewer-{k}", addresses)]
        spread = collections.Counter(per_key.values())
        assert set(spread) == {"r0", "r1", "r2"} and min(spread.values()) >= 10, spread
    finally:
        await channels.close()


async def test_a_replica_leaving_moves_only_its_keys(three):
    addresses = [a for _, a in three]
    current = list(addresses)
    channels = AffinityChannels(
        "dns:///kinora-test:1", WhoStub, refresh_s=0.0, resolver=lambda host, port: list(current)
    )
    try:
        await resolved(channels)
        keys = [f"viewer-{k}" for k in range(90)]
        before = {key: await served_by(channels, key) for key in keys}
        current.remove(addresses[1])  # r1 leaves the Service's endpoints
        for _ in range(200):
            channels.channel_for("refresh")
            await asyncio.sleep(0.01)
            if len(channels._addresses) == 2:
                break
        after = {key: await served_by(channels, key) for key in keys}
        moved = [key for key in keys if before[key] != after[key]]
        assert moved and all(before[key] == "r1" for key in moved)
        assert "r1" not in after.values()
    finally:
        await channels.close()


async def test_an_unreachable_replica_costs_no_call(three):
    addresses = [a for _, a in three]
    channels = AffinityChannels(f"dns:///{addresses[0]}", WhoStub, resolver=lambda host, port: list(addresses))
    try:
        await resolved(channels)
        victim = next(f"viewer-{k}" for k in range(100) if owner(f"viewer-{k}", addresses) == addresses[2])
        await three[2][0].stop(None)  # still resolved (endpoints lag), no longer answering
        # Once more round robin over the shared channel, whose target (r0's address) answers.
        assert await served_by(channels, victim) == "r0"
    finally:
        await channels.close()


async def test_a_plain_address_is_one_channel():
    channels = AffinityChannels("127.0.0.1:50063", WhoStub)
    try:
        assert channels.channel_for("anyone") is channels.shared
        assert split_target("dns:///feed.kinora.svc:50063") == ("feed.kinora.svc", 50063, True)
        assert split_target("[::1]:50063") == ("::1", 50063, False)
    finally:
        await channels.close()


async def test_a_callers_own_channel_is_the_shared_one_and_stays_open():
    """The gateway hands over its round-robin feed channel: no second one, and closing the
    affinity channels leaves it to its owner."""
    own = channel("127.0.0.1:50063")
    channels = AffinityChannels("127.0.0.1:50063", WhoStub, shared=own)
    assert channels.channel_for("anyone") is own
    await channels.close()
    assert own.get_state() != grpc.ChannelConnectivity.SHUTDOWN
    await own.close()
    assert own.get_state() == grpc.ChannelConnectivity.SHUTDOWN


def test_rendezvous_moves_few_keys_when_a_replica_joins():
    three = ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]
    four = [*three, "10.0.0.4:1"]
    keys = [f"viewer-{k}" for k in range(4000)]
    moved = [k for k in keys if owner(k, three) != owner(k, four)]
    assert all(owner(k, four) == "10.0.0.4:1" for k in moved)  # only to the new replica
    assert 0.18 < len(moved) / len(keys) < 0.32  # about a quarter
