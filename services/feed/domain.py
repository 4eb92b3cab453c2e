"""Feed domain: the `Feed` the server and the event handlers call, composed of
one part per feature (docs/feed.md, "Where each concept lives"):

- users.py: the feed's copy of each user, parental controls, stated preferences
- graph.py: follows and blocks
- posts.py: publishing, unpublishing and deleting, who may see a post, remix lineage
- engagement.py: likes, comments, "see less", reports, views
- generations.py: what generator and cameo events do to generations and posts
- assembly.py (+ queries.py): GetFeed's page, from the in-memory indexes and caches
  (indexes.py, recent.py), scoring and policy (ranking.py)

Plain classes over SQLAlchemy Core; no gRPC or Kafka here. Events are written to the outbox in
the same transaction as the change they describe (topics.py names them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kinora.generator.v1 import events_pb2 as gen_events
from kinora.runtime.events import EventTables
from kinora.runtime.paging import PageTokens
from services.feed.assembly import FeedAssembler, FeedPage, followed_window
from services.feed.common import (
    DELETED,
    FOLLOWERS,
    PRIVATE,
    PUBLIC,
    PUBLISHED,
    S_FOLLOWING,
    S_MUTUALS,
    S_PREFERENCES,
    S_RECENT,
    S_REMIXES,
    S_TRENDING,
    TAKEN_DOWN,
    UNPUBLISHED,
    FeedConfig,
    FeedContext,
    cursor_key,
    utcnow,
)
from services.feed.engagement import Engagement
from services.feed.generations import Generations
from services.feed.graph import Graph
from services.feed.indexes import PostFactsCache, PreferenceIndex, TrendingCache
from services.feed.ports import ConsentChecker, ConsentResult, Embedder, TextModerator
from services.feed.posts import Posts
from services.feed.ranking import CreationScorer
from services.feed.recent import RecentByAuthor
from services.feed.users import Users, ensure_user

# Names other modules and tests import from here.
__all__ = [
    "DELETED",
    "FOLLOWERS",
    "PRIVATE",
    "PUBLIC",
    "PUBLISHED",
    "S_FOLLOWING",
    "S_MUTUALS",
    "S_PREFERENCES",
    "S_RECENT",
    "S_REMIXES",
    "S_TRENDING",
    "TAKEN_DOWN",
    "UNPUBLISHED",
    "ConsentChecker",
    "ConsentResult",
    "Embedder",
    "Feed",
    "FeedConfig",
    "FeedPage",
    "PostFactsCache",
    "PreferenceIndex",
    "TextModerator",
    "TrendingCache",
    "cursor_key",
    "utcnow",
]


class Feed:
    """The feed's parts, built over one `FeedContext` and the shared in-memory indexes. Each
    method hands over to the part that owns it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tables: EventTables,
        consent: ConsentChecker,
        moderator: TextModerator,
        embedder: Embedder,
        cursor_key: bytes,
        config: FeedConfig = FeedConfig(),
        scorer: CreationScorer | None = None,
        on_fallback: Callable[[], None] = lambda: None,
        on_events: Callable[[], None] = lambda: None,
    ):
        self.ctx = FeedContext(sessions, tables, config, PageTokens(cursor_key), on_events)
        self.config = config
        # The in-memory indexes and caches a replica's requests share.
        self.prefs_index = PreferenceIndex()
        self.facts = PostFactsCache()
        self.trending = TrendingCache(facts=self.facts)
        self.recent = RecentByAuthor(
            per_author=config.candidates_per_source, window_s=followed_window(config).total_seconds()
        )
        self.users = Users(self.ctx, embedder)
        self.graph = Graph(self.ctx)
        self.posts = Posts(self.ctx, consent, moderator, embedder, self.facts, self.recent)
        self.engagement = Engagement(self.ctx, moderator)
        self.generations = Generations(self.posts)
        self.assembler = FeedAssembler(
            self.ctx, scorer or CreationScorer(), on_fallback, self.prefs_index, self.facts, self.trending, self.recent
        )

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.ctx.sessions

    @sessions.setter
    def sessions(self, sessions: sessionmaker[Session]) -> None:
        self.ctx.sessions = sessions  # every part reads it from the context

    def warm_up(self) -> None:
        """Load the in-memory indexes, so that no request waits for their first load."""
        with self.ctx.sessions() as s:
            self.recent.refresh(s, force=True)
            self.prefs_index.refresh(s, force=True)

    # users and preferences

    def ensure_user(self, session: Session, user_id: str, handle: str = "", teen: bool | None = None) -> dict[str, Any]:
        return ensure_user(session, user_id, handle, teen)

    def touch_user(self, user_id: str, handle: str, teen: bool) -> None:
        self.users.touch_user(user_id, handle, teen)

    def set_preferences(self, viewer_id: str, text: str) -> dict[str, Any]:
        return self.users.set_preferences(viewer_id, text)

    def get_preferences(self, viewer_id: str) -> dict[str, Any]:
        return self.users.get_preferences(viewer_id)

    # posts

    async def publish(self, user_id: str, generation_id: str, caption: str, visibility: int) -> dict[str, Any]:
        return await self.posts.publish(user_id, generation_id, caption, visibility)

    def unpublish(self, user_id: str, post_id: str) -> dict[str, Any]:
        return self.posts.unpublish(user_id, post_id)

    def delete_post(self, user_id: str, post_id: str) -> None:
        self.posts.delete_post(user_id, post_id)

    def get_post(self, viewer_id: str, post_id: str) -> dict[str, Any]:
        return self.posts.get_post(viewer_id, post_id)

    def visible_post_of_generation(self, viewer_id: str, generation_id: str) -> str:
        return self.posts.visible_post_of_generation(viewer_id, generation_id)

    def list_user_posts(
        self, viewer_id: str, user_id: str, page_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return self.posts.list_user_posts(viewer_id, user_id, page_size, token)

    def get_remixes(
        self, viewer_id: str, post_id: str, max_depth: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        return self.posts.get_remixes(viewer_id, post_id, max_depth)

    # social graph

    def follow(self, viewer_id: str, user_id: str) -> bool:
        return self.graph.follow(viewer_id, user_id)

    def unfollow(self, viewer_id: str, user_id: str) -> None:
        self.graph.unfollow(viewer_id, user_id)

    def block(self, viewer_id: str, user_id: str) -> None:
        self.graph.block(viewer_id, user_id)

    def unblock(self, viewer_id: str, user_id: str) -> None:
        self.graph.unblock(viewer_id, user_id)

    def list_people(
        self, viewer_id: str, user_id: str, which: str, page_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return self.graph.list_people(viewer_id, user_id, which, page_size, token)

    # engagement

    def like(self, viewer_id: str, post_id: str, liked: bool) -> int:
        return self.engagement.like(viewer_id, post_id, liked)

    def create_comment(self, viewer_id: str, handle: str, post_id: str, text: str) -> dict[str, Any]:
        return self.engagement.create_comment(viewer_id, handle, post_id, text)

    def list_comments(
        self, viewer_id: str, post_id: str, page_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        return self.engagement.list_comments(viewer_id, post_id, page_size, token)

    def delete_comment(self, viewer_id: str, comment_id: str) -> None:
        self.engagement.delete_comment(viewer_id, comment_id)

    def see_less(self, viewer_id: str, post_id: str, note: str) -> None:
        self.engagement.see_less(viewer_id, post_id, note)

    def report(self, viewer_id: str, post_id: str, reason: int, details: str) -> str:
        return self.engagement.report(viewer_id, post_id, reason, details)

    def record_views(self, viewer_id: str, views: list[tuple[str, int, datetime | None]]) -> None:
        self.engagement.record_views(viewer_id, views)

    # the ranked feed

    def get_feed(
        self, viewer_id: str, handle: str, teen: bool, page_size: int, token: str, session_id: str
    ) -> FeedPage:
        return self.assembler.get_feed(viewer_id, handle, teen, page_size, token, session_id)

    # event effects (called by handlers inside the consumer's transaction)

    def on_generation(
        self, s: Session, facts: gen_events.GenerationFacts, status: str, prompt: str | None = None
    ) -> None:
        self.generations.on_generation(s, facts, status, prompt)

    def on_takedown(self, s: Session, takedown_id: str, target_kind: str, target_ids: Sequence[str]) -> int:
        return self.generations.on_takedown(s, takedown_id, target_kind, target_ids)

    def on_parental_controls(self, s: Session, teen_user_id: str, daily_cap: int, non_personalized: bool) -> None:
        self.users.on_parental_controls(s, teen_user_id, daily_cap, non_personalized)

    def on_user(self, s: Session, user_id: str, handle: str, region: str, teen: bool) -> None:
        self.users.on_user(s, user_id, handle, region, teen)
