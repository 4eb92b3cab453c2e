"""`python -m services.identity` as a real process: bad settings, serve with
health, rotate-keys from the command line while it runs, SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kinora.identity.v1 import identity_pb2 as pb
from kinora.identity.v1 import identity_pb2_grpc
from kinora.stack.tansu import free_port

ROOT = Path(__file__).resolve().parents[2]


def run_identity(args, env, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "services.identity", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_settings_are_checked_at_start(pg_url):
    proc = run_identity(
        [], {"KINORA_ALLOWED_REGIONS": "US,Canada", "KINORA_ARGON2_TIME_COST": "0", "KINORA_DATABASE_URL": ""}
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "KINORA_ALLOWED_REGIONS" in err and "KINORA_ARGON2_TIME_COST" in err
    assert "KINORA_DATABASE_URL is required" in err and "postgresql+psycopg://" in err
    proc = run_identity(
        [],
        {
            "KINORA_DATABASE_URL": pg_url,
            "KINORA_INTERNAL_SECRET": "",
            "KINORA_JWT_KEY_SECRET": "",
            "KINORA_JWT_PRIVATE_KEYS_DIR": "",
        },
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "KINORA_JWT_KEY_SECRET" in err


def test_serve_rotate_and_stop(pg_url, tmp_path):
    port = free_port()
    env = {
        "KINORA_DATABASE_URL": pg_url,
        "KINORA_GRPC_PORT": str(port),
        "KINORA_GRPC_HOST": "127.0.0.1",
        "KINORA_JWT_KEY_SECRET": "process-test-key-secret",
        "KINORA_BLOB_DIR": str(tmp_path / "blobs"),
        "KINORA_ARGON2_MEMORY_KIB": "1024",
        "KINORA_ARGON2_TIME_COST": "1",
        "KINORA_GRACE_SECONDS": "1",
    }
    proc = run_identity(["serve"], env)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + 60
            status = None
            while time.monotonic() < deadline and status != health_pb2.HealthCheckResponse.SERVING:
                try:
                    status = health.Check(
                        health_pb2.HealthCheckRequest(service="kinora.identity.v1.IdentityService"), timeout=1
                    ).status
                except grpc.RpcError:
                    time.sleep(0.3)
            assert status == health_pb2.HealthCheckResponse.SERVING, proc.stderr.read() if proc.poll() else ""
            stub = identity_pb2_grpc.IdentityServiceStub(ch)
            first = [k.kid for k in stub.GetJwks(pb.GetJwksRequest(), timeout=5).keys]
            assert len(first) == 1
            rotated = subprocess.run(
                [sys.executable, "-m", "services.identity", "rotate-keys"],
                cwd=ROOT,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert rotated.returncode == 0, rotated.stderr
            new_kid = rotated.stdout.split()[-1]
            assert new_kid not in first
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
