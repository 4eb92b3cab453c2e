"""A viewer's ranking kept between pages (services/feed/rankings.py): later pages come from it
without ranking again, with blocks and takedowns applied as they are now; it is ranked again
when what it was made from changes; and nothing is ever served twice, even when two replicas
(each with its own kept rankings) serve the same viewer in turn."""

from __future__ import annotations

from feed_harness import running_feed
from sqlalchemy import func, select, update

from kinora.feed.v1 import feed_pb2 as pb
from kinora.testing import LocalIssuer
from services.feed import models as m
from services.feed.common import TAKEN_DOWN, utcnow


def _reused(page) -> bool:
    """Whether the page came from a kept ranking (no time spent on candidates nor scoring)."""
    return page.timings.candidates_ms == 0 and page.timings.score_ms == 0


async def _world(h, authors: int = 6, posts_each: int = 5) -> tuple[str, list[str], dict[str, str]]:
    """A viewer following two of `authors` authors, each with `posts_each` public posts."""
    viewer = h.user("viewer")
    people = [h.user(f"author{k}") for k in range(authors)]
    for followee in people[:2]:
        await h.stub.Follow(pb.FollowRequest(user_id=followee), metadata=h.md(viewer))
    author_of = {}
    for k in range(posts_each):
        for a in people:
            author_of[(await h.post(a, f"video {k} by {a[:6]}: a walk in the park")).id] = a
    return viewer, people, author_of


async def test_later_pages_reuse_the_ranking_with_blocks_and_takedowns_applied_now(pg_url):
    async with running_feed(pg_url) as h:
        viewer, people, author_of = await _world(h)
        first = await h.feed_page(viewer, size=4)
        assert not _reused(first) and len(first.items) == 4
        shown = [i.post.id for i in first.items]

        # Between pages: the viewer blocks an author they had not seen yet, and a post is taken down.
        unseen = next(a for a in people[2:] if a not in {i.post.author_user_id for i in first.items})
        await h.stub.BlockUser(pb.BlockUserRequest(user_id=unseen), metadata=h.md(viewer))
        taken = next(p for p, a in author_of.items() if p not in shown and a in people[2:] and a != unseen)
        with h.ctx.sessions.begin() as s:
            s.execute(update(m.posts).where(m.posts.c.id == taken).values(state=TAKEN_DOWN, updated_at=utcnow()))

        pages = [first]
        while pages[-1].next_page_token:
            pages.append(await h.feed_page(viewer, size=4, token=pages[-1].next_page_token))
        later = [i for p in pages[1:] for i in p.items]
        assert _reused(pages[1])  # blocks are not part of what a ranking is made from
        shown += [i.post.id for i in later]
        assert len(shown) == len(set(shown))  # never twice
        assert unseen not in {i.post.author_user_id for i in later} and taken not in shown
        # Everything else was served, in the session's pages, and counted once each.
        assert set(shown) == {p for p, a in author_of.items() if a != unseen and p != taken}
        with h.ctx.sessions() as s:
            assert s.execute(
                select(m.feed_sessions.c.item_count).where(m.feed_sessions.c.id == first.session_id)
            ).scalar_one() == len(shown)
            assert s.execute(
                select(func.sum(m.daily_counts.c.item_count)).where(m.daily_counts.c.user_id == viewer)
            ).scalar_one() == len(shown)


async def test_ranked_again_when_follows_change_or_a_followee_publishes(pg_url):
    async with running_feed(pg_url) as h:
        viewer, people, _ = await _world(h)
        assert not _reused(await h.feed_page(viewer, size=3))
        assert _reused(await h.feed_page(viewer, size=3))
        # A followee publishes (through this replica: at once).
        fresh = await h.post(people[0], "just now: a walk on the beach")
        page = await h.feed_page(viewer, size=3)
        assert not _reused(page) and fresh.id in {i.post.id for i in page.items}
        assert _reused(await h.feed_page(viewer, size=3))
        # Someone not followed publishes: that waits for the ranking's time to live.
        await h.post(people[4], "a stranger's new video")
        assert _reused(await h.feed_page(viewer, size=3))
        # The viewer follows someone new.
        await h.stub.Follow(pb.FollowRequest(user_id=people[3]), metadata=h.md(viewer))
        assert not _reused(await h.feed_page(viewer, size=3))
        # Stated preferences change.
        assert _reused(await h.feed_page(viewer, size=3))
        await h.stub.SetFeedPreferences(pb.SetFeedPreferencesRequest(text="more beaches"), metadata=h.md(viewer))
        assert not _reused(await h.feed_page(viewer, size=3))


async def test_a_page_past_the_kept_part_is_ranked_from_everything(pg_url):
    """With 2 kept per pool, a page of 3 looks past the kept part: it is ranked again, and the
    pages are those of a viewer whose every page is ranked from every candidate."""
    async with running_feed(pg_url) as h:
        viewer, _, author_of = await _world(h)
        twin = h.user("twin")
        with h.ctx.sessions.begin() as s:  # the same follows as the viewer
            for followee in (
                s.execute(select(m.follows.c.followee_id).where(m.follows.c.follower_id == viewer)).scalars().all()
            ):
                s.execute(m.follows.insert().values(follower_id=twin, followee_id=followee, created_at=utcnow()))
        h.feed.assembler.keep_per_pool = 2
        ours, theirs = [], []
        for _ in range(4):
            ours += [i.post.id for i in (await h.feed_page(viewer, size=3)).items]
            h.feed.assembler.rankings.drop(twin)  # the twin's pages are always ranked from everything
            theirs += [i.post.id for i in (await h.feed_page(twin, size=3)).items]
        assert ours == theirs and len(set(ours)) == 12


async def test_two_replicas_never_serve_an_item_twice(pg_url):
    issuer = LocalIssuer()
    async with running_feed(pg_url, issuer=issuer) as a, running_feed(pg_url, issuer=issuer) as b:
        viewer, _, author_of = await _world(a)
        b.tokens.update(a.tokens)
        with b.ctx.sessions() as s:  # b learns of a's posts (its next refresh would bring them)
            b.feed.recent.refresh(s, force=True)
        shown: list[str] = []
        pages = []
        for k in range(24):  # each replica keeps its own ranking; both serve the viewer, in turn
            page = await (a, b)[k % 2].feed_page(viewer, size=4)
            pages.append(page)
            shown += [i.post.id for i in page.items]
            if not pages[-1].items and (k == 0 or not pages[-2].items):
                break
        assert _reused(pages[2]) and _reused(pages[3])  # each replica's later pages from its kept ranking
        assert len(shown) == len(set(shown)) == len(author_of)  # all served, none twice
        with a.ctx.sessions() as s:
            assert s.execute(
                select(func.count()).select_from(m.served).where(m.served.c.user_id == viewer)
            ).scalar_one() == len(shown)
            assert s.execute(
                select(func.sum(m.daily_counts.c.item_count)).where(m.daily_counts.c.user_id == viewer)
            ).scalar_one() == len(shown)
