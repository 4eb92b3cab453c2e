"""The floor under every gRPC figure: the server CPU that grpc.aio itself spends
on one call with no work in it, here, on this machine.

A server process with two methods that hand back what they get (no protobuf,
no interceptor, no database): a unary call, and a message on a bidirectional
stream. The client sends 100-byte messages at a fixed rate (open loop) and
reads the server's CPU from /proc. Each way runs --rounds times, alternating;
medians are printed (server CPU, and latency p50 and p99 from the time each message was
due), and the round trip of one call at a time, 20 ms apart
(what an idle machine's wake-ups add) and back to back. --uvloop runs the server on uvloop instead of asyncio's
own loop.

    .venv/bin/python benchmarks/grpc_floor.py [--rate 1000] [--messages 5000] [--rounds 3] [--uvloop]

Why it matters (BENCHMARKS.md, issue 25): CheckUse's budget is 0.4 ms of
cameo CPU per check, and a unary call with nothing in it already costs about
that much, so the budget is reachable only by sharing calls between checks.
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

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.proc import cpu_seconds  # noqa: E402
from kinora.stack.tansu import free_port, wait_for_port  # noqa: E402


def _same(x: bytes) -> bytes:
    return x


async def serve(port: int) -> None:
    async def unary(request: bytes, context) -> bytes:
        return request

    async def stream(requests, context):
        async for message in requests:
            yield message

    handler = grpc.method_handlers_generic_handler(
        "floor.Floor",
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary, request_deserializer=_same, response_serializer=_same),
            "Stream": grpc.stream_stream_rpc_method_handler(
                stream, request_deserializer=_same, response_serializer=_same
            ),
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def measure(port: int, pid: int, way: str, messages: int, rate: float) -> tuple[float, list[float]]:
    """Server CPU per message, in ms, and each message's latency (ms) from the time it was due
    (open loop) to its answer."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        unary = channel.unary_unary("/floor.Floor/Unary", request_serializer=_same, response_deserializer=_same)
        stream = channel.stream_stream("/floor.Floor/Stream", request_serializer=_same, response_deserializer=_same)
        payload = b"x" * 100
        for _ in range(200):  # warm up
            await unary(payload)
        latencies: list[float] = []
        before, start = cpu_seconds(pid), time.perf_counter()
        if way == "unary":

            async def one(due: float) -> None:
                await unary(payload)
                latencies.append(1000 * (time.perf_counter() - due))

            calls = []
            for i in range(messages):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                calls.append(asyncio.ensure_future(one(due)))
            await asyncio.gather(*calls)
        else:
            call = stream()

            async def read_all():  # answers come back in the order sent
                for i in range(messages):
                    await call.read()
                    latencies.append(1000 * (time.perf_counter() - (start + i / rate)))

            reader = asyncio.ensure_future(read_all())
            for i in range(messages):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await call.write(payload)
            await reader
            await call.done_writing()
        return 1000 * (cpu_seconds(pid) - before) / messages, latencies


async def round_trips(port: int, gap_s: float, calls: int = 300) -> float:
    """Median latency of one unary call at a time, `gap_s` apart (0: back to back), in ms."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        unary = channel.unary_unary("/floor.Floor/Unary", request_serializer=_same, response_deserializer=_same)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await unary(b"x")
            times.append(time.perf_counter() - started)
            if gap_s:
                await asyncio.sleep(gap_s)
        return 1000 * statistics.median(times[50:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--uvloop", action="store_true", help="run the server on uvloop (pip install uvloop: not a project dependency)"
    )
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.serve:
        if args.uvloop:
            import uvloop

            uvloop.run(serve(args.serve))
        else:
            asyncio.run(serve(args.serve))
        return
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), *(["--uvloop"] if args.uvloop else [])], cwd=ROOT
    )
    try:
        wait_for_port(port, timeout_s=30)
        results: dict[str, list[float]] = {"unary": [], "stream": []}
        tails: dict[str, list[tuple[float, float]]] = {"unary": [], "stream": []}
        for _ in range(args.rounds):
            for way, values in results.items():
                cpu, latencies = asyncio.run(measure(port, child.pid, way, args.messages, args.rate))
                values.append(cpu)
                tails[way].append((float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))))
        loop = "uvloop" if args.uvloop else "asyncio"
        for way, values in results.items():
            p50s, p99s = zip(*tails[way])
            print(
                f"{way:<6} server CPU per message at {args.rate:.0f}/s ({loop}): median "
                f"{statistics.median(values):.3f} ms (rounds: {', '.join(f'{v:.3f}' for v in values)}); "
                f"latency p50 {statistics.median(p50s):.2f} ms, p99 {statistics.median(p99s):.2f} ms "
                f"(p99 rounds: {', '.join(f'{v:.2f}' for v in p99s)})"
            )
        idle, busy = asyncio.run(round_trips(port, 0.02)), asyncio.run(round_trips(port, 0))
        print(f"one call at a time: median round trip {idle:.3f} ms 20 ms apart, {busy:.3f} ms back to back")
        print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        child.terminate()
        child.wait(10)


if __name__ == "__main__":
    main()
