"""The whole platform on one machine: an embedded PostgreSQL server (one
database per service), the Tansu broker, the Triton model server (PyTriton) and
every service as its own process, with all data under one folder
($KINORA_HOME, default ./.kinora). Nothing is mocked.

Where state lives: $KINORA_HOME/postgres (the PostgreSQL cluster: every
service's tables and its outbox, which is also the durable copy of the events),
blobs/ (media), logs/, internal_secret, tls/ (a local CA and one certificate per
service, plus `admin` for the operator's CLI: every service runs mutual TLS and
takes a caller's identity from its certificate; KINORA_STACK_MTLS=false turns
that off for development). The broker keeps its log in memory; the
outbox re-fills it after a restart. With KINORA_DATABASE_URL (a server URL) or
KINORA_<SERVICE>_DATABASE_URL set, that server is used instead of the embedded one.

Used by `kinora up`, `kinora status`, `kinora demo` and the end-to-end tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kinora.stack.postgres import EmbeddedPostgres, PostgresError
from kinora.stack.tansu import TansuBroker, free_port, port_free

SERVICES = ("identity", "cameo", "feed", "generator", "billing")
# Certificates the local CA issues: each service, the gateway, and `admin` (the operator's CLI).
# Generator workers act as the generator and present its certificate.
TLS_IDENTITIES = (*SERVICES, "gateway", "admin")
# Default ports; each can be moved with KINORA_<NAME>_PORT, or all at once with a base.
DEFAULT_PORTS = {
    "postgres": 15432,
    "broker": 19092,
    "identity": 50061,
    "cameo": 50062,
    "feed": 50063,
    "generator": 50064,
    "billing": 50065,
    "gateway": 8080,
    "triton-grpc": 18001,
    "triton-http": 18000,
    "triton-metrics": 18002,
}
METRICS_BASE = 19461  # /metrics ports: services from here, gateway +9, workers +10…
# KINORA_METRICS_BASE_PORT moves them; 0 gives every process a free port (tests, stacks side by side).


def kinora_home() -> Path:
    return Path(os.environ.get("KINORA_HOME", ".kinora")).resolve()


def configured_ports(env=os.environ) -> dict[str, int]:
    ports = {}
    for name, default in DEFAULT_PORTS.items():
        var = f"KINORA_{name.upper().replace('-', '_')}_PORT"
        raw = env.get(var)
        if raw is None:
            ports[name] = default
            continue
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise StackError(f"{var}={raw!r} is not a TCP port number")
        ports[name] = int(raw)
    return ports


class StackError(RuntimeError):
    pass


def log_tail(path: str, lines: int = 12, width: int = 300) -> str:
    """The last lines of a log, each cut short: a traceback's last line alone
    can be longer than the whole excerpt, and the cause is in the lines before."""
    if not path or not Path(path).exists():
        return ""
    last = Path(path).read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(line if len(line) <= width else line[:width] + " …" for line in last)


@dataclass
class Component:
    name: str
    kind: str  # "broker", "grpc", "http", "triton", "worker"
    address: str
    pid: int = 0
    log: str = ""
    health_url: str = ""


@dataclass
class StackState:
    home: str
    components: list[Component] = field(default_factory=list)
    gateway_url: str = ""
    tls: bool = False  # services run mutual TLS (certificates under home/tls)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps(
                {
                    "home": self.home,
                    "gateway_url": self.gateway_url,
                    "tls": self.tls,
                    "components": [asdict(c) for c in self.components],
                },
                indent=2,
            )
        )

    @classmethod
    def load(cls, path: Path) -> StackState:
        data = json.loads(path.read_text())
        return cls(
            data["home"],
            [Component(**c) for c in data["components"]],
            data.get("gateway_url", ""),
            data.get("tls", False),
        )


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def stack_credentials(home: Path, name: str = "admin") -> grpc.ChannelCredentials | None:
    """Client credentials with certificate `name` (default `admin`, the operator's) of the stack
    at `home`, when it runs mutual TLS (as its stack.json says while it runs)."""
    tls = Path(home) / "tls"
    state = Path(home) / "stack.json"
    if not (tls / f"{name}.crt").exists() or (state.exists() and not StackState.load(state).tls):
        return None
    from kinora.runtime.tls import channel_credentials

    return channel_credentials(str(tls / f"{name}.crt"), str(tls / f"{name}.key"), str(tls / "ca.crt"))


def operator_channel(home: Path, address: str, *, aio: bool = False, name: str = "admin"):
    """A channel to one of the stack's services as its operator (or as `name`), over mutual TLS
    when the stack runs it."""
    api = grpc.aio if aio else grpc
    creds = stack_credentials(home, name)
    return api.secure_channel(address, creds) if creds else api.insecure_channel(address)


def check_component(
    c: Component, timeout: float = 2.0, home: Path | None = None, credentials: grpc.ChannelCredentials | None = None
) -> tuple[bool, str]:
    """(serving?, detail) for one component. gRPC health is asked over mutual TLS with
    `credentials`, else with the operator certificate of the stack at `home` when it runs TLS."""
    if c.kind == "grpc":
        credentials = credentials or stack_credentials(home or kinora_home())
        try:
            with grpc.secure_channel(c.address, credentials) if credentials else grpc.insecure_channel(c.address) as ch:
                status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=timeout).status
        except grpc.RpcError as exc:
            return False, f"unreachable ({exc.code().name})"
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
        return status == health_pb2.HealthCheckResponse.SERVING, name
    if c.kind in ("http", "triton"):
        try:
            with urllib.request.urlopen(c.health_url, timeout=timeout) as resp:
                return resp.status == 200, f"HTTP {resp.status}"
        except Exception as exc:  # noqa: BLE001 - any failure means not serving
            return False, f"unreachable ({type(exc).__name__})"
    if c.kind == "postgres":
        import psycopg

        try:
            with psycopg.connect(f"postgresql://postgres@{c.address}/postgres", connect_timeout=timeout):
                return True, "accepting connections"
        except psycopg.OperationalError as exc:
            return False, f"unreachable ({str(exc).strip().splitlines()[-1][:80]})"
    if c.kind in ("broker", "worker"):
        alive = _pid_alive(c.pid)
        if c.kind == "broker" and alive:
            import socket

            host, port = c.address.rsplit(":", 1)
            with socket.socket() as s:
                s.settimeout(timeout)
                alive = s.connect_ex((host, int(port))) == 0
        return alive, "running" if alive else "not running"
    return False, "unknown component"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class LocalStack:
    def __init__(self, home: Path | None = None, env=None, workers: int = 1, log=print):
        self.home = (home or kinora_home()).resolve()
        self.env = dict(os.environ if env is None else env)
        self.ports = configured_ports(self.env)
        self.workers = workers
        self.metrics_base = self._metrics_base()
        self.log = log
        self.broker: TansuBroker | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.procs: list[tuple[Component, subprocess.Popen]] = []
        self.state = StackState(str(self.home))
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.tls: dict = {}
        self._admin_credentials: grpc.ChannelCredentials | None = None

    # -- layout -----------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        return self.home / "stack.json"

    def _secret(self) -> str:
        path = self.home / "internal_secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _tls(self) -> dict:
        """name -> TlsFiles for every process, or {} when KINORA_STACK_MTLS=false."""
        if self.env.get("KINORA_STACK_MTLS", "true").strip().lower() in ("0", "false", "no", "off"):
            return {}
        from kinora.runtime.pki import local_pki

        return local_pki(self.home / "tls", TLS_IDENTITIES)

    def operator_credentials(self) -> grpc.ChannelCredentials | None:
        """This stack's `admin` credentials while it runs mutual TLS (health checks, tests)."""
        admin = self.tls.get("admin")
        if admin is None:
            return None
        if self._admin_credentials is None:
            from kinora.runtime.tls import channel_credentials

            self._admin_credentials = channel_credentials(admin.cert, admin.key, admin.ca)
        return self._admin_credentials

    def tls_env(self, name: str) -> dict[str, str]:
        files = self.tls.get(name)
        return {**files.env(), "KINORA_REQUIRE_MTLS": "true"} if files else {}

    def _metrics_base(self) -> int:
        raw = self.env.get("KINORA_METRICS_BASE_PORT", str(METRICS_BASE))
        if not raw.isdigit() or int(raw) > 65535 - 20:
            raise StackError(f"KINORA_METRICS_BASE_PORT={raw!r} is not a TCP port number (0 picks free ports)")
        return int(raw)

    def metrics_port(self, offset: int) -> str:
        return str(self.metrics_base + offset if self.metrics_base else free_port())

    def addr(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in self.env.items() if not k.startswith("KINORA_") or k in ("KINORA_HOME",)}
        env.update(
            {
                "KINORA_HOME": str(self.home),
                "KINORA_KAFKA_BOOTSTRAP": self.addr("broker"),
                "KINORA_INTERNAL_SECRET": self._secret(),
                "KINORA_BLOB_DIR": str(self.home / "blobs"),
                "KINORA_TRITON_URL": self.addr("triton-grpc"),
                "KINORA_TRITON_ADDR": self.addr("triton-grpc"),  # the generator worker reads this name
                "KINORA_GRPC_HOST": "127.0.0.1",
                "KINORA_LOG_LEVEL": self.env.get("KINORA_LOG_LEVEL", "INFO"),
                # The local stack's operator invites people with `kinora admin invite` (a service token).
                "KINORA_SERVICE_INVITES": self.env.get("KINORA_SERVICE_INVITES", "true"),
                # Development payments: the test provider's fixed tokens (tok_test_succeed) buy credits.
                "KINORA_BILLING_DEV_PAYMENTS": self.env.get("KINORA_BILLING_DEV_PAYMENTS", "true"),
                "KINORA_BILLING_TEST_PROVIDER_SECRET": self.env.get(
                    "KINORA_BILLING_TEST_PROVIDER_SECRET", secrets.token_urlsafe(24)
                ),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for svc in SERVICES:
            env[f"KINORA_{svc.upper()}_ADDR"] = self.addr(svc)
        # Settings that operators pass through (e.g. KINORA_BILLING_FREE_DAILY) keep flowing.
        for k, v in self.env.items():
            if k.startswith("KINORA_") and k not in env and not k.endswith("_PORT"):
                env[k] = v
        return env

    def database_url(self, service: str) -> str:
        """The SQLAlchemy URL of a service's database: KINORA_<SERVICE>_DATABASE_URL, else
        database kinora_<service> on KINORA_DATABASE_URL's server, else on the embedded one."""
        own = self.env.get(f"KINORA_{service.upper()}_DATABASE_URL")
        if own:
            return own
        shared = self.env.get("KINORA_DATABASE_URL")
        if shared:
            from sqlalchemy.engine import make_url

            return (
                make_url(shared)
                .set(drivername="postgresql+psycopg", database=f"kinora_{service}")
                .render_as_string(hide_password=False)
            )
        return f"postgresql+psycopg://postgres@{self.addr('postgres')}/kinora_{service}"

    def _embedded_postgres_wanted(self) -> bool:
        return not self.env.get("KINORA_DATABASE_URL") and not all(
            self.env.get(f"KINORA_{s.upper()}_DATABASE_URL") for s in SERVICES
        )

    def _create_databases(self) -> None:
        """Each service's database, created if missing (migrations then fill it)."""
        import psycopg
        from sqlalchemy.engine import make_url

        for svc in SERVICES:
            url = make_url(self.database_url(svc))
            admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone():
                        conn.execute(f'CREATE DATABASE "{url.database}"')
            except psycopg.Error as exc:
                raise StackError(
                    f"cannot create {svc}'s database {url.database!r} on {url.host}:{url.port}: {str(exc).strip()}"
                ) from None

    def _check_ports(self, names: list[str]) -> None:
        busy = [f"{n} port {self.ports[n]}" for n in names if not port_free(self.ports[n])]
        if busy:
            raise StackError(
                "cannot start: already in use: "
                + ", ".join(busy)
                + " (stop what uses it, or move it with KINORA_<NAME>_PORT)"
            )

    # -- start / stop ---------------------------------------------------------------

    def _spawn(self, comp: Component, argv: list[str], env: dict[str, str]) -> None:
        log_path = self.home / "logs" / f"{comp.name}.log"
        comp.log = str(log_path)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        comp.pid = proc.pid
        self.commands[comp.name] = (argv, env)
        self.procs.append((comp, proc))
        if comp not in self.state.components:
            self.state.components.append(comp)

    def component(self, name: str) -> Component:
        for comp in self.state.components:
            if comp.name == name:
                return comp
        raise StackError(f"no component named {name!r}; known: {', '.join(c.name for c in self.state.components)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one component abruptly (for fault-injection tests)."""
        comp = self.component(name)
        if name in ("broker", "postgres"):
            process = (self.broker if name == "broker" else self.postgres).process
            process.send_signal(sig)
            process.wait()
            return
        for c, proc in self.procs:
            if c is comp and proc.poll() is None:
                os.killpg(proc.pid, sig)
                proc.wait()

    def restart(self, name: str, timeout_s: float = 120.0) -> None:
        """Start a stopped component again with the same command and settings."""
        comp = self.component(name)
        if name == "broker":
            self.broker = self._new_broker().start()
            comp.pid = self.broker.process.pid
        elif name == "postgres":
            comp.pid = self.postgres.start().process.pid
        else:
            self.procs = [(c, p) for c, p in self.procs if c is not comp]
            argv, env = self.commands[name]
            self._spawn(comp, argv, env)
        self.state.save(self.state_file)
        deadline = time.monotonic() + timeout_s
        while not check_component(comp, credentials=self.operator_credentials())[0]:
            if time.monotonic() > deadline:
                raise StackError(f"{name} is not serving {timeout_s:.0f}s after its restart")
            time.sleep(0.25)

    def planned(self) -> list[str]:
        names = ["postgres"] if self._embedded_postgres_wanted() else []
        names.append("broker")
        if _available("kinora.models.serve"):
            names += ["triton-grpc", "triton-http", "triton-metrics"]
        names += [s for s in SERVICES if _available(f"services.{s}.__main__")]
        if _available("services.gateway.__main__"):
            names.append("gateway")
        return names

    def start(self, timeout_s: float = 180.0) -> StackState:
        for sub in ("blobs", "logs"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        if self.state_file.exists():
            old = StackState.load(self.state_file)
            if any(_pid_alive(c.pid) for c in old.components):
                raise StackError(f"a stack is already running from {self.home} (see `kinora status`)")
        names = self.planned()
        self._check_ports(names)
        try:
            self._start_all(names)
            self.state.save(self.state_file)
            self.wait_serving(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.state

    def _new_broker(self) -> TansuBroker:
        return TansuBroker(self.ports["broker"], self.home / "logs" / "broker.log")

    def _start_postgres(self) -> None:
        log = self.home / "logs" / "postgres.log"
        self.postgres = EmbeddedPostgres(self.home / "postgres", self.ports["postgres"], log_path=log)
        try:
            self.postgres.start()
        except PostgresError as exc:
            raise StackError(f"postgres: {exc}; last lines:\n{log_tail(str(log))}") from None
        self.state.components.append(
            Component("postgres", "postgres", self.addr("postgres"), self.postgres.process.pid, str(log))
        )

    def _start_all(self, names: list[str]) -> None:
        env = self.base_env()
        self.tls = self._tls()
        self.state.tls = bool(self.tls)
        if "postgres" in names:
            self._start_postgres()
        self._create_databases()
        self.broker = self._new_broker().start()
        self.state.components.append(
            Component(
                "broker", "broker", self.addr("broker"), self.broker.process.pid, str(self.home / "logs" / "broker.log")
            )
        )
        py = sys.executable
        if "triton-grpc" in names:
            self._spawn(
                Component(
                    "model-server",
                    "triton",
                    self.addr("triton-grpc"),
                    # Ready only once the model itself is loaded, not just the server.
                    health_url=f"http://{self.addr('triton-http')}/v2/models/"
                    f"{self.env.get('KINORA_MODELS', 'worldsim')}/ready",
                ),
                [
                    py,
                    "-m",
                    "kinora.models.serve",
                    "--model",
                    self.env.get("KINORA_MODELS", "worldsim"),
                    "--grpc-port",
                    str(self.ports["triton-grpc"]),
                    "--http-port",
                    str(self.ports["triton-http"]),
                    "--metrics-port",
                    str(self.ports["triton-metrics"]),
                ],
                env,
            )
        for i, svc in enumerate(s for s in SERVICES if s in names):
            svc_env = {
                **env,
                "KINORA_GRPC_PORT": str(self.ports[svc]),
                "KINORA_METRICS_PORT": self.metrics_port(i),
                "KINORA_DATABASE_URL": self.database_url(svc),
                **self.tls_env(svc),
            }
            self._spawn(Component(svc, "grpc", self.addr(svc)), [py, "-m", f"services.{svc}"], svc_env)
        if "generator" in names and _available("services.generator.worker"):
            # Workers share the generator's database: let the API migrate it first.
            generator = self.component("generator")
            deadline = time.monotonic() + 120
            while not check_component(generator, credentials=self.operator_credentials())[0]:
                if time.monotonic() > deadline or self.procs[-1][1].poll() is not None:
                    break  # wait_serving reports the problem
                time.sleep(0.2)
            for w in range(self.workers):
                # A worker starts like a service: its gRPC health (on a free port) tells `kinora status`.
                worker_port = free_port()
                worker_env = {
                    **env,
                    "KINORA_DATABASE_URL": self.database_url("generator"),
                    "KINORA_METRICS_PORT": self.metrics_port(10 + w),
                    "KINORA_WORKER_ID": f"worker-{w}",
                    "KINORA_GRPC_PORT": str(worker_port),
                    **self.tls_env("generator"),
                }
                self._spawn(
                    Component(f"generator-worker-{w}", "grpc", f"127.0.0.1:{worker_port}"),
                    [py, "-m", "services.generator.worker"],
                    worker_env,
                )
        if "gateway" in names:
            gw_env = {
                "KINORA_EGRESS_DEVELOPMENT": "true",  # webhooks to a receiver on this machine, over http
                **env,
                "KINORA_HTTP_PORT": str(self.ports["gateway"]),
                "KINORA_METRICS_PORT": self.metrics_port(9),
                **self.tls_env("gateway"),
            }
            self._spawn(
                Component("gateway", "http", self.addr("gateway"), health_url=f"http://{self.addr('gateway')}/readyz"),
                [py, "-m", "services.gateway"],
                gw_env,
            )
            self.state.gateway_url = f"http://{self.addr('gateway')}"

    def wait_serving(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(self.state.components)
        while pending:
            for comp, proc in self.procs:
                if proc.poll() is not None:
                    raise StackError(
                        f"{comp.name} exited with status {proc.returncode} while starting; "
                        f"log {comp.log}, last lines:\n{log_tail(comp.log)}"
                    )
            pending = [c for c in pending if not check_component(c, credentials=self.operator_credentials())[0]]
            if not pending:
                return
            if time.monotonic() > deadline:
                detail = ", ".join(
                    f"{c.name}: {check_component(c, credentials=self.operator_credentials())[1]}" for c in pending
                )
                raise StackError(f"not serving after {timeout_s:.0f}s: {detail}")
            time.sleep(0.25)

    def stop(self, timeout_s: float = 20.0) -> None:
        # Reverse start order: the edge first, the broker last.
        for _comp, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout_s
        for comp, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.log(f"{comp.name} did not stop in time; killing it")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        self.procs.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.postgres is not None:  # last: every service has closed its connections
            self.postgres.stop()
            self.postgres = None
        if self.state_file.exists():
            self.state_file.unlink()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def status(home: Path | None = None) -> list[tuple[Component, bool, str]]:
    home = (home or kinora_home()).resolve()
    path = home / "stack.json"
    if not path.exists():
        raise StackError(f"no stack is running from {home} (start one with `kinora up`)")
    return [(c, *check_component(c, home=home)) for c in StackState.load(path).components]
