"""A deleted account leaves the feed (identity's UserDeleted): its posts and
drafts (the feed's copy of its generations), its comments, likes, "see less"
notes, reports, follows both ways, blocks both ways, what it was served, its
counters and stated preferences, and the feed's copy of the user. Counters on
other people's posts lose what the person added to them. No events are sent:
cameo and the other services erase the person on UserDeleted themselves."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from services.feed.models import (
    blocks,
    comments,
    daily_counts,
    feed_sessions,
    follows,
    generations,
    likes,
    posts,
    reports,
    see_less,
    served,
    users,
)


def _uncount(s: Session, table, who, counter) -> None:
    """Takes the person's rows in `table` off `counter` of the posts they were on."""
    per_post = s.execute(select(table.c.post_id, func.count()).where(who).group_by(table.c.post_id)).all()
    for post_id, n in per_post:
        s.execute(
            update(posts)
            .where(posts.c.id == post_id)
            .values({counter: func.greatest(getattr(posts.c, counter) - n, 0)})
        )


def forget_user(s: Session, user_id: str) -> int:
    """Erases the person; returns how many of their posts went. Idempotent."""
    own = select(posts.c.id).where(posts.c.author_user_id == user_id)
    _uncount(s, likes, likes.c.user_id == user_id, "like_count")
    _uncount(s, comments, comments.c.author_user_id == user_id, "comment_count")
    _uncount(s, see_less, see_less.c.user_id == user_id, "see_less_count")
    _uncount(s, reports, reports.c.reporter_user_id == user_id, "report_count")
    s.execute(delete(likes).where(or_(likes.c.user_id == user_id, likes.c.post_id.in_(own))))
    s.execute(delete(comments).where(or_(comments.c.author_user_id == user_id, comments.c.post_id.in_(own))))
    s.execute(
        delete(see_less).where(
            or_(see_less.c.user_id == user_id, see_less.c.author_user_id == user_id, see_less.c.post_id.in_(own))
        )
    )
    s.execute(delete(reports).where(or_(reports.c.reporter_user_id == user_id, reports.c.post_id.in_(own))))
    s.execute(delete(served).where(or_(served.c.user_id == user_id, served.c.post_id.in_(own))))
    s.execute(delete(daily_counts).where(daily_counts.c.user_id == user_id))
    s.execute(delete(feed_sessions).where(feed_sessions.c.user_id == user_id))
    s.execute(delete(follows).where(or_(follows.c.follower_id == user_id, follows.c.followee_id == user_id)))
    s.execute(delete(blocks).where(or_(blocks.c.blocker_id == user_id, blocks.c.blocked_id == user_id)))
    gone = s.execute(delete(posts).where(posts.c.author_user_id == user_id)).rowcount
    s.execute(delete(generations).where(generations.c.user_id == user_id))
    s.execute(delete(users).where(users.c.id == user_id))
    return gone
