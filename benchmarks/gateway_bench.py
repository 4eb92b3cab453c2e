"""Gateway overhead: GetGeneration through the gateway (HTTP) vs straight to
the generator's gRPC, paced at 200 requests/s, on the real services
in-process (PostgreSQL, Tansu). Three paths in the same run, interleaved in
1 s slices so drift hits them alike:

- generator gRPC direct (the baseline);
- the gateway in the services' process (as the tests run it: it shares their
  event loop and the client's);
- the gateway as its own process (`python -m services.gateway`, as deployed),
  whose CPU per proxied call is read from /proc (CPU during its slices / its
  calls; its idle CPU, measured before, is printed beside it); with
  --compare-root, a second gateway process from another checkout too.

Prints p50/p95 per path, the p50 added by each gateway (target <= 2 ms) and
the gateway process's CPU per proxied call.

    .venv/bin/python benchmarks/gateway_bench.py [--seconds 10] [--rate 200] [--profile gateway.prof]
        [--compare-root <other checkout>]

--profile runs the gateway process under cProfile (its main thread, written when it stops); CPU figures
are then inflated by the profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "gateway"))
sys.path.insert(0, str(ROOT))

from gateway_platform import SECRET, running_platform  # noqa: E402

from benchmarks.proc import cpu_seconds  # noqa: E402
from kinora.generator.v1 import generator_pb2, generator_pb2_grpc  # noqa: E402
from kinora.stack.tansu import TansuBroker, free_port  # noqa: E402
from kinora.testing import bearer  # noqa: E402

RATE_LIMITS = {"KINORA_RATE_USER_PER_SECOND": "100000", "KINORA_RATE_USER_BURST": "100000"}


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


def start_busy(n: int) -> None:
    """`n` processes beside the benchmark, each spinning 60% of the time in 10 ms bursts (a load
    average of ~3 on 2 cores with two of them), killed when this process exits."""
    spin = (
        "import time\nwhile True:\n    end = time.perf_counter() + 0.006\n"
        "    while time.perf_counter() < end: pass\n    time.sleep(0.004)"
    )
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]
    atexit.register(lambda: [p.kill() for p in busy])


class KeepAliveGet:
    """GETs over one kept-alive HTTP/1.1 connection, with nothing else: the client's own cost per
    request stays out of what the gateway is charged with. httpx (the other client measured) costs
    the benchmark's process far more per request than a gRPC call does, and all of it used to be
    counted as latency the gateway adds."""

    def __init__(self, url: str):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            return await self._get(path, headers)
        except (asyncio.IncompleteReadError, ConnectionError):  # the server closed an idle connection (5 s)
            self.writer = None
            return await self._get(path, headers)

    async def _get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, int(self.port))
        assert self.reader is not None
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{lines}\r\n".encode())
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(int(h.split(":", 1)[1]) for h in head if h.lower().startswith("content-length:"))
        return int(head[0].split()[1]), await self.reader.readexactly(length)

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()


def summary(name: str, ms: list[float]) -> float:
    ms = sorted(ms)
    p50, p95 = statistics.median(ms), ms[int(len(ms) * 0.95)]
    print(f"{name:<30} n={len(ms):5d}  p50={p50:6.2f} ms  p95={p95:6.2f} ms")
    return p50


def start_gateway_process(
    platform, root: Path, profile: str | None, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """The gateway as deployed: its own process (code from `root`), calling the in-process services."""
    port = free_port()
    addrs = {
        f"KINORA_{n.upper()}_ADDR": ch
        for n, ch in (
            (n, getattr(platform.gateway.settings, f"{n}_addr"))
            for n in ("identity", "cameo", "feed", "generator", "billing")
        )
    }
    env = {
        **os.environ,
        "KINORA_HTTP_HOST": "127.0.0.1",
        "KINORA_HTTP_PORT": str(port),
        "KINORA_INTERNAL_SECRET": SECRET,
        "KINORA_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(root),
        **RATE_LIMITS,
        **addrs,
        **(extra_env or {}),
    }
    prof = ["-m", "cProfile", "-o", str(Path(profile).resolve())] if profile else []
    process = subprocess.Popen([sys.executable, *prof, "-m", "services.gateway"], cwd=root, env=env)
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the gateway process exited with {process.returncode}")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the gateway process did not answer /healthz in 120 s")


async def main(
    seconds: float, rate: float, profile: str | None, compare_root: str | None, compare_env: dict[str, str]
) -> None:
    broker = TansuBroker(free_port()).start()
    processes: dict[str, tuple[subprocess.Popen, httpx.AsyncClient]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with running_platform(Path(tmp), broker.bootstrap, user_burst=100_000, user_rate=100_000.0) as p:
                roots = {
                    "gateway process": ROOT,
                    **({"gateway process (compare)": Path(compare_root).resolve()} if compare_root else {}),
                }
                for name, root in roots.items():
                    compare = name.endswith("(compare)")
                    process, url = start_gateway_process(
                        p, root, None if compare else profile, compare_env if compare else None
                    )
                    processes[name] = (process, httpx.AsyncClient(base_url=url))
                async with httpx.AsyncClient(base_url=p.url) as client:
                    for process, own in processes.values():
                        await wait_ready(own, process)
                    user = await p.signup(client, "bench")
                    headers = {"Authorization": f"Bearer {user['token']}"}
                    gen = (
                        await client.post(
                            "/api/v1/generations",
                            headers=headers,
                            timeout=300,
                            json={"prompt": "a ball rolls", "seconds": 4},
                        )
                    ).json()["generation"]
                    stub = generator_pb2_grpc.GeneratorServiceStub(p.gateway.app.state.gateway._streaming_channel)
                    req = generator_pb2.GetGenerationRequest(generation_id=gen["id"])
                    path = f"/api/v1/generations/{gen['id']}"

                    async def direct():
                        await stub.GetGeneration(req, metadata=bearer(user["token"]))

                    def via(http: httpx.AsyncClient):
                        async def call():
                            r = await http.get(path, headers=headers)
                            assert r.status_code == 200, r.text

                        return call

                    def lean(url: str):
                        http = KeepAliveGet(url)
                        lean_clients.append(http)

                        async def call():
                            status, body = await http.get(path, headers)
                            assert status == 200, body

                        return call

                    lean_clients: list[KeepAliveGet] = []
                    paths = {
                        "generator gRPC direct": (direct, None),
                        "through the gateway": (via(client), None),
                        **{
                            name: (lean(str(own.base_url).rstrip("/")), process.pid)
                            for name, (process, own) in processes.items()
                        },
                        **{f"{name}, httpx": (via(own), process.pid) for name, (process, own) in processes.items()},
                    }
                    for fn, _ in paths.values():  # warm up every path
                        await paced(fn, rate, 1)
                    idle = {}
                    for name, (_, pid) in paths.items():
                        if pid is not None:
                            idle[name] = cpu_seconds(pid)
                    await asyncio.sleep(2)
                    idle = {name: (cpu_seconds(paths[name][1]) - v) / 2 for name, v in idle.items()}
                    latencies: dict[str, list[float]] = {name: [] for name in paths}
                    cpu = dict.fromkeys(paths, 0.0)
                    for _ in range(int(seconds)):  # 1 s slices, path after path, so drift hits all alike
                        for name, (fn, pid) in paths.items():
                            before = cpu_seconds(pid) if pid else 0.0
                            latencies[name] += await paced(fn, rate, 1)
                            cpu[name] += (cpu_seconds(pid) - before) if pid else 0.0
                    p50 = {name: summary(name, ms) for name, ms in latencies.items()}
                    base = p50["generator gRPC direct"]
                    print(
                        f"gateway adds {p50['through the gateway'] - base:.2f} ms at p50 (target <= 2 ms) at "
                        f"{rate:.0f} req/s (in the services' process)"
                    )
                    for http in lean_clients:
                        await http.aclose()
                    for name in processes:
                        print(
                            f"{name} adds {p50[name] - base:.2f} ms at p50 (target <= 2 ms) at {rate:.0f} req/s; "
                            f"{p50[name + ', httpx'] - base:.2f} ms with httpx as the client"
                        )
                        print(
                            f"{name} CPU per proxied call: {1000 * cpu[name] / len(latencies[name]):.3f} ms "
                            f"(idle: {1000 * idle[name]:.1f} ms of CPU per second; machine load average "
                            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
                        )
    finally:
        for process, own in processes.values():
            await own.aclose()
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--profile", metavar="FILE", help="run the gateway process under cProfile")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="N other processes keep the CPUs busy meanwhile (each spins 60%% of the time, in 10 ms "
        "bursts), for the figure at a load average of ~3 on 2 cores",
    )
    parser.add_argument(
        "--compare-root",
        help="another checkout whose gateway runs as a second process, "
        "measured in the same slices (e.g. an export of the previous commit)",
    )
    parser.add_argument(
        "--compare-env",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the compare process only (--compare-root . --compare-env ... "
        "measures a setting side by side)",
    )
    args = parser.parse_args()
    start_busy(args.busy)
    asyncio.run(
        main(
            args.seconds, args.rate, args.profile, args.compare_root, dict(kv.split("=", 1) for kv in args.compare_env)
        )
    )
