"""Outgoing channels spread calls over every replica behind an address, and
servers age out connections without failing calls, so clients pick up new
replicas (the chart gives each gRPC service a headless Service for this)."""

import asyncio

import grpc

from kinora.runtime.clients import channel
from kinora.runtime.server import ServiceApp
from kinora.runtime.settings import RuntimeSettings, address
from kinora.stack.tansu import free_port


async def replica(name: str, served: list[str], max_age_s: float = 300.0) -> ServiceApp:
    async def which(request: bytes, context) -> bytes:
        served.append(name)
        return name.encode()

    app = ServiceApp(
        "lbtest", RuntimeSettings(grpc_host="127.0.0.1", grpc_port=free_port(), max_connection_age_s=max_age_s)
    )
    app.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "kinora.test.v1.Lb", {"Which": grpc.unary_unary_rpc_method_handler(which)}
            )
        ]
    )
    await app.start()
    return app


async def test_calls_are_spread_over_every_replica_behind_the_address():
    served: list[str] = []
    apps = [await replica(n, served) for n in ("a", "b", "c")]
    # A static multi-address target stands in for DNS returning three pod IPs.
    ch = channel("ipv4:" + ",".join(f"127.0.0.1:{a.port}" for a in apps))
    try:
        which = ch.unary_unary("/kinora.test.v1.Lb/Which")
        await which(b"", timeout=5, wait_for_ready=True)
        await asyncio.sleep(0.5)  # round robin connects to every address in the background
        served.clear()
        for _ in range(30):
            await which(b"", timeout=5, wait_for_ready=True)
        counts = {n: served.count(n) for n in "abc"}
        assert all(c >= 5 for c in counts.values()), counts
    finally:
        await ch.close()
        for a in apps:
            await a.stop()


async def test_aged_connections_close_without_failing_calls():
    served: list[str] = []
    app = await replica("a", served, max_age_s=0.5)
    ch = channel(f"127.0.0.1:{app.port}")
    try:
        which = ch.unary_unary("/kinora.test.v1.Lb/Which")
        deadline = asyncio.get_running_loop().time() + 3  # several connection lifetimes
        while asyncio.get_running_loop().time() < deadline:
            assert await which(b"", timeout=5) == b"a"
            await asyncio.sleep(0.02)
        assert len(served) > 50
    finally:
        await ch.close()
        await app.stop()


def test_addresses_may_ask_for_dns_resolution():
    assert address("dns:///kinora-cameo-pods.kinora.svc.cluster.local:50051").startswith("dns:///")
    for bad in ("dns:///", "dns:///host", "dns:///host:0"):
        try:
            address(bad)
        except ValueError as exc:
            assert "dns:///host:port" in str(exc)
        else:
            raise AssertionError(bad)
