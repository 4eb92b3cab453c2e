"""Shared fixtures: the generator API in-process on PostgreSQL, with real
token verification (LocalIssuer) and the real moderation classifier."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager

import grpc
import pytest

from kinora.generator.v1 import generator_pb2_grpc as pb_grpc
from kinora.runtime.settings import load_settings
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer


@pytest.fixture(scope="session")
def moderator():
    from services.generator.moderation import Moderator

    m = Moderator()
    m.check("warm up the embedding model")
    return m


def generator_settings(pg_url: str, data_dir, **overrides):
    from services.generator.settings import GeneratorSettings

    return load_settings(GeneratorSettings, {}, database_url=pg_url, grpc_host="127.0.0.1", grpc_port=free_port(),
                         data_dir=str(data_dir), demand_interval_seconds=0.5, lease_seconds=3.0,
                         poll_seconds=0.05, **overrides)


@dataclasses.dataclass
class Api:
    app: object
    channel: grpc.aio.Channel
    issuer: LocalIssuer
    settings: object

    @property
    def stub(self):
        return pb_grpc.GeneratorServiceStub(self.channel)

    @property
    def pools(self):
        return pb_grpc.PoolAdminServiceStub(self.channel)

    def auth(self, user: str = "u-alice", handle: str = "alice", **kw):
        return bearer(self.issuer.token(user, handle, **kw))


@asynccontextmanager
async def running_api(settings, moderator, **build_kw):
    from services.generator.server import build

    issuer = LocalIssuer()
    app = await build(settings, jwks_fetcher=issuer.fetch_jwks, moderator=moderator, **build_kw)
    port = await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Api(app, channel, issuer, settings)
    finally:
        await channel.close()
        await app.stop()


@pytest.fixture
async def api(pg_url, tmp_path, moderator):
    async with running_api(generator_settings(pg_url, tmp_path), moderator) as running:
        yield running
