"""Test and benchmark harness for the generator: the API in-process on
PostgreSQL with real token verification, the real billing service in-process
on its own database, a real Triton (PyTriton) serving worldsim (plus, for
failure tests, a model that always raises), and generator worker processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import grpc

from kinora.generator.v1 import generator_pb2_grpc as pb_grpc
from kinora.models.contract import ModelRequest, ModelResult
from kinora.runtime.settings import load_settings
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer

ROOT = Path(__file__).resolve().parents[2]
# Service tokens between the generator, billing and cameo: the same secret as tests/cameo/cameo_harness.py,
# so a test can wire the generator to both.
SECRET = "cameo-test-internal-secret-0123456789"


class AlwaysFailingModel:
    """A real Triton model whose inference always fails (a model bug)."""

    name = "failing"

    def generate(self, request: ModelRequest, progress, cancelled) -> ModelResult:
        progress(3.0, "plan")
        raise RuntimeError("the renderer ran out of GPU memory")


class TritonHarness:
    def __init__(self, with_failing_model: bool = False, in_process: bool = True):
        self.with_failing_model = with_failing_model
        self.in_process = in_process
        self.grpc_port, self.http_port, self.metrics_port = free_port(), free_port(), free_port()
        self.server = None
        self.process = None

    @property
    def access_token(self) -> str | None:
        """PyTriton's token for the restricted endpoints (statistics)."""
        return self.server._triton.get_access_token() if self.server is not None else None

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def __enter__(self) -> TritonHarness:
        if self.in_process:
            from kinora.models.serve import ModelServer
            from worldsim.model import WorldSim

            worldsim = WorldSim()
            worldsim.warm_up()
            models = {"worldsim": worldsim}
            if self.with_failing_model:
                models["failing"] = AlwaysFailingModel()
            self.server = ModelServer(
                models,
                self.grpc_port,
                self.http_port,
                self.metrics_port,
                log_file=f"/tmp/kinora-triton-{self.grpc_port}.log",
            )
            self.server.start()
        else:
            # Its own process, as in production (no GIL shared with the generator).
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kinora.models.serve",
                    "--model",
                    "worldsim",
                    "--grpc-port",
                    str(self.grpc_port),
                    "--http-port",
                    str(self.http_port),
                    "--metrics-port",
                    str(self.metrics_port),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout_s: float = 120.0) -> None:
        from tritonclient.grpc import InferenceServerClient

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                client = InferenceServerClient(self.grpc_address)
                try:
                    if client.is_server_ready() and client.is_model_ready("worldsim"):
                        return
                finally:
                    client.close()
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("the model server exited during start-up")
            time.sleep(0.5)
        raise RuntimeError("Triton did not become ready")

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def worker_env(settings, **extra) -> dict:
    routes = ",".join(f"{r.name}={r.triton_model}:{r.quality}" for r in settings.models)
    env = dict(
        os.environ,
        KINORA_DATABASE_URL=settings.database_url,
        KINORA_DATA_DIR=settings.data_dir,
        KINORA_TRITON_ADDR=settings.triton_addr,
        KINORA_LEASE_SECONDS=str(settings.lease_seconds),
        KINORA_WORKER_POLL_SECONDS=str(settings.poll_seconds),
        KINORA_GENERATOR_MODELS=routes,
        KINORA_MAX_ATTEMPTS=str(settings.max_attempts),
        KINORA_LOG_LEVEL="INFO",
    )
    if settings.billing_addr:
        env["KINORA_BILLING_ADDR"] = settings.billing_addr
    if settings.internal_secret:
        env["KINORA_INTERNAL_SECRET"] = settings.internal_secret
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(settings, slots: int = 2, log_path: str | None = None, **env) -> subprocess.Popen:
    """`python -m services.generator.worker`, with its gRPC health on a free port (`.grpc_port`)."""
    log = open(log_path or os.devnull, "ab")
    grpc_port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.generator.worker"],
        cwd=ROOT,
        env=worker_env(
            settings, KINORA_WORKER_SLOTS=slots, KINORA_GRPC_PORT=grpc_port, KINORA_GRPC_HOST="127.0.0.1", **env
        ),
        stdout=log,
        stderr=log,
    )
    process.grpc_port = grpc_port
    return process


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def generator_settings(pg_url: str, data_dir, billing: RunningBilling | None = None, **overrides):
    """Settings for tests: short leases and fast polling (overridable). With
    `billing`, the generator reserves, captures and releases there."""
    from services.generator.settings import GeneratorSettings

    values = dict(
        database_url=pg_url,
        grpc_host="127.0.0.1",
        grpc_port=free_port(),
        data_dir=str(data_dir),
        demand_interval_seconds=0.5,
        lease_seconds=3.0,
        poll_seconds=0.05,
        grace_seconds=1.0,
    )
    if billing is not None:
        values.update(billing_addr=billing.addr, internal_secret=SECRET)
    values.update(overrides)
    return load_settings(GeneratorSettings, {}, **values)


