"""Running the feed service in-process for tests: real PostgreSQL, real gRPC,
tokens from a LocalIssuer, generations and identity facts delivered through
the feed's own event handlers (the code the Kafka consumer runs)."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import grpc

from kinora.feed.v1 import feed_pb2 as pb
from kinora.feed.v1 import feed_pb2_grpc
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.identity.v1 import identity_pb2
from kinora.runtime.settings import load_settings
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer
from services.feed import handlers
from services.feed.server import build_context
from services.feed.settings import FeedSettings


class FeedHarness:
    def __init__(self, ctx, feed, issuer: LocalIssuer):
        self.ctx, self.feed, self.issuer = ctx, feed, issuer
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{ctx.app.port}")
        self.stub = feed_pb2_grpc.FeedServiceStub(self.channel)
        self.tokens: dict[str, str] = {}

    def user(self, handle: str, region: str = "US", teen: bool = False) -> str:
        """A user known to the feed (as identity's UserCreated would make it)."""
        user_id = str(uuid.uuid4())
        self.tokens[user_id] = self.issuer.token(user_id, handle, teen=teen)
        age = 2 if teen else 1
        with self.ctx.sessions.begin() as s:
            handlers.user_changed(self.feed)(
                s,
                id_ev.UserCreated(user=identity_pb2.User(id=user_id, handle=handle, region=region, age_group=age)),
                None,
            )
        return user_id

    def md(self, user_id: str):
        return bearer(self.tokens[user_id])

    def completed(self, user_id: str, prompt: str, cameo_ids=(), remix_of: str = "", status: str = "completed") -> str:
        gen_id = "gen_" + uuid.uuid4().hex[:20]
        facts = gen_ev.GenerationFacts(
            generation_id=gen_id, user_id=user_id, cameo_ids=list(cameo_ids), remix_of=remix_of
        )
        with self.ctx.sessions.begin() as s:
            handlers.generation_requested(self.feed)(s, gen_ev.GenerationRequested(facts=facts, prompt=prompt), None)
            if status == "completed":
                handlers.generation_completed(self.feed)(
                    s, gen_ev.GenerationCompleted(facts=facts, prompt=prompt), None
                )
            elif status == "failed":
                handlers.generation_status(self.feed, "failed")(s, gen_ev.GenerationFailed(facts=facts), None)
        return gen_id

    async def post(
        self, user_id: str, prompt: str, caption: str = "", visibility=pb.VISIBILITY_PUBLIC, remix_of: str = ""
    ) -> pb.Post:
        gen_id = self.completed(user_id, prompt, remix_of=remix_of)
        reply = await self.stub.PublishPost(
            pb.PublishPostRequest(generation_id=gen_id, caption=caption, visibility=visibility),
            metadata=self.md(user_id),
        )
        return reply.post

    async def feed_page(self, user_id: str, size: int = 10, token: str = "", session_id: str = ""):
        return await self.stub.GetFeed(
            pb.GetFeedRequest(page=_page(size, token), session_id=session_id), metadata=self.md(user_id)
        )


def _page(size, token):
    from kinora.common.v1 import common_pb2

    return common_pb2.PageRequest(page_size=size, page_token=token)


@asynccontextmanager
async def running_feed(
    pg_url: str,
    *,
    broker=None,
    issuer: LocalIssuer | None = None,
    cameo_addr: str | None = None,
    consent=None,
    scorer=None,
    **env,
):
    issuer = issuer or LocalIssuer()
    values = {
        "KINORA_DATABASE_URL": pg_url,
        "KINORA_GRPC_HOST": "127.0.0.1",
        "KINORA_GRPC_PORT": str(free_port()),
        "KINORA_INTERNAL_SECRET": "feed-test-secret",
        **{k: str(v) for k, v in env.items()},
    }
    if broker is not None:
        values["KINORA_KAFKA_BOOTSTRAP"] = broker.bootstrap
    if cameo_addr:
        values["KINORA_CAMEO_ADDR"] = cameo_addr
    settings = load_settings(FeedSettings, values)
    ctx, feed = build_context(settings, jwks_fetcher=issuer.fetch_jwks, consent=consent, scorer=scorer)
    await ctx.app.start()
    harness = FeedHarness(ctx, feed, issuer)
    try:
        yield harness
    finally:
        await harness.channel.close()
        await ctx.app.stop()
