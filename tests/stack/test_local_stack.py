"""`kinora up` / `kinora status` on the local stack: every component serving,
a clear error for a port in use, nothing left running after stop."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from kinora.stack.local import DEFAULT_PORTS, LocalStack, StackError, _pid_alive, log_tail, status
from kinora.stack.tansu import _ephemeral_range, free_port, port_free


def stack_env(tmp_path):
    env = dict(os.environ)
    env["KINORA_HOME"] = str(tmp_path / "home")
    for name in DEFAULT_PORTS:
        env[f"KINORA_{name.upper().replace('-', '_')}_PORT"] = str(free_port())
    return env


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stack")
    env = stack_env(tmp)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kinora.cli.main", "up", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # printed once everything reports SERVING
    if not line:
        proc.wait(30)
        pytest.fail(f"kinora up failed: {proc.stderr.read()[-3000:]}")
    yield env, json.loads(line), proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(60)


def test_up_serves_everything_and_status_reports_it(running_stack):
    env, info, _ = running_stack
    assert {"postgres", "broker"} <= set(info["components"])
    out = subprocess.run(
        [sys.executable, "-m", "kinora.cli.main", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["serving"] is True
    assert {c["name"] for c in report["components"]} == set(info["components"])


def test_every_service_runs_mutual_tls_with_a_local_ca(running_stack):
    """`kinora up` makes a CA and a certificate per service under $KINORA_HOME/tls (keys 0600);
    the services refuse plaintext and callers without a certificate, and answer the operator's."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from kinora.stack.local import TLS_IDENTITIES, stack_credentials

    env, info, _ = running_stack
    home = __import__("pathlib").Path(env["KINORA_HOME"])
    tls = home / "tls"
    for name in ("ca", *TLS_IDENTITIES):
        assert (tls / f"{name}.key").stat().st_mode & 0o777 == 0o600, name
    address = f"127.0.0.1:{env['KINORA_BILLING_PORT']}"
    ca_only = grpc.ssl_channel_credentials((tls / "ca.crt").read_bytes())
    for channel in (grpc.insecure_channel(address), grpc.secure_channel(address, ca_only)):
        with channel, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    with grpc.secure_channel(address, stack_credentials(home)) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_port_in_use_is_named(tmp_path):
    env = stack_env(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        env["KINORA_BROKER_PORT"] = str(blocker.getsockname()[1])
        with pytest.raises(StackError, match=f"broker port {blocker.getsockname()[1]}"):
            LocalStack(tmp_path / "home", env=env).start()


def test_sigterm_stops_everything_cleanly(running_stack):
    env, info, proc = running_stack
    pids = [c.pid for c, ok, _ in status(home=__import__("pathlib").Path(env["KINORA_HOME"]))]
    proc.terminate()
    assert proc.wait(90) == 0
    time.sleep(0.5)
    assert not [p for p in pids if _pid_alive(p)], "components left running after stop"
    out = subprocess.run(
        [sys.executable, "-m", "kinora.cli.main", "status"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0 and "no stack is running" in out.stderr


def test_free_ports_are_distinct_and_outside_the_ephemeral_range():
    # A port from the ephemeral range can be taken by any outgoing connection
    # before the server binds it: a stack's gateway once failed to start so.
    low, high = _ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(not low <= p <= high for p in ports)
    assert all(port_free(p) for p in ports)


def test_a_component_that_dies_while_starting_shows_its_last_log_lines(tmp_path):
    log = tmp_path / "gateway.log"
    log.write_text(
        "\n".join(
            [f"line {i}" for i in range(30)]
            + ["[Errno 98] error while attempting to bind: address already in use", '{"error": "' + "x" * 5000 + '"}']
        )
        + "\n"
    )
    tail = log_tail(str(log))
    assert "address already in use" in tail and "line 29" in tail and "line 10" not in tail
    assert len(tail) < 1200


def test_each_service_gets_its_own_database_on_the_chosen_server(tmp_path):
    embedded = LocalStack(tmp_path / "home", env={"KINORA_POSTGRES_PORT": "25432"})
    assert "postgres" in embedded.planned()
    assert embedded.database_url("feed") == "postgresql+psycopg://postgres@127.0.0.1:25432/kinora_feed"

    shared = LocalStack(
        tmp_path / "home",
        env={
            "KINORA_DATABASE_URL": "postgresql://kinora:pw@db.example:5432/x",
            "KINORA_BILLING_DATABASE_URL": "postgresql+psycopg://b@ledger/bill",
        },
    )
    assert "postgres" not in shared.planned()  # an external server: nothing embedded starts
    assert shared.database_url("feed") == "postgresql+psycopg://kinora:pw@db.example:5432/kinora_feed"
    assert shared.database_url("billing") == "postgresql+psycopg://b@ledger/bill"
