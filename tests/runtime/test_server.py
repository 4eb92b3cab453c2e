"""A service built on the runtime: health with real states, reflection,
graceful shutdown on SIGTERM, settings validation."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from kinora.runtime.v1 import runtime_pb2, runtime_pb2_grpc
from kinora.stack.tansu import free_port

SAMPLE = Path(__file__).with_name("sample_service.py")


def start_sample(port: int, **env) -> subprocess.Popen:
    full_env = {**os.environ, "KINORA_GRPC_PORT": str(port), "KINORA_GRPC_HOST": "127.0.0.1", **env}
    return subprocess.Popen(
        [sys.executable, str(SAMPLE)], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def health_status(channel, service="") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2).status


def wait_status(channel, wanted, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = health_status(channel)
            if last == wanted:
                return last
        except grpc.RpcError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"health never became {wanted}, last {last}")


def test_lifecycle_serving_reflection_and_graceful_sigterm():
    port = free_port()
    proc = start_sample(port, SAMPLE_STARTUP_DELAY="1.5", KINORA_DRAIN_SECONDS="1.0")
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        # While start-up hooks run, health answers NOT_SERVING.
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        assert wait_status(channel, not_serving) == not_serving
        wait_status(channel, health_pb2.HealthCheckResponse.SERVING)
        assert health_status(channel, "kinora.runtime.v1.RuntimeService") == health_pb2.HealthCheckResponse.SERVING

        # Reflection lists the services.
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in replies[0].list_services_response.service}
        assert {"kinora.runtime.v1.RuntimeService", "grpc.health.v1.Health"} <= names

        ping = runtime_pb2_grpc.RuntimeServiceStub(channel).Ping(runtime_pb2.PingRequest(payload=b"hi"), timeout=2)
        assert ping.payload == b"hi"

        # An in-flight call started before SIGTERM still finishes.
        sleep = channel.unary_unary("/kinora.test.v1.SampleService/Sleep")
        with ThreadPoolExecutor(1) as pool:
            inflight = pool.submit(sleep, b"2.0", timeout=10)
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            wait_status(channel, health_pb2.HealthCheckResponse.NOT_SERVING, timeout=5)
            assert inflight.result() == b"slept 2.0"
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_bad_settings_stop_startup_naming_the_variable():
    proc = start_sample(free_port(), KINORA_GRPC_PORT="not-a-port", KINORA_LOG_LEVEL="loud")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "KINORA_GRPC_PORT='not-a-port' is not valid" in err
    assert "KINORA_LOG_LEVEL='loud' is not valid" in err


@pytest.mark.parametrize("raw", [None, "sqlite:///kinora.db", "mysql://x/y", "postgresql://kinora@db/feed"])
def test_a_service_with_a_database_requires_a_postgresql_url(raw):
    from kinora.runtime.settings import DatabaseSettings, SettingsError, load_settings

    with pytest.raises(SettingsError) as err:
        load_settings(DatabaseSettings, {"KINORA_DATABASE_URL": raw} if raw else {})
    assert "KINORA_DATABASE_URL" in str(err.value) and "postgresql+psycopg://" in str(err.value)
    url = "postgresql+psycopg://kinora@db:5432/feed"
    assert load_settings(DatabaseSettings, {"KINORA_DATABASE_URL": url}).database_url == url


def test_port_in_use_is_a_clear_error():
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        proc = start_sample(port)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert f"127.0.0.1:{port}" in err and "already in use" in err


@pytest.mark.parametrize("raw", ["", "70000", "-1"])
def test_port_parser_rejects(raw):
    from kinora.runtime.settings import RuntimeSettings, SettingsError, load_settings

    if raw == "":
        assert load_settings(RuntimeSettings, {"KINORA_GRPC_PORT": raw}).grpc_port == 50051
        return
    with pytest.raises(SettingsError, match="KINORA_GRPC_PORT"):
        load_settings(RuntimeSettings, {"KINORA_GRPC_PORT": raw})


async def test_shutdown_stops_background_workers_together_within_one_deadline(caplog):
    """Workers are asked to stop all at once and waited for within one deadline
    (KINORA_WORKER_STOP_SECONDS), shutdown hooks after them; one still running at the
    deadline is named in the log. One after another, as before, three workers that each take
    0.8 s to stop (a consumer leaving its group) and one that takes 4 s took 6.4 s."""
    from kinora.runtime.consumer import STOP_WITHIN_S
    from kinora.runtime.server import ServiceApp
    from kinora.runtime.settings import RuntimeSettings

    # The default covers the longest a consumer may take to leave its group.
    assert RuntimeSettings().worker_stop_seconds >= STOP_WITHIN_S
    settings = RuntimeSettings(grpc_host="127.0.0.1", grpc_port=free_port(), grace_seconds=0, worker_stop_seconds=2.0)
    app = ServiceApp("stoptest", settings)
    stopped: list[str] = []

    def leaving(name: str):
        def run(stop):
            stop.wait()
            time.sleep(0.8)
            stopped.append(name)

        return run

    def stuck(stop):
        stop.wait()
        time.sleep(4.0)

    workers = [app.add_worker(f"consumer-{i}", leaving(f"consumer-{i}")) for i in range(3)]
    app.add_worker("stuck", stuck)
    seen_by_hook: list[bool] = []

    async def hook():
        seen_by_hook.extend(w.thread.is_alive() for w in workers)

    app.on_shutdown(hook)
    await app.start()
    started = time.monotonic()
    await app.stop()
    took = time.monotonic() - started
    assert 2.0 <= took < 3.0, took  # the deadline, not the sum of the workers' times
    assert sorted(stopped) == ["consumer-0", "consumer-1", "consumer-2"]
    assert seen_by_hook == [False, False, False]  # hooks ran once the workers had stopped
    assert "still running" in caplog.text and "stuck" in caplog.text
