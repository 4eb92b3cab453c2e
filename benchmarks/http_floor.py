"""The floor under the gateway's figure: the CPU that uvicorn, FastAPI and a
grpc.aio client spend on one proxied call with no work of the gateway's in it.

Each way is a server process on uvicorn with httptools (as the gateway runs),
timed with the gateway benchmark's lean kept-alive client, paced (open loop
per request, one at a time) at --rate; its CPU is read from /proc:

- asgi: a bare ASGI app answering a fixed JSON body (uvicorn alone);
- fastapi: one FastAPI route returning a small dict (routing, parameters,
  jsonable_encoder, JSONResponse);
- fastapi+grpc: the same route making one empty grpc.aio unary call to
  benchmarks/grpc_floor.py's server first (the least a proxied call costs);
- grpc: that empty call made directly by the benchmark (its CPU: the
  upstream's), so that "fastapi+grpc" less "grpc" is the latency the HTTP
  layers add at the least, as gateway_bench.py's "adds" is the gateway's.

Ways alternate round by round; medians are printed. --busy N runs N spinning
processes beside them (as gateway_bench.py --busy: load average ~3 with 2).

    .venv/bin/python benchmarks/http_floor.py [--rate 200] [--requests 1600] [--rounds 3] [--busy 2]

Why it matters (BENCHMARKS.md, issue 25): the gateway's budget is 2 ms added
at p50 at a load average of ~3 on 2 cores, and its CPU per proxied call
(gateway_bench.py) waits for a core at that load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.gateway_bench import KeepAliveGet, start_busy  # noqa: E402
from benchmarks.proc import cpu_seconds  # noqa: E402
from kinora.stack.tansu import free_port, wait_for_port  # noqa: E402

WAYS = ("asgi", "fastapi", "fastapi+grpc", "grpc")
BODY = {"id": "gen_1", "status": "queued", "prompt": "a red fox in the snow, at dusk", "progress": 0}


def app_for(way: str, grpc_port: int):
    import json

    if way == "asgi":
        body = json.dumps(BODY).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

        async def bare(scope, receive, send):
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})

        return bare
    import grpc
    from fastapi import FastAPI

    app = FastAPI()
    state: dict = {}

    @app.get("/generations/{generation_id}")
    async def get_generation(generation_id: str) -> dict:
        if way == "fastapi+grpc":
            if "call" not in state:
                channel = grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}")
                state["call"] = channel.unary_unary("/floor.Floor/Unary")
            await state["call"](generation_id.encode(), timeout=5)
        return {**BODY, "id": generation_id}

    return app


async def measure(port: int, pid: int, requests: int, rate: float, direct: bool = False) -> tuple[float, float]:
    """(server CPU per request, median latency), both in ms. `direct`: `port` is the gRPC
    upstream, called without HTTP."""
    import grpc

    if direct:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        call = channel.unary_unary("/floor.Floor/Unary")

        async def get() -> None:
            await call(b"g1", timeout=5)

        close = channel.close
    else:
        client = KeepAliveGet(f"http://127.0.0.1:{port}")

        async def get() -> None:
            status, _ = await client.get("/generations/g1", {})
            assert status == 200, status

        close = client.aclose
    try:
        for _ in range(200):  # warm up
            await get()
        before, start, times = cpu_seconds(pid), time.perf_counter(), []
        for i in range(requests):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            await get()
            times.append(time.perf_counter() - sent)
        return 1000 * (cpu_seconds(pid) - before) / requests, 1000 * statistics.median(times)
    finally:
        await close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--requests", type=int, default=1600)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", type=int, default=0, metavar="N", help="N spinning processes beside the ways")
    ap.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)  # the child: way, HTTP port, gRPC port
    args = ap.parse_args()
    if args.serve:
        import uvicorn

        way, port, grpc_port = args.serve
        uvicorn.run(app_for(way, int(grpc_port)), port=int(port), http="httptools", log_level="warning")
        return
    grpc_port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "grpc_floor.py"), "--serve", str(grpc_port)])
    servers: dict[str, tuple[subprocess.Popen, int]] = {"grpc": (upstream, grpc_port)}  # the direct way
    start_busy(args.busy)
    try:
        for way in WAYS[:-1]:
            port = free_port()
            child = subprocess.Popen([sys.executable, __file__, "--serve", way, str(port), str(grpc_port)])
            servers[way] = (child, port)
        for _, port in servers.values():
            wait_for_port(port, timeout_s=30)
        results: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
        for _ in range(args.rounds):
            for way in WAYS:
                child, port = servers[way]
                results[way].append(
                    asyncio.run(measure(port, child.pid, args.requests, args.rate, direct=way == "grpc"))
                )
        for way, values in results.items():
            cpu, latency = [c for c, _ in values], [t for _, t in values]
            print(
                f"{way:<13} server CPU per request at {args.rate:.0f}/s: median {statistics.median(cpu):.3f} ms "
                f"(rounds: {', '.join(f'{v:.3f}' for v in cpu)}); median latency {statistics.median(latency):.2f} ms"
            )
        added = [a[1] - b[1] for a, b in zip(results["fastapi+grpc"], results["grpc"])]
        print(
            f"FastAPI + grpc.aio add at least {statistics.median(added):.2f} ms to a call at p50 "
            f"(rounds: {', '.join(f'{v:.2f}' for v in added)})"
        )
        print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        for child, _ in servers.values():
            child.terminate()
            child.wait(10)


if __name__ == "__main__":
    main()
