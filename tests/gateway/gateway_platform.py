"""The five real services in-process, each on its own fresh PostgreSQL
database, with the gateway in front over real HTTP. Shared by the gateway and
end-to-end tests; nothing is faked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import secrets

import grpc
import httpx

from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.runtime.auth import mint_service_token
from kinora.runtime.settings import load_settings
from kinora.stack.tansu import free_port
from kinora.testing import bearer, temporary_database

SECRET = secrets.token_urlsafe(32)


@dataclasses.dataclass
class Platform:
    url: str
    identity_addr: str
    gateway: object
    apps: dict

    async def invite(self) -> str:
        ch = grpc.aio.insecure_channel(self.identity_addr)
        try:
            reply = await identity_pb2_grpc.IdentityServiceStub(ch).CreateInvite(
                identity_pb2.CreateInviteRequest(), metadata=bearer(mint_service_token("admin", SECRET)[0])
            )
        finally:
            await ch.close()
        return reply.invite.code

    async def signup(self, client: httpx.AsyncClient, handle: str) -> dict:
        reply = await client.post(
            "/api/v1/auth/signup",
            json={
                "invite_code": await self.invite(),
                "handle": handle,
                "password": "correct horse battery",
                "birthdate": "1990-05-01",
                "region": "US",
            },
        )
        assert reply.status_code == 201, reply.text
        body = reply.json()
        # Billing opens the account from identity's UserSignedUp event: wait for it.
        headers = {"Authorization": f"Bearer {body['tokens']['access_token']}"}
        for _ in range(150):
            if (await client.get("/api/v1/billing/balance", headers=headers)).status_code == 200:
                break
            await asyncio.sleep(0.1)
        return {
            "id": body["user"]["id"],
            "token": body["tokens"]["access_token"],
            "refresh": body["tokens"]["refresh_token"],
            "handle": handle,
        }


def auth(user: dict) -> dict:
    return {"Authorization": f"Bearer {user['token']}"}


@contextlib.asynccontextmanager
async def running_platform(tmp_path, broker_bootstrap: str | None = None, **gateway_overrides):
    from services.billing.server import build as build_billing
    from services.billing.settings import BillingSettings
    from services.cameo.server import build as build_cameo
    from services.cameo.settings import CameoSettings
    from services.feed.server import build as build_feed
    from services.feed.settings import FeedSettings
    from services.gateway.server import GatewayServer
    from services.gateway.settings import GatewaySettings
    from services.generator.server import build as build_generator
    from services.generator.settings import GeneratorSettings
    from services.identity.server import build as build_identity
    from services.identity.settings import IdentitySettings

    ports = {name: free_port() for name in ("identity", "cameo", "feed", "generator", "billing")}
    addr = {name: f"127.0.0.1:{p}" for name, p in ports.items()}
    common = {
        "KINORA_GRPC_HOST": "127.0.0.1",
        "KINORA_INTERNAL_SECRET": SECRET,
        "KINORA_IDENTITY_ADDR": addr["identity"],
        "KINORA_CAMEO_ADDR": addr["cameo"],
        "KINORA_BILLING_ADDR": addr["billing"],
        "KINORA_FEED_ADDR": addr["feed"],
        "KINORA_GRACE_SECONDS": "0.5",
        "KINORA_BLOB_DIR": str(tmp_path / "blobs"),
    }
    if broker_bootstrap:
        common["KINORA_KAFKA_BOOTSTRAP"] = broker_bootstrap
    plan = [
        (
            "identity",
            IdentitySettings,
            build_identity,
            {"KINORA_ARGON2_TIME_COST": "1", "KINORA_ARGON2_MEMORY_KIB": "1024", "KINORA_SERVICE_INVITES": "true"},
        ),
        (
            "billing",
            BillingSettings,
            build_billing,
            {"KINORA_BILLING_DEV_PAYMENTS": "true", "KINORA_BILLING_TEST_PROVIDER_SECRET": "gateway-tests"},
        ),
        ("cameo", CameoSettings, build_cameo, {}),
        ("feed", FeedSettings, build_feed, {}),
        ("generator", GeneratorSettings, build_generator, {"KINORA_DATA_DIR": str(tmp_path / "gen")}),
    ]
    databases = contextlib.ExitStack()  # dropped after the platform stops, off the test's path
    try:
        # CREATE DATABASE waits on the server's disk: the five run side by side.
        urls = await asyncio.gather(
            *(asyncio.to_thread(databases.enter_context, temporary_database(f"gw{name[:3]}")) for name, *_ in plan)
        )
        async with _stopped_in_turn() as apps:
            # One after another: alembic's migration context is process-wide, not for threads at once.
            for (name, cls, build, extra), url in zip(plan, urls):
                env = {**common, **extra, "KINORA_GRPC_PORT": str(ports[name]), "KINORA_DATABASE_URL": url}
                if name == "generator":
                    env["KINORA_BLOB_DIR"] = str(tmp_path / "gen-blobs")
                app = await build(load_settings(cls, env))
                await app.start()
                apps[name] = app
            settings = load_settings(
                GatewaySettings,
                {
                    "KINORA_HTTP_HOST": "127.0.0.1",
                    "KINORA_HTTP_PORT": "0",
                    "KINORA_INTERNAL_SECRET": SECRET,
                    **{f"KINORA_{n.upper()}_ADDR": a for n, a in addr.items()},
                },
            )
            settings = dataclasses.replace(settings, **gateway_overrides)
            gateway = GatewayServer(settings)
            port = await gateway.start()
            try:
                yield Platform(f"http://127.0.0.1:{port}", addr["identity"], gateway, apps)
            finally:
                await gateway.stop()
    finally:
        _drop_later(databases)


@contextlib.asynccontextmanager
async def _stopped_in_turn():
    """Yields a dict to put started services in; afterwards stops them one by one, last started
    first, and raises the first failure, if any, once every one has stopped. (Stopped side by
    side, the next module's platform on the same broker sometimes never got its events: a
    consumer that left its group in the middle of a join stayed the group's leader on Tansu 0.6.0.
    The consumers now finish a join before they leave, and a process's members leave leader
    first: kinora.runtime.consumer.GroupMembers, tests/runtime/test_consumer_handover.py.)"""
    apps: dict = {}
    try:
        yield apps
    finally:
        failures = []
        for app in reversed(list(apps.values())):
            try:
                await app.stop()
            except Exception as exc:  # every service is stopped before the first failure is raised
                failures.append(exc)
        if failures:
            raise failures[0]


# DROP DATABASE ... WITH (FORCE) takes seconds on a busy server: the platform's databases go on
# this thread while the next tests run. The interpreter waits for it at exit, so none is left behind.
_DROPPER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-databases")


def _drop_later(databases: contextlib.ExitStack) -> None:
    _DROPPER.submit(databases.close)
