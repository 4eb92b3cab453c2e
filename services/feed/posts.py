"""Posts: publishing a finished generation (caption moderation, the cameo
consent re-check), unpublishing and deleting, who may see a post, a user's
posts and remix lineage. Sends PostPublished and PostRemoved."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, cast

import numpy as np
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from kinora.feed.v1 import events_pb2, feed_pb2
from kinora.runtime.convert import set_timestamp
from kinora.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kinora.runtime.events import emit
from services.feed import models as m
from services.feed.common import (
    DELETED,
    FOLLOWERS,
    POST_COLUMNS,
    PRIVATE,
    PUBLIC,
    PUBLISHED,
    TAKEN_DOWN,
    UNPUBLISHED,
    FeedContext,
    utcnow,
    vec_bytes,
)
from services.feed.graph import blocked_between, follows
from services.feed.indexes import PostFactsCache
from services.feed.ports import ConsentChecker, Embedder, TextModerator
from services.feed.recent import RecentByAuthor
from services.feed.topics import GENERATION_COMPLETED, POST_AGGREGATE, POSTS_TOPIC
from services.feed.users import ensure_user

MAX_CAPTION = 2200
MAX_REMIX_DEPTH = 10
MAX_REMIX_NODES = 500


def post_row(s: Session, post_id: str, lock: bool = False) -> dict[str, Any] | None:
    try:
        uuid.UUID(post_id)
    except (ValueError, AttributeError):
        return None
    q = select(*POST_COLUMNS).where(m.posts.c.id == post_id)
    row = s.execute(q.with_for_update() if lock else q).mappings().first()
    return dict(row) if row else None


def post_view(s: Session, post_id: str, viewer_id: str) -> dict[str, Any]:
    row = post_row(s, post_id)
    assert row is not None, "post_view of a post that does not exist"
    row["author_handle"] = (
        s.execute(select(m.users.c.handle).where(m.users.c.id == row["author_user_id"])).scalar_one_or_none() or ""
    )
    row["liked_by_caller"] = (
        s.execute(
            select(func.count())
            .select_from(m.likes)
            .where(m.likes.c.user_id == viewer_id, m.likes.c.post_id == post_id)
        ).scalar_one()
        > 0
    )
    return row


def visible_post(s: Session, viewer_id: str, post_id: str) -> dict[str, Any]:
    """The post if the viewer may see it; NotFound otherwise (never reveal a hidden post exists)."""
    if not post_id:
        raise InvalidArgument("say which post (post_id)", "missing_post_id")
    post = post_row(s, post_id)
    missing = NotFound(f"post {post_id} does not exist or is not visible to you", "post_not_found")
    if post is None or post["state"] in (DELETED, TAKEN_DOWN):
        raise missing
    author = post["author_user_id"]
    if author == viewer_id:
        return post
    if post["state"] != PUBLISHED or post["visibility"] == PRIVATE or blocked_between(s, viewer_id, author):
        raise missing
    if post["visibility"] == FOLLOWERS and not follows(s, viewer_id, author):
        raise missing
    return post


class Posts:
    def __init__(
        self,
        ctx: FeedContext,
        consent: ConsentChecker,
        moderator: TextModerator,
        embedder: Embedder,
        facts: PostFactsCache,
        recent: RecentByAuthor,
    ):
        self.ctx, self.consent, self.moderator, self.embed = ctx, consent, moderator, embedder
        self.facts, self.recent = facts, recent

    def _generation_for_publish(self, user_id: str, generation_id: str) -> dict[str, Any]:
        if not generation_id:
            raise InvalidArgument("say which generation to publish (generation_id)", "missing_generation_id")
        with self.ctx.sessions() as s:
            gen = s.execute(select(m.generations).where(m.generations.c.id == generation_id)).mappings().first()
        if gen is None:
            raise NotFound(
                f"generation {generation_id} is unknown to the feed; only finished generations can be published",
                "generation_not_found",
            )
        if gen["user_id"] != user_id:
            raise PermissionDenied("you can only publish your own generations", "not_generation_owner")
        if gen["status"] != GENERATION_COMPLETED:
            raise FailedPrecondition(
                f"generation {generation_id} is {gen['status']}; only completed videos can be published",
                "generation_not_completed",
            )
        return dict(gen)

    async def publish(self, user_id: str, generation_id: str, caption: str, visibility: int) -> dict[str, Any]:
        visibility = visibility or PUBLIC
        if visibility not in (PUBLIC, FOLLOWERS, PRIVATE):
            raise InvalidArgument("visibility must be public, followers or private", "invalid_visibility")
        caption = caption.strip()
        if len(caption) > MAX_CAPTION:
            raise InvalidArgument(
                f"the caption is {len(caption)} characters; the limit is {MAX_CAPTION}", "caption_too_long"
            )
        gen = await asyncio.to_thread(self._generation_for_publish, user_id, generation_id)
        if caption and (why := await asyncio.to_thread(self.moderator.refusal, caption)):
            raise InvalidArgument(f"the caption can't be posted: {why}", "caption_refused")
        cameo_ids = json.loads(gen["cameo_ids"])
        if cameo_ids:
            decision = await self.consent.check(user_id, cameo_ids, gen["prompt"], generation_id)
            if not decision.allowed:
                raise PermissionDenied(
                    decision.message or "a cameo owner's consent no longer covers this video", "cameo_consent_refused"
                )
        vector = (await asyncio.to_thread(self.embed, [f"{caption}. {gen['prompt']}".strip(". ")]))[0]
        post = await asyncio.to_thread(self._write_publish, user_id, gen, caption, visibility, vector)
        self.ctx.on_events()
        # Followers of the author see it on their next page from this replica (others: within refresh_s).
        self.recent.put(user_id, post["id"], post["created_at"], visibility in (PUBLIC, FOLLOWERS))
        return post

    def _write_publish(
        self, user_id: str, gen: dict[str, Any], caption: str, visibility: int, vector: np.ndarray[Any, Any]
    ) -> dict[str, Any]:
        now = utcnow()
        with self.ctx.sessions.begin() as s:
            author = ensure_user(s, user_id)
            # Re-read under lock: an event may have taken the generation down meanwhile.
            fresh = s.execute(
                select(m.generations.c.status).where(m.generations.c.id == gen["id"]).with_for_update()
            ).scalar_one()
            if fresh != GENERATION_COMPLETED:
                raise FailedPrecondition(
                    f"generation {gen['id']} is {fresh}; it can't be published", "generation_not_completed"
                )
            existing = s.execute(select(m.posts).where(m.posts.c.generation_id == gen["id"])).mappings().first()
            parent_id = ""
            if gen["remix_of"]:
                parent_id = (
                    s.execute(
                        select(m.posts.c.id).where(m.posts.c.generation_id == gen["remix_of"])
                    ).scalar_one_or_none()
                    or ""
                )
            values = dict(
                caption=caption,
                prompt=gen["prompt"],
                visibility=visibility,
                state=PUBLISHED,
                cameo_ids=gen["cameo_ids"],
                remix_of_post_id=parent_id,
                remix_of_generation_id=gen["remix_of"],
                region=author["region"],
                embedding=vec_bytes(vector),
                updated_at=now,
            )
            if existing is not None:
                if existing["state"] == PUBLISHED:
                    raise AlreadyExists(
                        f"generation {gen['id']} is already published as post {existing['id']}", "already_published"
                    )
                if existing["state"] != UNPUBLISHED:
                    raise FailedPrecondition("this video was removed and can't be published again", "post_removed")
                post_id = existing["id"]
                s.execute(update(m.posts).where(m.posts.c.id == post_id).values(**values))
            else:
                post_id = str(uuid.uuid4())
                s.execute(
                    insert(m.posts).values(
                        id=post_id, author_user_id=user_id, generation_id=gen["id"], created_at=now, **values
                    )
                )
            if parent_id:
                s.execute(
                    update(m.posts).where(m.posts.c.id == parent_id).values(remix_count=m.posts.c.remix_count + 1)
                )
            event = events_pb2.PostPublished(
                post_id=post_id,
                author_user_id=user_id,
                generation_id=gen["id"],
                cameo_ids=json.loads(gen["cameo_ids"]),
                visibility=cast(feed_pb2.Visibility, visibility),
                remix_of_post_id=parent_id,
                remix_of_generation_id=gen["remix_of"],
            )
            set_timestamp(event.occurred_at, now)
            emit(s, self.ctx.tables, POSTS_TOPIC, event, POST_AGGREGATE, post_id)
            return post_view(s, post_id, user_id)

    def _remove(
        self, user_id: str, post_id: str, new_state: int, reason: events_pb2.RemovalReason
    ) -> dict[str, Any] | None:
        with self.ctx.sessions.begin() as s:
            post = post_row(s, post_id, lock=True)
            if post is None or post["state"] in (DELETED, TAKEN_DOWN):
                raise NotFound(f"post {post_id} does not exist", "post_not_found")
            if post["author_user_id"] != user_id:
                raise PermissionDenied("only the author can do this to a post", "not_post_author")
            if new_state == UNPUBLISHED and post["state"] != PUBLISHED:
                raise FailedPrecondition("the post is already a draft", "already_unpublished")
            self.set_removed(s, post, new_state, reason)
            view = post_view(s, post_id, user_id) if new_state == UNPUBLISHED else None
        self.ctx.on_events()
        return view

    def unpublish(self, user_id: str, post_id: str) -> dict[str, Any]:
        view = self._remove(user_id, post_id, UNPUBLISHED, events_pb2.REMOVAL_REASON_UNPUBLISHED)
        assert view is not None  # an unpublished post is still there to view
        return view

    def delete_post(self, user_id: str, post_id: str) -> None:
        self._remove(user_id, post_id, DELETED, events_pb2.REMOVAL_REASON_DELETED)

    def set_removed(
        self, s: Session, post: dict[str, Any], new_state: int, reason: events_pb2.RemovalReason, takedown_id: str = ""
    ) -> None:
        self.facts.forget([post["id"]])
        s.execute(update(m.posts).where(m.posts.c.id == post["id"]).values(state=new_state, updated_at=utcnow()))
        if post["remix_of_post_id"] and post["state"] == PUBLISHED:
            s.execute(
                update(m.posts)
                .where(m.posts.c.id == post["remix_of_post_id"])
                .values(remix_count=case((m.posts.c.remix_count > 0, m.posts.c.remix_count - 1), else_=0))
            )
        event = events_pb2.PostRemoved(
            post_id=post["id"],
            author_user_id=post["author_user_id"],
            generation_id=post["generation_id"],
            cameo_ids=json.loads(post["cameo_ids"]),
            reason=reason,
            takedown_id=takedown_id,
        )
        set_timestamp(event.occurred_at, utcnow())
        emit(s, self.ctx.tables, POSTS_TOPIC, event, POST_AGGREGATE, post["id"])

    def get_post(self, viewer_id: str, post_id: str) -> dict[str, Any]:
        with self.ctx.sessions() as s:
            visible_post(s, viewer_id, post_id)
            return post_view(s, post_id, viewer_id)

    def visible_post_of_generation(self, viewer_id: str, generation_id: str) -> str:
        """The id of the generation's post if the viewer may see it, else "" (the
        generator asks before someone else's clip becomes a remix source)."""
        if not viewer_id or not generation_id:
            raise InvalidArgument(
                "say who is looking (viewer_user_id) and at what (generation_id)", "missing_viewer_or_generation"
            )
        with self.ctx.sessions() as s:
            post_id: str | None = s.execute(
                select(m.posts.c.id).where(m.posts.c.generation_id == generation_id)
            ).scalar_one_or_none()
            if post_id is None:
                return ""
            try:
                visible_post(s, viewer_id, post_id)
            except NotFound:
                return ""
            return post_id

    def list_user_posts(
        self, viewer_id: str, user_id: str, page_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        user_id = user_id or viewer_id
        offset = self.ctx.offset(token, viewer_id, f"posts:{user_id}")
        size = self.ctx.page_size(page_size)
        p = m.posts.c
        with self.ctx.sessions() as s:
            q = select(p.id).where(p.author_user_id == user_id)
            if user_id == viewer_id:
                q = q.where(p.state.in_([PUBLISHED, UNPUBLISHED]))  # your drafts too
            else:
                if blocked_between(s, viewer_id, user_id):
                    return [], ""
                allowed = [PUBLIC, FOLLOWERS] if follows(s, viewer_id, user_id) else [PUBLIC]
                q = q.where(p.state == PUBLISHED, p.visibility.in_(allowed))
            ids = list(s.execute(q.order_by(p.created_at.desc(), p.id).offset(offset).limit(size + 1)).scalars())
            views = [post_view(s, i, viewer_id) for i in ids[:size]]
        return views, self.ctx.next_token(ids, size, offset, viewer_id, f"posts:{user_id}")

    # -- remix lineage ----------------------------------------------------------------

    def get_remixes(
        self, viewer_id: str, post_id: str, max_depth: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
        """(tree rooted at the post: {"post", "children"}, ancestors nearest first, truncated)."""
        depth = MAX_REMIX_DEPTH if max_depth <= 0 else min(max_depth, MAX_REMIX_DEPTH)
        p = m.posts.c
        with self.ctx.sessions() as s:
            visible_post(s, viewer_id, post_id)
            root: dict[str, Any] = {"post": post_view(s, post_id, viewer_id), "children": []}
            truncated, count = False, 1
            level = [root]
            for _ in range(depth):
                ids = [n["post"]["id"] for n in level]
                children = s.execute(
                    select(p.id, p.remix_of_post_id)
                    .where(p.remix_of_post_id.in_(ids), p.remix_of_post_id != "", p.state == PUBLISHED)
                    .order_by(p.created_at)
                ).all()
                nxt: list[dict[str, Any]] = []
                by_id = {n["post"]["id"]: n for n in level}
                for child_id, parent_id in children:
                    try:
                        visible_post(s, viewer_id, child_id)
                    except NotFound:
                        continue
                    if count >= MAX_REMIX_NODES:
                        truncated = True
                        break
                    node: dict[str, Any] = {"post": post_view(s, child_id, viewer_id), "children": []}
                    by_id[parent_id]["children"].append(node)
                    nxt.append(node)
                    count += 1
                level = nxt
                if not level:
                    break
            else:
                if (
                    level
                    and s.execute(
                        select(func.count())
                        .select_from(m.posts)
                        .where(p.remix_of_post_id.in_([n["post"]["id"] for n in level]), p.state == PUBLISHED)
                    ).scalar_one()
                ):
                    truncated = True
            ancestors: list[dict[str, Any]] = []
            current = root["post"]
            while current["remix_of_post_id"] and len(ancestors) < 50:
                try:
                    visible_post(s, viewer_id, current["remix_of_post_id"])
                except NotFound:
                    break  # a hidden ancestor ends the visible chain
                current = post_view(s, current["remix_of_post_id"], viewer_id)
                ancestors.append(current)
        return root, ancestors, truncated
