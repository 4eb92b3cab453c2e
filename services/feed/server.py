"""Feed gRPC server: the FeedService servicer, the cameo consent checker (over
kinora.consent), and `build`. Domain work is synchronous SQLAlchemy, so it runs on a
thread pool sized to the connection pool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.consent import PUBLISH, ConsentClient
from kinora.feed.v1 import feed_pb2 as pb
from kinora.feed.v1 import feed_pb2_grpc
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.tokens import verifier_fetchers
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.ml.embeddings import embed
from kinora.runtime import auth
from kinora.runtime.convert import set_timestamp, to_datetime
from kinora.runtime.errors import InvalidArgument, Unavailable
from kinora.runtime.server import ServiceApp
from kinora.runtime.service import ServiceContext, create_service
from kinora.runtime.subscriptions import by_event_type
from services.feed import handlers
from services.feed import models as m
from services.feed.assembly import FeedPage
from services.feed.common import FeedConfig, cursor_key
from services.feed.domain import Feed
from services.feed.metrics import FEED_FALLBACKS, FEED_LATENCY, FEED_STAGE_SECONDS
from services.feed.moderation import CommentModerator
from services.feed.ports import ConsentResult
from services.feed.ranking import PolicyConfig
from services.feed.settings import FeedSettings
from services.feed.topics import (
    CONSUMES,
    GENERATION_CANCELED,
    GENERATION_DELETED,
    GENERATION_FAILED,
    GENERATION_TAKEN_DOWN,
    TOPICS,
)

MIGRATIONS = Path(__file__).parent / "migrations"


class GrpcConsentChecker:
    """ConsentChecker over the shared consent client (`kinora.consent`, cameo's CheckUse, fully
    consistent) with purpose PUBLISH. Forwards the publishing user's token, so cameo authorises
    the real caller. Fails closed: no cameo service configured, or none reachable within 5 s, is
    Unavailable ("consent_unavailable")."""

    def __init__(self, address: str | None):
        self.address = address
        self._client = ConsentClient(address, timeout_s=5.0) if address else None

    async def check(
        self, requester_user_id: str, cameo_ids: Sequence[str], prompt: str, generation_id: str
    ) -> ConsentResult:
        if self._client is None:
            raise Unavailable(
                "this video has cameos and no cameo service is configured to re-check consent (KINORA_CAMEO_ADDR)",
                "consent_unavailable",
            )
        try:
            verdict = await self._client.check(requester_user_id, cameo_ids, prompt, generation_id, purpose=PUBLISH)
        except Unavailable:
            raise Unavailable(
                "can't reach the cameo service to re-check consent; try again shortly", "consent_unavailable"
            ) from None
        return ConsentResult(verdict.all_allowed, "; ".join(d.message for d in verdict.refused))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


def post_message(row: dict) -> pb.Post:
    cameo_ids = row["cameo_ids"]
    post = pb.Post(
        id=row["id"],
        author_user_id=row["author_user_id"],
        author_handle=row.get("author_handle", ""),
        generation_id=row["generation_id"],
        caption=row["caption"],
        visibility=row["visibility"],
        state=row["state"],
        cameo_ids=json.loads(cameo_ids) if cameo_ids != "[]" else (),
        remix_of_post_id=row["remix_of_post_id"],
        remix_of_generation_id=row["remix_of_generation_id"],
        like_count=row["like_count"],
        comment_count=row["comment_count"],
        remix_count=row["remix_count"],
        liked_by_caller=bool(row.get("liked_by_caller", False)),
        region=row["region"],
    )
    set_timestamp(post.created_at, row["created_at"])
    set_timestamp(post.updated_at, row["updated_at"])
    return post


def _users(rows: list[dict]) -> list[pb.UserSummary]:
    out = []
    for r in rows:
        u = pb.UserSummary(user_id=r["uid"], handle=r["handle"] or "")
        set_timestamp(u.since, r["created_at"])
        out.append(u)
    return out


def _comment(row: dict) -> pb.Comment:
    c = pb.Comment(
        id=row["id"],
        post_id=row["post_id"],
        author_user_id=row["author_user_id"],
        author_handle=row["author_handle"],
        text=row["text"],
    )
    set_timestamp(c.created_at, row["created_at"])
    return c


def _remix_node(node: dict) -> pb.RemixNode:
    return pb.RemixNode(post=post_message(node["post"]), children=[_remix_node(c) for c in node["children"]])


class FeedServicer(feed_pb2_grpc.FeedServiceServicer):
    def __init__(self, feed: Feed, pool: ThreadPoolExecutor):
        self.feed, self.pool = feed, pool

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    # posts

    async def PublishPost(self, request, context):
        me = auth.require_user()
        post = await self.feed.publish(me.subject, request.generation_id, request.caption, request.visibility)
        return pb.PublishPostResponse(post=post_message(post))

    async def UnpublishPost(self, request, context):
        me = auth.require_user()
        return pb.UnpublishPostResponse(
            post=post_message(await self._run(self.feed.unpublish, me.subject, request.post_id))
        )

    async def DeletePost(self, request, context):
        me = auth.require_user()
        await self._run(self.feed.delete_post, me.subject, request.post_id)
        return pb.DeletePostResponse()

    async def GetPost(self, request, context):
        caller = auth.principal()
        if caller is not None and caller.is_service and caller.subject == "service:gateway":
            # The public takedown form resolves a post link as nobody in particular: public posts only.
            viewer = "anonymous:takedown"
        else:
            viewer = auth.require_user().subject
        return pb.GetPostResponse(post=post_message(await self._run(self.feed.get_post, viewer, request.post_id)))

    async def CanViewGeneration(self, request, context):
        auth.require_service("generator", "gateway")  # gateway: signed media URLs (services/gateway/media.py)
        post_id = await self._run(self.feed.visible_post_of_generation, request.viewer_user_id, request.generation_id)
        return pb.CanViewGenerationResponse(visible=bool(post_id), post_id=post_id)

    async def ListUserPosts(self, request, context):
        me = auth.require_user()
        posts, token = await self._run(
            self.feed.list_user_posts, me.subject, request.user_id, request.page.page_size, request.page.page_token
        )
        return pb.ListUserPostsResponse(posts=[post_message(p) for p in posts], next_page_token=token)

    # feed

    async def GetFeed(self, request, context):
        me = auth.require_user()
        with FEED_LATENCY.time():
            page: FeedPage = await self._run(
                self.feed.get_feed,
                me.subject,
                me.handle,
                me.teen,
                request.page.page_size,
                request.page.page_token,
                request.session_id,
            )
        reply = pb.GetFeedResponse(
            next_page_token=page.next_token,
            session_id=page.session_id,
            nudge=page.nudge,
            cap_reached=page.cap_reached,
            cap_message=page.cap_message,
            fallback=page.fallback,
            non_personalized=page.non_personalized,
        )
        for row, source, reason, score in page.items:
            reply.items.add(post=post_message(row), source=source, reason=reason, score=score)
        if page.timings:
            t = page.timings
            reply.timings.CopyFrom(
                pb.FeedTimings(
                    candidates_ms=t["candidates_ms"],
                    score_ms=t["score_ms"],
                    policy_ms=t["policy_ms"],
                    candidate_count=t["candidate_count"],
                )
            )
            for stage in ("candidates", "score", "policy"):
                FEED_STAGE_SECONDS.labels(stage).observe(t[f"{stage}_ms"] / 1000)
        return reply

    async def SetFeedPreferences(self, request, context):
        me = auth.require_user()
        prefs = await self._run(self.feed.set_preferences, me.subject, request.text)
        out = pb.FeedPreferences(text=prefs["text"])
        set_timestamp(out.updated_at, prefs["updated_at"])
        return pb.SetFeedPreferencesResponse(preferences=out)

    async def GetFeedPreferences(self, request, context):
        me = auth.require_user()
        prefs = await self._run(self.feed.get_preferences, me.subject)
        out = pb.FeedPreferences(text=prefs["text"])
        set_timestamp(out.updated_at, prefs["updated_at"])
        return pb.GetFeedPreferencesResponse(preferences=out)

    async def RecordViews(self, request, context):
        me = auth.require_user()
        views = [
            (v.post_id, v.watch_ms, to_datetime(v.viewed_at, "viewed_at") if v.HasField("viewed_at") else None)
            for v in request.views
        ]
        await self._run(self.feed.record_views, me.subject, views)
        return pb.RecordViewsResponse()

    # social graph

    async def Follow(self, request, context):
        me = auth.require_user()
        return pb.FollowResponse(mutual=await self._run(self.feed.follow, me.subject, request.user_id))

    async def Unfollow(self, request, context):
        me = auth.require_user()
        await self._run(self.feed.unfollow, me.subject, request.user_id)
        return pb.UnfollowResponse()

    async def BlockUser(self, request, context):
        me = auth.require_user()
        await self._run(self.feed.block, me.subject, request.user_id)
        return pb.BlockUserResponse()

    async def UnblockUser(self, request, context):
        me = auth.require_user()
        await self._run(self.feed.unblock, me.subject, request.user_id)
        return pb.UnblockUserResponse()

    async def _people(self, which, request):
        me = auth.require_user()
        return await self._run(
            self.feed.list_people, me.subject, request.user_id, which, request.page.page_size, request.page.page_token
        )

    async def ListFollowers(self, request, context):
        users, token = await self._people("followers", request)
        return pb.ListFollowersResponse(users=_users(users), next_page_token=token)

    async def ListFollowing(self, request, context):
        users, token = await self._people("following", request)
        return pb.ListFollowingResponse(users=_users(users), next_page_token=token)

    async def ListMutuals(self, request, context):
        users, token = await self._people("mutuals", request)
        return pb.ListMutualsResponse(users=_users(users), next_page_token=token)

    # reactions

    async def LikePost(self, request, context):
        me = auth.require_user()
        return pb.LikePostResponse(like_count=await self._run(self.feed.like, me.subject, request.post_id, True))

    async def UnlikePost(self, request, context):
        me = auth.require_user()
        return pb.UnlikePostResponse(like_count=await self._run(self.feed.like, me.subject, request.post_id, False))

    async def CreateComment(self, request, context):
        me = auth.require_user()
        row = await self._run(self.feed.create_comment, me.subject, me.handle, request.post_id, request.text)
        return pb.CreateCommentResponse(comment=_comment(row))

    async def ListComments(self, request, context):
        me = auth.require_user()
        rows, token = await self._run(
            self.feed.list_comments, me.subject, request.post_id, request.page.page_size, request.page.page_token
        )
        return pb.ListCommentsResponse(comments=[_comment(r) for r in rows], next_page_token=token)

    async def DeleteComment(self, request, context):
        me = auth.require_user()
        await self._run(self.feed.delete_comment, me.subject, request.comment_id)
        return pb.DeleteCommentResponse()

    async def SeeLess(self, request, context):
        me = auth.require_user()
        await self._run(self.feed.see_less, me.subject, request.post_id, request.note)
        return pb.SeeLessResponse()

    async def ReportPost(self, request, context):
        me = auth.require_user()
        report_id = await self._run(self.feed.report, me.subject, request.post_id, request.reason, request.details)
        return pb.ReportPostResponse(report_id=report_id)

    async def GetRemixes(self, request, context):
        me = auth.require_user()
        if request.max_depth < 0:
            raise InvalidArgument("max_depth can't be negative", "invalid_max_depth")
        root, ancestors, truncated = await self._run(
            self.feed.get_remixes, me.subject, request.post_id, request.max_depth
        )
        return pb.GetRemixesResponse(
            root=_remix_node(root), ancestors=[post_message(a) for a in ancestors], truncated=truncated
        )


def consumed_events(feed: Feed) -> dict:
    """A handler for each event type read (topics.CONSUMES)."""
    return {
        gen_ev.GenerationRequested: handlers.generation_requested(feed),
        gen_ev.GenerationCompleted: handlers.generation_completed(feed),
        gen_ev.GenerationFailed: handlers.generation_status(feed, GENERATION_FAILED),
        gen_ev.GenerationCanceled: handlers.generation_status(feed, GENERATION_CANCELED),
        gen_ev.GenerationTakenDown: handlers.generation_status(feed, GENERATION_TAKEN_DOWN),
        gen_ev.GenerationDeleted: handlers.generation_status(feed, GENERATION_DELETED),
        cameo_ev.TakedownRequested: handlers.takedown_requested(feed),
        id_ev.ParentalControlsChanged: handlers.parental_controls_changed(feed),
        id_ev.UserCreated: handlers.user_changed(feed),
        id_ev.UserUpdated: handlers.user_changed(feed),
        id_ev.UserDeleted: handlers.user_deleted(feed),
    }


def build_context(
    settings: FeedSettings,
    *,
    jwks_fetcher=None,
    consent=None,
    moderator=None,
    scorer=None,
    db_workers: int | None = None,
) -> tuple[ServiceContext, Feed]:
    """The service with its Feed. Tests pass their own consent checker only
    when the real cameo service can't run in-process."""
    from sqlalchemy.orm import sessionmaker

    holder: dict = {}
    db_workers = db_workers or settings.db_workers
    feed_config = FeedConfig(
        page_size=settings.page_size,
        max_page_size=settings.max_page_size,
        nudge_after_items=settings.nudge_after_items,
        candidates_per_source=settings.candidates_per_source,
        trending_days=settings.trending_days,
        ranking_ttl_s=settings.ranking_ttl_s,
        ranking_viewers=settings.ranking_viewers,
        policy=PolicyConfig(settings.max_per_author, settings.connected_share),
    )
    # Handlers need the Feed and create_service needs the handlers: build the Feed on a late-bound ctx.
    consent = consent or GrpcConsentChecker(settings.cameo_addr)
    moderator = moderator or CommentModerator()
    feed = Feed(
        sessionmaker(),
        m.tables,
        consent,
        moderator,
        embed,
        cursor_key(settings.cursor_secret, settings.internal_secret),
        feed_config,
        scorer=scorer,
        on_fallback=FEED_FALLBACKS.inc,
        on_events=lambda: holder["ctx"].wake_relay(),
    )
    # The pool holds a connection per request worker plus the relay's and the consumer's: with the
    # default (5, plus 5 closed when returned) a busy feed kept opening and closing connections.
    ctx = create_service(
        "feed",
        settings,
        m.tables,
        MIGRATIONS,
        topics=TOPICS,
        subscription=by_event_type(consumed_events(feed), CONSUMES),
        **verifier_fetchers(settings.identity_addr, jwks_fetcher),
        db_pool_size=db_workers + 1 + settings.consumer_threads,
    )
    holder["ctx"] = ctx
    feed.sessions = ctx.sessions
    # Posts embed their prompt and comments are moderated with the embedding model: load it now,
    # not when the first post arrives (measured: the demo's first post waited 7 s for it). The
    # feed's in-memory indexes too, not in the first GetFeed.
    ctx.warm_up(lambda: (embed(["warm up"]), moderator.refusal("warm up"), feed.warm_up()))
    pool = ThreadPoolExecutor(max_workers=db_workers, thread_name_prefix="feed-db")
    ctx.app.add_servicer(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(feed, pool),
        pb.DESCRIPTOR.services_by_name["FeedService"].full_name,
    )

    async def close():
        pool.shutdown(wait=False)
        if isinstance(consent, GrpcConsentChecker):
            await consent.close()

    ctx.app.on_shutdown(close)
    return ctx, feed


async def build(settings: FeedSettings) -> ServiceApp:
    return build_context(settings)[0].app
