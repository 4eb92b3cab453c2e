"""Cameo test harness: the real service (in-process gRPC) on a real
PostgreSQL database, tokens from a LocalIssuer, events applied through the
real handlers (the broker test sends them through Kafka instead)."""

from __future__ import annotations

import uuid

import grpc

from kinora.cameo.v1 import cameo_pb2_grpc
from kinora.common.v1 import common_pb2 as common
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.identity.v1 import identity_pb2 as id_pb
from kinora.runtime.auth import mint_service_token
from kinora.runtime.db import make_engine, session_factory, transaction
from kinora.stack.tansu import free_port
from kinora.testing import bearer
from services.cameo import handlers
from services.cameo.restrictions import RestrictionMatcher
from services.cameo.server import build_context
from services.cameo.settings import CameoSettings

SECRET = "cameo-test-internal-secret-0123456789"
_MATCHER = RestrictionMatcher()  # shared: it caches restriction embeddings


class Replica:
    def __init__(self, ctx):
        self.ctx = ctx
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{ctx.app.port}")
        self.stub = cameo_pb2_grpc.CameoServiceStub(self.channel)

    async def close(self):
        await self.channel.close()
        await self.ctx.app.stop()


async def start_replica(pg_url, issuer, **extra) -> Replica:
    settings = CameoSettings(
        grpc_host="127.0.0.1",
        grpc_port=free_port(),
        database_url=pg_url,
        internal_secret=SECRET,
        grace_seconds=0.5,
        **extra,
    )
    ctx = build_context(settings, jwks_fetcher=issuer.fetch_jwks, matcher=_MATCHER)
    await ctx.app.start()
    return Replica(ctx)


class World:
    """Users, cameos and relationships, created the way events create them."""

    def __init__(self, pg_url, issuer):
        self.engine = make_engine(pg_url, pool_size=2)
        self.sessions = session_factory(self.engine)
        self.issuer = issuer
        self.handles: dict[str, str] = {}

    def user(self, handle: str, teen: bool = False) -> str:
        user_id = str(uuid.uuid4())
        self.handles[user_id] = handle
        age = common.AGE_GROUP_TEEN if teen else common.AGE_GROUP_ADULT
        with transaction(self.sessions) as s:
            handlers.user_created(s, id_ev.UserCreated(user=id_pb.User(id=user_id, handle=handle, age_group=age)), None)
        return user_id

    def verify(self, user_id: str, teen: bool = False) -> str:
        """CameoVerified -> profile; returns the cameo id."""
        from sqlalchemy import select

        from services.cameo.models import cameos

        age = common.AGE_GROUP_TEEN if teen else common.AGE_GROUP_ADULT
        likeness = common.LikenessAssets(
            face_crops=[common.BlobRef(key=f"faces/{user_id}/0.jpg", content_type="image/jpeg")]
        )
        with transaction(self.sessions) as s:
            handlers.cameo_verified(
                s,
                id_ev.CameoVerified(
                    user_id=user_id,
                    handle=self.handles[user_id],
                    display_name=self.handles[user_id].title(),
                    verification_id=str(uuid.uuid4()),
                    owner_age_group=age,
                    likeness=likeness,
                ),
                None,
            )
            return s.execute(select(cameos.c.id).where(cameos.c.owner_user_id == user_id)).scalar_one()

    def guardian_cap(self, teen_id: str, cap: int) -> None:
        with transaction(self.sessions) as s:
            handlers.parental_controls_changed(
                s,
                id_ev.ParentalControlsChanged(
                    teen_user_id=teen_id,
                    guardian_user_id=str(uuid.uuid4()),
                    controls=id_pb.ParentalControls(max_cameo_policy=cap),
                ),
                None,
            )

    def follow(self, follower: str, followee: str, following: bool = True) -> None:
        from kinora.feed.v1 import events_pb2 as feed_ev

        with transaction(self.sessions) as s:
            handlers.follow_changed(
                s,
                feed_ev.FollowChanged(follower_user_id=follower, followee_user_id=followee, following=following),
                None,
            )

    def as_user(self, user_id: str):
        return bearer(self.issuer.token(user_id, self.handles.get(user_id, "")))

    def as_service(self, name: str = "generator"):
        return bearer(mint_service_token(name, SECRET)[0])

    def close(self):
        self.engine.dispose()