class RunningBilling:
    """The billing service, real and in-process, for the generator's tests.
    Accounts open when identity's UserCreated arrives; here `open` stands in
    for that event (Api.auth opens the account of each user it signs for)."""

    def __init__(self, service, url: str):
        self.service, self.url = service, url
        self.addr = f"127.0.0.1:{service.ctx.app.port}"

    def open(self, *user_ids: str) -> None:
        from kinora.runtime.db import transaction

        with transaction(self.service.billing.sessions) as session:
            for user_id in user_ids:
                self.service.billing.open_user(session, user_id)

    def set_plan(self, user_id: str, tier: int) -> None:
        """Pro through the development payment provider, as `kinora` users subscribe."""
        from kinora.common.v1 import common_pb2

        assert tier == common_pb2.TIER_PRO, "only Pro is a paid plan"
        self.open(user_id)
        self.service.billing.start_subscription(user_id, "pro", "tok_test_succeed", f"plan-{user_id}")

    def reservation(self, generation_id: str):
        """Billing's reservation row (status held | captured | released | expired) or None."""
        with self.service.billing.sessions() as session:
            return self.service.billing._reservation(session, generation_id)

    def captures(self, generation_id: str) -> int:
        """Capture transactions in billing's ledger for this generation (charged once: 1)."""
        from sqlalchemy import func, select

        from services.billing.models import ledger_transactions as t

        with self.service.billing.sessions() as session:
            return session.execute(
                select(func.count()).select_from(t).where(t.c.generation_id == generation_id, t.c.kind == "capture")
            ).scalar_one()

    def reservations(self, user_id: str | None = None) -> list:
        from sqlalchemy import select

        from services.billing.models import reservations

        query = select(reservations)
        if user_id is not None:
            query = query.where(reservations.c.user_id == user_id)
        with self.service.billing.sessions() as session:
            return session.execute(query).all()


@asynccontextmanager
async def running_billing(**overrides):
    """Billing on a fresh database, generous enough that the generator's tests
    are not about plans: a large daily allowance, clips up to 20 s and the
    tests' failing model on the free plan."""
    from kinora.testing import temporary_database
    from services.billing.server import build_service
    from services.billing.settings import BillingSettings

    with temporary_database("genbill") as url:
        values = dict(
            database_url=url,
            grpc_host="127.0.0.1",
            grpc_port=free_port(),
            internal_secret=SECRET,
            kafka_bootstrap=None,
            free_daily=1000,
            pro_daily=1000,
            free_max_seconds=20,
            free_models=("standard", "broken"),
            dev_payments=True,
            test_provider_secret="generator-tests",
            sweep_interval_seconds=0,
            reconcile_interval_seconds=0,
            grace_seconds=0.5,
        )
        values.update(overrides)
        service = build_service(load_settings(BillingSettings, {}, **values))
        await service.ctx.app.start()
        try:
            yield RunningBilling(service, url)
        finally:
            await service.ctx.app.stop()


@dataclasses.dataclass
class Api:
    app: object
    channel: grpc.aio.Channel
    issuer: LocalIssuer
    settings: object
    billing: RunningBilling | None = None

    @property
    def stub(self):
        return pb_grpc.GeneratorServiceStub(self.channel)

    @property
    def pools(self):
        return pb_grpc.PoolAdminServiceStub(self.channel)

    def auth(self, user: str = "u-alice", handle: str = "alice", **kw):
        if self.billing is not None:
            self.billing.open(user)  # the account identity's UserCreated would have opened
        return bearer(self.issuer.token(user, handle, **kw))


@asynccontextmanager
async def running_api(
    settings,
    moderator,
    jwks_fetcher_issuer: LocalIssuer | None = None,
    billing_service: RunningBilling | None = None,
    **build_kw,
):
    from services.generator.server import build

    issuer = jwks_fetcher_issuer or LocalIssuer()
    app = await build(settings, jwks_fetcher=issuer.fetch_jwks, moderator=moderator, **build_kw)
    port = await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Api(app, channel, issuer, settings, billing_service)
    finally:
        await channel.close()
        await app.stop()


@asynccontextmanager
async def running_worker(settings, sessions, billing, consent=None, likeness=None):
    """A real generator worker on this event loop, sharing the caller's
    generator database and billing, with the Triton runner and C2PA signer."""
    from kinora.media.c2pa_sign import ProvenanceSigner, load_identity
    from services.generator.blobs import FilesystemBlobStore
    from services.generator.triton_runner import TritonRunner
    from services.generator.worker import Worker

    worker = Worker(
        settings,
        sessions,
        FilesystemBlobStore(settings.blob_root()),
        billing,
        consent,
        TritonRunner(settings.triton_addr),
        ProvenanceSigner(load_identity(settings.data_dir)),
        likeness=likeness,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task
