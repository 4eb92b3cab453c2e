"""Throughput of a trivial unary RPC through the runtime (auth, errors,
metrics and tracing interceptor on; the caller sends a real access token)
versus a bare grpc.aio server with the same servicer. Same client, same run,
servers alternated round by round; medians reported.

    .venv/bin/python benchmarks/runtime_bench.py [--seconds 3] [--rounds 5]
"""

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kinora.runtime.v1 import runtime_pb2, runtime_pb2_grpc  # noqa: E402
from kinora.stack.tansu import free_port, wait_for_port  # noqa: E402

SECRET = "benchmark-internal-secret-that-is-long-enough"


class Echo(runtime_pb2_grpc.RuntimeServiceServicer):
    async def Ping(self, request, context):
        return runtime_pb2.PingResponse(payload=request.payload)


async def serve_bare(port: int):
    server = grpc.aio.server()
    runtime_pb2_grpc.add_RuntimeServiceServicer_to_server(Echo(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def serve_runtime(port: int):
    from kinora.runtime.auth import TokenVerifier
    from kinora.runtime.logs import configure_logging
    from kinora.runtime.server import ServiceApp
    from kinora.runtime.settings import RuntimeSettings
    from kinora.testing import LocalIssuer

    configure_logging("bench", "WARNING")
    issuer = LocalIssuer()
    verifier = TokenVerifier(issuer.fetch_jwks, internal_secret=SECRET)
    app = ServiceApp(
        "bench",
        RuntimeSettings(grpc_host="127.0.0.1", grpc_port=port, metrics_port=0, internal_secret=SECRET),
        verifier,
    )
    await app.start()
    await asyncio.Event().wait()


async def drive(port: int, seconds: float, concurrency: int, token: str) -> float:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = runtime_pb2_grpc.RuntimeServiceStub(ch)
        md = (("authorization", f"Bearer {token}"),)
        req = runtime_pb2.PingRequest(payload=b"x" * 32)
        for _ in range(200):
            await stub.Ping(req, metadata=md)
        done = 0
        end = time.perf_counter() + seconds

        async def loop():
            nonlocal done
            while time.perf_counter() < end:
                await stub.Ping(req, metadata=md)
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", default="bench")
    ap.add_argument("port", nargs="?", type=int)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    if args.mode == "serve-bare":
        return asyncio.run(serve_bare(args.port))
    if args.mode == "serve-runtime":
        return asyncio.run(serve_runtime(args.port))

    from kinora.runtime.auth import mint_service_token

    token = mint_service_token("bench", SECRET)[0]
    ports = {"bare": free_port(), "runtime": free_port()}
    procs = {
        name: subprocess.Popen([sys.executable, __file__, f"serve-{name}", str(port)]) for name, port in ports.items()
    }
    try:
        for port in ports.values():
            wait_for_port(port, timeout_s=30)
        results = {"bare": [], "runtime": []}
        for _ in range(args.rounds):
            for name in ("bare", "runtime"):
                results[name].append(asyncio.run(drive(ports[name], args.seconds, args.concurrency, token)))
        bare, rt = statistics.median(results["bare"]), statistics.median(results["runtime"])
        print(f"bare grpc.aio     : median {bare:8.0f} req/s  rounds {[round(x) for x in results['bare']]}")
        print(f"runtime (all on)  : median {rt:8.0f} req/s  rounds {[round(x) for x in results['runtime']]}")
        print(f"ratio runtime/bare: {rt / bare:.2f} (target >= 0.70)")
    finally:
        for p in procs.values():
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
