"""GetFeed's PostgreSQL hot path: the viewer's state in one statement (blocks
both ways, followees and mutuals, "see less", the session's owner and count),
the page and its bookkeeping in one more; and followees' newest posts from
memory (`RecentByAuthor`), kept current with what other replicas change."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import numpy as np
import pytest
from feed_harness import running_feed
from sqlalchemy import select, update

from kinora.feed.v1 import feed_pb2 as pb
from services.feed import models as m
from services.feed.common import S_FOLLOWING, S_MUTUALS, UNPUBLISHED, utcnow
from services.feed.ranking import ViewerContext


async def test_viewer_state_sessions_and_bookkeeping(pg_url):
    async with running_feed(pg_url) as h:
        viewer, blocker, blocked, dull = h.user("viewer"), h.user("blocker"), h.user("blocked"), h.user("dull")
        await h.stub.BlockUser(pb.BlockUserRequest(user_id=viewer), metadata=h.md(blocker))
        await h.stub.BlockUser(pb.BlockUserRequest(user_id=blocked), metadata=h.md(viewer))
        boring = await h.post(dull, "a slow video of paint drying")
        for author in (blocker, blocked, dull, h.user("fun")):
            for i in range(3):
                await h.post(author, f"video {i}: a walk in the park")
        await h.stub.SeeLess(pb.SeeLessRequest(post_id=boring.id, note="boring"), metadata=h.md(viewer))

        today = utcnow().date()
        with h.ctx.sessions.begin() as s:
            user, state = h.feed.assembler._viewer_state(s, viewer, "viewer", False, str(uuid.uuid4()), today)
        assert user["id"] == viewer and user["handle"] == "viewer"
        assert state.blocked == {blocker, blocked} and state.session_owner is None
        assert state.session_items == 0 and state.served_today == 0
        assert state.see_less_authors == {dull} and state.see_less_vectors.shape == (1, 384)

        page = await h.feed_page(viewer, size=4)
        authors = {i.post.author_user_id for i in page.items}
        assert len(page.items) == 4 and not authors & {blocker, blocked}
        with h.ctx.sessions() as s:  # served, today's count and the session, recorded with the page
            served = set(s.execute(select(m.served.c.post_id).where(m.served.c.user_id == viewer)).scalars())
            assert served == {i.post.id for i in page.items}
            assert (
                s.execute(select(m.daily_counts.c.item_count).where(m.daily_counts.c.user_id == viewer)).scalar_one()
                == 4
            )
            assert s.execute(
                select(m.feed_sessions.c.item_count, m.feed_sessions.c.user_id).where(
                    m.feed_sessions.c.id == page.session_id
                )
            ).one() == (4, viewer)
        nxt = await h.feed_page(viewer, size=4, token=page.next_page_token)
        assert not {i.post.id for i in nxt.items} & served
        with h.ctx.sessions() as s:
            assert s.execute(
                select(m.feed_sessions.c.item_count).where(m.feed_sessions.c.id == page.session_id)
            ).scalar_one() == 4 + len(nxt.items)

        # Another user's session is refused; a user the feed has never heard of is created on first contact.
        other = h.user("other")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await h.feed_page(other, session_id=page.session_id)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "session_id" in err.value.details()
        newcomer = str(uuid.uuid4())
        h.tokens[newcomer] = h.issuer.token(newcomer, "newcomer")
        first = await h.feed_page(newcomer, size=3)
        assert len(first.items) == 3
        with h.ctx.sessions() as s:
            assert s.execute(select(m.users.c.handle).where(m.users.c.id == newcomer)).scalar_one() == "newcomer"


def _followed(h, viewer: str) -> dict[str, int]:
    """The followed candidates of `viewer` (id -> source), as GetFeed computes them."""
    with h.ctx.sessions.begin() as s:
        user, state = h.feed.assembler._viewer_state(s, viewer, "", None, str(uuid.uuid4()), utcnow().date())
        batch, _, _ = h.feed.assembler._candidates(s, user, ViewerContext(viewer, utcnow().timestamp()), True, state)
    return {
        batch.post_ids[i]: int(batch.sources[i])
        for i in np.flatnonzero(np.isin(batch.sources, [S_FOLLOWING, S_MUTUALS]))
    }


async def test_followed_posts_come_from_memory_and_follow_changes(pg_url):
    """The newest `limit` posts of the viewer's followees in the window, from `RecentByAuthor`:
    what another replica changed arrives with the next refresh, what this one publishes at once."""
    async with running_feed(pg_url, KINORA_FEED_CANDIDATES_PER_SOURCE=5) as h:
        viewer = h.user("viewer")
        followees = [h.user(f"f{i}") for i in range(3)]
        for f in followees:
            await h.stub.Follow(pb.FollowRequest(user_id=f), metadata=h.md(viewer))
        await h.stub.Follow(pb.FollowRequest(user_id=viewer), metadata=h.md(followees[0]))  # a mutual
        ages = {}
        rng = np.random.default_rng(7)
        for k in range(12):
            post = await h.post(
                followees[k % 3], f"video {k}", visibility=pb.VISIBILITY_FOLLOWERS if k == 4 else pb.VISIBILITY_PUBLIC
            )
            ages[post.id] = timedelta(hours=float(rng.uniform(0.1, 60)))
        old = await h.post(followees[0], "an old video")
        ages[old.id] = timedelta(days=40)  # outside the 28-day window
        private = await h.post(followees[1], "just for me", visibility=pb.VISIBILITY_PRIVATE)
        author_of = {}
        now = utcnow()
        with h.ctx.sessions.begin() as s:  # as another replica would change them
            for post_id, age in ages.items():
                s.execute(update(m.posts).where(m.posts.c.id == post_id).values(created_at=now - age, updated_at=now))
            author_of = dict(s.execute(select(m.posts.c.id, m.posts.c.author_user_id)).all())
        with h.ctx.sessions() as s:
            h.feed.recent.refresh(s, force=True)
        newest = sorted(ages, key=ages.get)
        followed = _followed(h, viewer)
        assert set(followed) == set(newest[:5]) and private.id not in followed
        assert all((source == S_MUTUALS) == (author_of[i] == followees[0]) for i, source in followed.items())

        # Unpublished elsewhere: gone after the next refresh, and the next newest takes its place.
        with h.ctx.sessions.begin() as s:
            s.execute(update(m.posts).where(m.posts.c.id == newest[0]).values(state=UNPUBLISHED, updated_at=utcnow()))
        with h.ctx.sessions() as s:
            h.feed.recent.refresh(s, force=True)
        assert set(_followed(h, viewer)) == set(newest[1:6])
        # Published here: a candidate at once, with no refresh.
        fresh = await h.post(followees[2], "just now")
        assert set(_followed(h, viewer)) == {fresh.id, *newest[1:5]}


async def test_a_full_list_refills_when_a_post_leaves_it(pg_url):
    """An author with more posts than the list holds: when one of the listed posts is removed
    elsewhere, the next refresh brings in the one just beyond the list."""
    async with running_feed(pg_url, KINORA_FEED_CANDIDATES_PER_SOURCE=3) as h:
        viewer, author = h.user("viewer"), h.user("prolific")
        await h.stub.Follow(pb.FollowRequest(user_id=author), metadata=h.md(viewer))
        posts = [(await h.post(author, f"video {k}")).id for k in range(5)]  # newest last
        with h.ctx.sessions() as s:
            h.feed.recent.refresh(s, force=True)
        assert set(_followed(h, viewer)) == set(posts[2:])
        with h.ctx.sessions.begin() as s:  # taken down by another replica
            s.execute(update(m.posts).where(m.posts.c.id == posts[3]).values(state=UNPUBLISHED, updated_at=utcnow()))
        with h.ctx.sessions() as s:
            h.feed.recent.refresh(s, force=True)
        assert set(_followed(h, viewer)) == {posts[1], posts[2], posts[4]}
