"""Run the identity service in-process for tests and benchmarks, on a real
PostgreSQL database, and talk to it over real gRPC."""

from __future__ import annotations

import dataclasses

import grpc
from sqlalchemy import select

from kinora.identity.v1 import identity_pb2 as pb
from kinora.identity.v1 import identity_pb2_grpc
from kinora.runtime.auth import mint_service_token
from kinora.stack.tansu import free_port
from kinora.testing import bearer
from services.identity.server import IdentityService, assemble
from services.identity.settings import IdentitySettings

INTERNAL_SECRET = "identity-test-internal-secret-0123456789"
# Cheap argon2 for tests (the production default is 19 MiB x 2 passes).
FAST_ARGON2 = dict(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)


def settings_for(pg_url: str, blob_dir, **overrides) -> IdentitySettings:
    values = dict(
        grpc_host="127.0.0.1",
        grpc_port=free_port(),
        database_url=pg_url,
        internal_secret=INTERNAL_SECRET,
        blob_dir=str(blob_dir),
        grace_seconds=1.0,
        service_invites=True,
        **FAST_ARGON2,
    )
    values.update(overrides)
    return IdentitySettings(**values)


class Running:
    """A started identity service plus a stub and helpers."""

    def __init__(self, settings: IdentitySettings):
        self.settings = settings
        self.service: IdentityService = assemble(settings)
        self.channel = None
        self.stub: identity_pb2_grpc.IdentityServiceStub | None = None
        self._n = 0

    async def __aenter__(self):
        await self.service.app.start()
        self.channel = grpc.aio.insecure_channel(
            f"127.0.0.1:{self.service.app.port}",
            options=[("grpc.max_send_message_length", 40 << 20), ("grpc.max_receive_message_length", 40 << 20)],
        )
        self.stub = identity_pb2_grpc.IdentityServiceStub(self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.channel.close()
        await self.service.app.stop()

    def service_md(self, name: str = "admin"):
        return bearer(mint_service_token(name, INTERNAL_SECRET)[0])

    async def invite(self) -> str:
        reply = await self.stub.CreateInvite(pb.CreateInviteRequest(), metadata=self.service_md())
        return reply.invite.code

    async def sign_up(
        self,
        handle: str | None = None,
        *,
        birthdate: str = "1990-05-01",
        region: str = "US",
        password: str = "correct horse battery",
    ) -> pb.SignUpResponse:
        self._n += 1
        handle = handle or f"user{self._n}"
        return await self.stub.SignUp(
            pb.SignUpRequest(
                invite_code=await self.invite(), handle=handle, password=password, birthdate=birthdate, region=region
            )
        )

    def outbox(self, event_type: str | None = None) -> list:
        """(event_type, payload bytes) rows in the outbox, oldest first."""
        outbox = self.service.ctx.tables.outbox
        query = select(outbox.c.event_type, outbox.c.payload, outbox.c.aggregate_id).order_by(outbox.c.id)
        if event_type:
            query = query.where(outbox.c.event_type == event_type)
        with self.service.ctx.engine.connect() as c:
            return c.execute(query).all()


def with_changes(settings: IdentitySettings, **changes) -> IdentitySettings:
    return dataclasses.replace(settings, **changes)
