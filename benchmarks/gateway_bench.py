"""Gateway overhead: GetGeneration through the gateway (HTTP) vs straight to
the generator's gRPC, both paced at 200 requests/s in the same run, on the
real services in-process (PostgreSQL, Tansu). Prints p50/p95 and the p50 gap
(target: gateway adds <= 2 ms at p50).

    .venv/bin/python benchmarks/gateway_bench.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gateway"))

from gateway_platform import running_platform  # noqa: E402

from kinora.generator.v1 import generator_pb2, generator_pb2_grpc  # noqa: E402
from kinora.stack.tansu import TansuBroker, free_port  # noqa: E402
from kinora.testing import bearer  # noqa: E402


async def paced(fn, rate: float, seconds: float) -> list[float]:
    latencies, interval = [], 1.0 / rate
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.perf_counter()
        await fn()
        latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def summary(name: str, ms: list[float]) -> float:
    ms = sorted(ms)
    p50, p95 = statistics.median(ms), ms[int(len(ms) * 0.95)]
    print(f"{name:<22} n={len(ms):5d}  p50={p50:6.2f} ms  p95={p95:6.2f} ms")
    return p50


async def main(seconds: float, rate: float) -> None:
    broker = TansuBroker(free_port()).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_platform(Path(tmp), broker.bootstrap, user_burst=100_000,
                                        user_rate=100_000.0) as p:
                async with httpx.AsyncClient(base_url=p.url) as client:
                    user = await p.signup(client, "bench")
                    headers = {"Authorization": f"Bearer {user['token']}"}
                    gen = (await client.post("/api/v1/generations", headers=headers, timeout=300,
                                             json={"prompt": "a ball rolls", "seconds": 4})).json()["generation"]
                    stub = generator_pb2_grpc.GeneratorServiceStub(p.gateway.app.state.gateway._streaming_channel)
                    req = generator_pb2.GetGenerationRequest(generation_id=gen["id"])

                    async def direct():
                        await stub.GetGeneration(req, metadata=bearer(user["token"]))

                    async def via_gateway():
                        r = await client.get(f"/api/v1/generations/{gen['id']}", headers=headers)
                        assert r.status_code == 200

                    for fn in (direct, via_gateway):  # warm up both paths
                        await paced(fn, rate, 1)
                    d, g = [], []
                    for _ in range(int(seconds)):  # interleave 1 s slices so drift hits both alike
                        d += await paced(direct, rate, 1)
                        g += await paced(via_gateway, rate, 1)
                    p50_direct = summary("generator gRPC direct", d)
                    p50_gw = summary("through the gateway", g)
                    print(f"gateway adds {p50_gw - p50_direct:.2f} ms at p50 (target <= 2 ms) at {rate:.0f} req/s")
    finally:
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rate))
