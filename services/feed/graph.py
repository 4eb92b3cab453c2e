"""The social graph: follows and blocks, the events they send (FollowChanged,
BlockChanged) and the people lists (followers, following, mutuals)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from kinora.feed.v1 import events_pb2
from kinora.runtime.convert import set_timestamp
from kinora.runtime.errors import FailedPrecondition, InvalidArgument
from kinora.runtime.events import emit
from services.feed import models as m
from services.feed.common import FeedContext, utcnow
from services.feed.topics import GRAPH_TOPIC, USER_AGGREGATE


def follows(s: Session, a: str, b: str) -> bool:
    """Whether `a` follows `b`."""
    return (
        s.execute(
            select(func.count())
            .select_from(m.follows)
            .where(m.follows.c.follower_id == a, m.follows.c.followee_id == b)
        ).scalar_one()
        > 0
    )


def blocked_between(s: Session, a: str, b: str) -> bool:
    """Whether either blocked the other."""
    bl = m.blocks.c
    return (
        s.execute(
            select(func.count())
            .select_from(m.blocks)
            .where(or_(and_(bl.blocker_id == a, bl.blocked_id == b), and_(bl.blocker_id == b, bl.blocked_id == a)))
        ).scalar_one()
        > 0
    )


def _require_other(viewer_id: str, other_id: str, verb: str) -> None:
    if not other_id:
        raise InvalidArgument(f"say whom to {verb} (user_id)", "missing_user_id")
    if other_id == viewer_id:
        raise InvalidArgument(f"you can't {verb} yourself", f"cannot_{verb}_self")


class Graph:
    def __init__(self, ctx: FeedContext):
        self.ctx = ctx

    def _emit_follow(self, s: Session, follower: str, followee: str, following: bool) -> bool:
        back = follows(s, followee, follower)
        event = events_pb2.FollowChanged(
            follower_user_id=follower, followee_user_id=followee, following=following, followed_back=back
        )
        set_timestamp(event.occurred_at, utcnow())
        emit(s, self.ctx.tables, GRAPH_TOPIC, event, USER_AGGREGATE, follower)
        return back

    def follow(self, viewer_id: str, user_id: str) -> bool:
        _require_other(viewer_id, user_id, "follow")
        with self.ctx.sessions.begin() as s:
            if blocked_between(s, viewer_id, user_id):
                raise FailedPrecondition("you can't follow this account", "blocked")
            if follows(s, viewer_id, user_id):
                return follows(s, user_id, viewer_id)  # already following: nothing changes
            s.execute(insert(m.follows).values(follower_id=viewer_id, followee_id=user_id, created_at=utcnow()))
            mutual = self._emit_follow(s, viewer_id, user_id, True)
        self.ctx.on_events()
        return mutual

    def unfollow(self, viewer_id: str, user_id: str) -> None:
        _require_other(viewer_id, user_id, "unfollow")
        with self.ctx.sessions.begin() as s:
            gone = cast(
                CursorResult[Any],
                s.execute(
                    delete(m.follows).where(m.follows.c.follower_id == viewer_id, m.follows.c.followee_id == user_id)
                ),
            ).rowcount
            if gone:
                self._emit_follow(s, viewer_id, user_id, False)
        self.ctx.on_events()

    def block(self, viewer_id: str, user_id: str) -> None:
        _require_other(viewer_id, user_id, "block")
        with self.ctx.sessions.begin() as s:
            exists = s.execute(
                select(func.count())
                .select_from(m.blocks)
                .where(m.blocks.c.blocker_id == viewer_id, m.blocks.c.blocked_id == user_id)
            ).scalar_one()
            if exists:
                return
            s.execute(insert(m.blocks).values(blocker_id=viewer_id, blocked_id=user_id, created_at=utcnow()))
            # A block ends following both ways.
            f = m.follows.c
            for a, b in ((viewer_id, user_id), (user_id, viewer_id)):
                if cast(
                    CursorResult[Any], s.execute(delete(m.follows).where(f.follower_id == a, f.followee_id == b))
                ).rowcount:
                    self._emit_follow(s, a, b, False)
            event = events_pb2.BlockChanged(blocker_user_id=viewer_id, blocked_user_id=user_id, blocked=True)
            set_timestamp(event.occurred_at, utcnow())
            emit(s, self.ctx.tables, GRAPH_TOPIC, event, USER_AGGREGATE, viewer_id)
        self.ctx.on_events()

    def unblock(self, viewer_id: str, user_id: str) -> None:
        _require_other(viewer_id, user_id, "unblock")
        with self.ctx.sessions.begin() as s:
            gone = cast(
                CursorResult[Any],
                s.execute(delete(m.blocks).where(m.blocks.c.blocker_id == viewer_id, m.blocks.c.blocked_id == user_id)),
            ).rowcount
            if gone:
                event = events_pb2.BlockChanged(blocker_user_id=viewer_id, blocked_user_id=user_id, blocked=False)
                set_timestamp(event.occurred_at, utcnow())
                emit(s, self.ctx.tables, GRAPH_TOPIC, event, USER_AGGREGATE, viewer_id)
        self.ctx.on_events()

    def list_people(
        self, viewer_id: str, user_id: str, which: str, page_size: int, token: str
    ) -> tuple[list[dict[str, Any]], str]:
        """which: followers | following | mutuals."""
        user_id = user_id or viewer_id
        scope = f"{which}:{user_id}"
        offset, size = self.ctx.offset(token, viewer_id, scope), self.ctx.page_size(page_size)
        f, back_table = m.follows.c, m.follows.alias("back")
        back, u = back_table.c, m.users.c
        other = f.follower_id if which == "followers" else f.followee_id
        q = select(other.label("uid"), f.created_at, u.handle).select_from(m.follows).outerjoin(m.users, u.id == other)
        if which == "followers":
            q = q.where(f.followee_id == user_id)
        else:
            q = q.where(f.follower_id == user_id)
            if which == "mutuals":
                q = q.join(back_table, and_(back.follower_id == f.followee_id, back.followee_id == user_id))
        q = q.order_by(f.created_at.desc(), other).offset(offset).limit(size + 1)
        with self.ctx.sessions() as s:
            rows = [dict(r) for r in s.execute(q).mappings()]
        return rows[:size], self.ctx.next_token(rows, size, offset, viewer_id, scope)
