"""Engagement with posts: likes, comments, "see less", reports and views (the
counters ranking reads). Each needs the post to be visible to the viewer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select, update

from kinora.feed.v1 import feed_pb2
from kinora.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from services.feed import models as m
from services.feed.common import FeedContext, upsert, utcnow
from services.feed.ports import TextModerator
from services.feed.posts import visible_post

MAX_COMMENT = 1000


class Engagement:
    def __init__(self, ctx: FeedContext, moderator: TextModerator):
        self.ctx, self.moderator = ctx, moderator

    def like(self, viewer_id: str, post_id: str, liked: bool) -> int:
        with self.ctx.sessions.begin() as s:
            visible_post(s, viewer_id, post_id)
            lk = m.likes.c
            if liked:
                changed = cast(
                    CursorResult[Any],
                    s.execute(
                        upsert(
                            m.likes,
                            dict(user_id=viewer_id, post_id=post_id, created_at=utcnow()),
                            ["user_id", "post_id"],
                            None,
                        )
                    ),
                ).rowcount
            else:
                changed = cast(
                    CursorResult[Any], s.execute(delete(m.likes).where(lk.user_id == viewer_id, lk.post_id == post_id))
                ).rowcount
            delta = (1 if liked else -1) if changed else 0
            if delta:
                s.execute(
                    update(m.posts).where(m.posts.c.id == post_id).values(like_count=m.posts.c.like_count + delta)
                )
            count: int = s.execute(select(m.posts.c.like_count).where(m.posts.c.id == post_id)).scalar_one()
            return count

    def create_comment(self, viewer_id: str, handle: str, post_id: str, text: str) -> dict[str, Any]:
        text = (text or "").strip()
        if not text:
            raise InvalidArgument("the comment is empty", "empty_comment")
        if len(text) > MAX_COMMENT:
            raise InvalidArgument(
                f"the comment is {len(text)} characters; the limit is {MAX_COMMENT}", "comment_too_long"
            )
        with self.ctx.sessions() as s:
            visible_post(s, viewer_id, post_id)
        if why := self.moderator.refusal(text):
            raise InvalidArgument(f"the comment can't be posted: {why}", "comment_refused")
        row = dict(
            id=str(uuid.uuid4()),
            post_id=post_id,
            author_user_id=viewer_id,
            author_handle=handle,
            text=text,
            created_at=utcnow(),
        )
        with self.ctx.sessions.begin() as s:
            visible_post(s, viewer_id, post_id)
            s.execute(insert(m.comments).values(**row))
            s.execute(update(m.posts).where(m.posts.c.id == post_id).values(comment_count=m.posts.c.comment_count + 1))
        return row

    def list_comments(
        self, viewer_id: str, post_id: str, page_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        scope = f"comments:{post_id}"
        offset, size = self.ctx.offset(token, viewer_id, scope), self.ctx.page_size(page_size)
        c = m.comments.c
        with self.ctx.sessions() as s:
            visible_post(s, viewer_id, post_id)
            rows = [
                dict(r)
                for r in s.execute(
                    select(m.comments)
                    .where(c.post_id == post_id)
                    .order_by(c.created_at, c.id)
                    .offset(offset)
                    .limit(size + 1)
                ).mappings()
            ]
        return rows[:size], self.ctx.next_token(rows, size, offset, viewer_id, scope)

    def delete_comment(self, viewer_id: str, comment_id: str) -> None:
        with self.ctx.sessions.begin() as s:
            try:
                uuid.UUID(comment_id)
                row = s.execute(select(m.comments).where(m.comments.c.id == comment_id)).mappings().first()
            except ValueError:
                row = None
            if row is None:
                raise NotFound(f"comment {comment_id} does not exist", "comment_not_found")
            post_author = s.execute(
                select(m.posts.c.author_user_id).where(m.posts.c.id == row["post_id"])
            ).scalar_one_or_none()
            if viewer_id not in (row["author_user_id"], post_author):
                raise PermissionDenied(
                    "only the comment's author or the post's author can delete it", "not_comment_author"
                )
            s.execute(delete(m.comments).where(m.comments.c.id == comment_id))
            s.execute(
                update(m.posts).where(m.posts.c.id == row["post_id"]).values(comment_count=m.posts.c.comment_count - 1)
            )

    def see_less(self, viewer_id: str, post_id: str, note: str) -> None:
        with self.ctx.sessions.begin() as s:
            post = visible_post(s, viewer_id, post_id)
            added = cast(
                CursorResult[Any],
                s.execute(
                    upsert(
                        m.see_less,
                        dict(
                            user_id=viewer_id,
                            post_id=post_id,
                            author_user_id=post["author_user_id"],
                            note=(note or "")[:500],
                            created_at=utcnow(),
                        ),
                        ["user_id", "post_id"],
                        None,
                    )
                ),
            ).rowcount
            if added:
                s.execute(
                    update(m.posts).where(m.posts.c.id == post_id).values(see_less_count=m.posts.c.see_less_count + 1)
                )

    def report(self, viewer_id: str, post_id: str, reason: int, details: str) -> str:
        if reason not in feed_pb2.ReportReason.values() or reason == feed_pb2.REPORT_REASON_UNSPECIFIED:
            raise InvalidArgument("choose a report reason", "missing_report_reason")
        if len(details or "") > 2000:
            raise InvalidArgument("report details are limited to 2000 characters", "details_too_long")
        report_id = str(uuid.uuid4())
        with self.ctx.sessions.begin() as s:
            visible_post(s, viewer_id, post_id)
            s.execute(
                insert(m.reports).values(
                    id=report_id,
                    post_id=post_id,
                    reporter_user_id=viewer_id,
                    reason=reason,
                    details=details or "",
                    created_at=utcnow(),
                )
            )
            s.execute(update(m.posts).where(m.posts.c.id == post_id).values(report_count=m.posts.c.report_count + 1))
        return report_id

    def record_views(self, viewer_id: str, views: list[tuple[str, int, datetime | None]]) -> None:
        """Views of items the feed served; others are ignored (a view can't be claimed for an unserved item)."""
        if len(views) > 200:
            raise InvalidArgument("send at most 200 views at a time", "too_many_views")
        with self.ctx.sessions.begin() as s:
            for post_id, watch_ms, viewed_at in views:
                if watch_ms < 0:
                    raise InvalidArgument("watch_ms can't be negative", "invalid_watch_ms")
                sv = m.served.c
                done = cast(
                    CursorResult[Any],
                    s.execute(
                        update(m.served)
                        .where(sv.user_id == viewer_id, sv.post_id == post_id, sv.viewed_at.is_(None))
                        .values(viewed_at=viewed_at or utcnow(), watch_ms=min(watch_ms, 3_600_000))
                    ),
                )
                if done.rowcount:
                    s.execute(
                        update(m.posts)
                        .where(m.posts.c.id == post_id)
                        .values(
                            view_count=m.posts.c.view_count + 1, watch_ms=m.posts.c.watch_ms + min(watch_ms, 3_600_000)
                        )
                    )
