"""The worker process starts through the runtime's bootstrap, like a service:
gRPC health (NOT_SERVING until migrated and looping, then SERVING), the
RuntimeService naming it, /metrics, and a clean exit on SIGTERM."""

import asyncio
import signal
import time
import urllib.request

import grpc
from generator_harness import generator_settings, start_worker, stop_worker
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kinora.runtime.v1 import runtime_pb2, runtime_pb2_grpc
from kinora.stack.tansu import free_port


async def _health(address: str) -> int | None:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.aio.AioRpcError:
            return None
        return reply.status


async def test_the_worker_serves_health_info_and_metrics_and_stops_on_sigterm(pg_url, tmp_path, billing):
    settings = generator_settings(pg_url, tmp_path, billing, triton_addr=f"127.0.0.1:{free_port()}")
    metrics_port = free_port()
    worker = start_worker(settings, slots=1, log_path=str(tmp_path / "worker.log"), KINORA_METRICS_PORT=metrics_port)
    address = f"127.0.0.1:{worker.grpc_port}"
    try:
        deadline = time.monotonic() + 90
        while await _health(address) != health_pb2.HealthCheckResponse.SERVING:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker never reported SERVING"
            await asyncio.sleep(0.2)
        async with grpc.aio.insecure_channel(address) as channel:
            info = await runtime_pb2_grpc.RuntimeServiceStub(channel).GetInfo(runtime_pb2.GetInfoRequest(), timeout=5)
        assert info.service == "generator-worker" and info.instance_id
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        )
        assert "kinora_generation_seconds" in body
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait, 30) == 0
    finally:
        stop_worker(worker)
