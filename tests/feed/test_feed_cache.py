"""The shared candidate sources held in memory: trending lists for every region from one
statement, and `PostFactsCache`, which lets a request rank trending and preference
candidates without reading their rows. Facts may be seconds old; what makes a post
servable is checked again on the rows when the page is recorded."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
from feed_harness import running_feed
from sqlalchemy import select, update

from kinora.feed.v1 import feed_pb2 as pb
from services.feed import models as m
from services.feed.common import FOLLOWERS, TAKEN_DOWN, utcnow
from services.feed.indexes import PreferenceIndex
from services.feed.ranking import ViewerContext


def _set(h, post_id: str, **values) -> None:
    """Change a post in the database only, as another replica of the feed would."""
    with h.ctx.sessions.begin() as s:
        s.execute(update(m.posts).where(m.posts.c.id == post_id).values(**values))


async def test_trending_lists_every_region_from_one_statement(pg_url):
    async with running_feed(pg_url) as h:
        us, fr = h.user("us_author", region="US"), h.user("fr_author", region="FR")
        likes = {}
        for author, n in ((us, 4), (fr, 3)):
            for k in range(n):
                post = await h.post(author, f"video {k} of {n}")
                likes[post.id] = 10 * k + n
                _set(h, post.id, like_count=likes[post.id])
        hidden = [
            await h.post(us, "for followers", visibility=pb.VISIBILITY_FOLLOWERS),
            await h.post(us, "private", visibility=pb.VISIBILITY_PRIVATE),
        ]
        old = await h.post(fr, "last month")
        _set(h, old.id, created_at=utcnow() - timedelta(days=30), like_count=1000)

        with h.ctx.sessions() as s:
            lists = {r: h.feed.trending.get(s, r, days=7, limit=3) for r in ("US", "FR", "", "JP")}
        hottest = sorted(likes, key=likes.get, reverse=True)
        assert lists["US"] == [i for i in hottest if i in _posts_of(h, us)][:3]
        assert lists["FR"] == [i for i in hottest if i in _posts_of(h, fr)]
        assert lists[""] == hottest[:3]  # users without a region: the overall list
        assert lists["JP"] == []
        assert not set().union(*map(set, lists.values())) & {hidden[0].id, hidden[1].id, old.id}
        # Each recomputation reads the listed posts' facts for every request to use.
        held, _, authors, _, missing = h.feed.facts.lookup(dict.fromkeys(hottest, 0))
        assert set(held) == set(lists["US"]) | set(lists["FR"]) | set(lists[""]) and len(authors) == len(held)


def _posts_of(h, author: str) -> set[str]:
    with h.ctx.sessions() as s:
        return set(
            s.execute(
                m.posts.select().with_only_columns(m.posts.c.id).where(m.posts.c.author_user_id == author)
            ).scalars()
        )


async def test_candidates_from_held_facts_match_a_cold_read(pg_url):
    async with running_feed(pg_url) as h:
        viewer = h.user("viewer")
        followee = h.user("followee")
        await h.stub.Follow(pb.FollowRequest(user_id=followee), metadata=h.md(viewer))
        for k in range(4):
            await h.post(followee, f"followed video {k}")
        for k in range(6):
            post = await h.post(h.user(f"someone{k}"), f"public video {k}")
            _set(h, post.id, like_count=k, remix_count=k % 2, report_count=int(k == 3))
        now = utcnow()

        def candidates():
            with h.ctx.sessions.begin() as s:
                user, state = h.feed.assembler._viewer_state(s, viewer, "", None, str(uuid.uuid4()), now.date())
                batch, _, _ = h.feed.assembler._candidates(s, user, ViewerContext(viewer, now.timestamp()), True, state)
            order = np.argsort(batch.post_ids)
            return (
                [batch.post_ids[i] for i in order],
                batch.sources[order].tolist(),
                {k: v[order].tolist() for k, v in batch.features.items()},
                batch.created_ts[order].tolist(),
            )

        ttl = h.feed.facts.ttl_s
        h.feed.facts.ttl_s = 0.0  # nothing held: every trending and preference candidate is read
        cold = candidates()
        h.feed.facts.ttl_s = ttl
        with h.ctx.sessions() as s:
            h.feed.trending._compute(s, 7.0, 300)  # reads their facts into the cache
        held, _, _, _, _ = h.feed.facts.lookup(dict.fromkeys(cold[0], 0))
        assert len(held) == 10  # all are trending; the followee's 4 are still followed
        assert candidates() == cold
        assert sorted(cold[1]) == [pb.CANDIDATE_SOURCE_FOLLOWING] * 4 + [pb.CANDIDATE_SOURCE_TRENDING_REGION] * 6


async def test_held_facts_never_serve_what_is_no_longer_servable(pg_url):
    async with running_feed(pg_url) as h:
        posts, authors = {}, {}
        for name in ("taken_down", "followers_only", "reported", "fine"):
            authors[name] = h.user(f"author_{name}")
            posts[name] = (await h.post(authors[name], f"a video: {name}")).id
        first = await h.feed_page(h.user("first"), size=10)
        assert {i.post.id for i in first.items} == set(posts.values())
        held, _, _, _, _ = h.feed.facts.lookup(dict.fromkeys(posts.values(), 0))
        assert set(held) == set(posts.values())

        # Changed behind this replica's back: its facts still say all four are public and fine.
        _set(h, posts["taken_down"], state=TAKEN_DOWN)
        _set(h, posts["followers_only"], visibility=FOLLOWERS)
        _set(h, posts["reported"], report_count=1)
        adult = await h.feed_page(h.user("adult"), size=10)
        assert {i.post.id for i in adult.items} == {posts["reported"], posts["fine"]}
        teen = await h.feed_page(h.user("teen", teen=True), size=10)
        assert [i.post.id for i in teen.items] == [posts["fine"]]
        # What a page statement turned away is forgotten, so the next request reads it again.
        _, _, _, _, missing = h.feed.facts.lookup(dict.fromkeys([posts["taken_down"], posts["followers_only"]], 0))
        assert set(missing) == {posts["taken_down"], posts["followers_only"]}
        # The author's followers still get the followers-only post (from the followed source).
        follower = h.user("follower")
        await h.stub.Follow(pb.FollowRequest(user_id=authors["followers_only"]), metadata=h.md(follower))
        page = await h.feed_page(follower, size=10)
        assert {i.post.id for i in page.items} == {posts["followers_only"], posts["reported"], posts["fine"]}


async def test_embeddings_outside_the_index_are_read_once(pg_url):
    async with running_feed(pg_url) as h:
        viewer, author = h.user("viewer"), h.user("author")
        await h.stub.Follow(pb.FollowRequest(user_id=author), metadata=h.md(viewer))
        await h.stub.SetFeedPreferences(pb.SetFeedPreferencesRequest(text="more cooking"), metadata=h.md(viewer))
        posts = [(await h.post(author, f"cooking video {k}")).id for k in range(4)]
        index = h.feed.assembler.prefs_index = PreferenceIndex(capacity=2)  # holds the newest two only
        with h.ctx.sessions() as s:
            index.refresh(s, force=True)
            stored = dict(s.execute(select(m.posts.c.id, m.posts.c.embedding)).all())
        reads = []
        remember = index.remember
        index.remember = lambda rows: (reads.append([r[0] for r in rows]), remember(rows))

        def embeddings() -> dict[str, bytes]:
            with h.ctx.sessions.begin() as s:
                user, state = h.feed.assembler._viewer_state(s, viewer, "", None, str(uuid.uuid4()), utcnow().date())
                viewer_context = ViewerContext(viewer, utcnow().timestamp())
                batch, _, _ = h.feed.assembler._candidates(s, user, viewer_context, True, state)
            return {i: batch.embeddings[k].tobytes() for k, i in enumerate(batch.post_ids)}

        first = embeddings()
        assert {i: first[i] for i in posts} == {i: stored[i] for i in posts}
        assert [sorted(r) for r in reads] == [sorted(posts[:2])]  # the two oldest, outside the index, read once
        assert embeddings() == first and len(reads) == 1  # then remembered
