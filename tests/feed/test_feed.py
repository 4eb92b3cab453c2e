"""Feed service over real gRPC on PostgreSQL: posts, ranking rules, parental
limits, remix lineage, steerable preferences, bad input, takedowns."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from feed_harness import running_feed
from prometheus_client import REGISTRY

from kinora.feed.v1 import events_pb2 as ev
from kinora.feed.v1 import feed_pb2 as pb
from services.feed.ranking import CreationScorer

S = pb.CandidateSource
CONNECTED = {S.CANDIDATE_SOURCE_FOLLOWING, S.CANDIDATE_SOURCE_MUTUALS, S.CANDIDATE_SOURCE_REMIXES}


async def expect_error(code, coro, contains: str = ""):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await coro
    assert err.value.code() == code, err.value.details()
    assert contains.lower() in err.value.details().lower()
    return err.value


async def test_publish_rules_and_bad_input(pg_url):
    async with running_feed(pg_url) as h:
        alice, bob = h.user("alice"), h.user("bob")
        gen = h.completed(alice, "a cat baking bread")
        failed = h.completed(alice, "a dog surfing", status="failed")
        publish = h.stub.PublishPost

        await expect_error(
            grpc.StatusCode.PERMISSION_DENIED,
            publish(pb.PublishPostRequest(generation_id=gen), metadata=h.md(bob)),
            "your own",
        )
        await expect_error(
            grpc.StatusCode.FAILED_PRECONDITION,
            publish(pb.PublishPostRequest(generation_id=failed), metadata=h.md(alice)),
            "failed",
        )
        await expect_error(
            grpc.StatusCode.NOT_FOUND, publish(pb.PublishPostRequest(generation_id="gen_nope"), metadata=h.md(alice))
        )
        post = (
            await publish(
                pb.PublishPostRequest(generation_id=gen, caption="bread day", visibility=pb.VISIBILITY_FOLLOWERS),
                metadata=h.md(alice),
            )
        ).post
        assert post.state == pb.POST_STATE_PUBLISHED and post.author_handle == "alice"
        await expect_error(
            grpc.StatusCode.ALREADY_EXISTS, publish(pb.PublishPostRequest(generation_id=gen), metadata=h.md(alice))
        )
        await expect_error(
            grpc.StatusCode.NOT_FOUND,
            h.stub.GetPost(pb.GetPostRequest(post_id="4f1c6a0e-0000-4000-8000-000000000000"), metadata=h.md(bob)),
        )
        # Followers-only: bob sees it only once he follows alice.
        await expect_error(
            grpc.StatusCode.NOT_FOUND, h.stub.GetPost(pb.GetPostRequest(post_id=post.id), metadata=h.md(bob))
        )
        await h.stub.Follow(pb.FollowRequest(user_id=alice), metadata=h.md(bob))
        seen = await h.stub.GetPost(pb.GetPostRequest(post_id=post.id), metadata=h.md(bob))
        assert seen.post.caption == "bread day"

        # Unpublish makes it a draft; nobody else sees a draft.
        await h.stub.UnpublishPost(pb.UnpublishPostRequest(post_id=post.id), metadata=h.md(alice))
        await expect_error(
            grpc.StatusCode.NOT_FOUND, h.stub.GetPost(pb.GetPostRequest(post_id=post.id), metadata=h.md(bob))
        )
        mine = await h.stub.ListUserPosts(pb.ListUserPostsRequest(), metadata=h.md(alice))
        assert [p.state for p in mine.posts] == [pb.POST_STATE_UNPUBLISHED]

        # Comments are moderated; a refusal stores nothing.
        await h.stub.PublishPost(pb.PublishPostRequest(generation_id=gen), metadata=h.md(alice))
        await expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            h.stub.CreateComment(
                pb.CreateCommentRequest(post_id=post.id, text="nobody likes you, go die"), metadata=h.md(bob)
            ),
            "harassment",
        )
        ok = await h.stub.CreateComment(
            pb.CreateCommentRequest(post_id=post.id, text="the crust looks perfect"), metadata=h.md(bob)
        )
        listed = await h.stub.ListComments(pb.ListCommentsRequest(post_id=post.id), metadata=h.md(alice))
        assert [c.id for c in listed.comments] == [ok.comment.id]

        # Tampered and borrowed cursors are refused.
        page = await h.feed_page(bob, size=1)
        assert page.next_page_token
        body, mac = page.next_page_token.split(".")
        tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
        await expect_error(grpc.StatusCode.INVALID_ARGUMENT, h.feed_page(bob, token=tampered), "page_token")
        await expect_error(
            grpc.StatusCode.INVALID_ARGUMENT, h.feed_page(alice, token=page.next_page_token), "page_token"
        )
        await expect_error(grpc.StatusCode.INVALID_ARGUMENT, h.feed_page(bob, token="garbage"), "page_token")

        # Graph events for cameo are in the outbox with the state change.
        mutual = await h.stub.Follow(pb.FollowRequest(user_id=bob), metadata=h.md(alice))
        assert mutual.mutual
        mutuals = await h.stub.ListMutuals(pb.ListMutualsRequest(), metadata=h.md(bob))
        assert [u.handle for u in mutuals.users] == ["alice"]
        with h.ctx.engine.connect() as c:
            types = [
                r[0]
                for r in c.execute(h.ctx.tables.outbox.select().with_only_columns(h.ctx.tables.outbox.c.event_type))
            ]
        assert "kinora.feed.v1.FollowChanged" in types and "kinora.feed.v1.PostPublished" in types


async def test_ranking_rules(pg_url):
    async with running_feed(pg_url, KINORA_FEED_NUDGE_AFTER=8) as h:
        viewer = h.user("viewer")
        friends = [h.user(f"friend{i}") for i in range(3)]
        strangers = [h.user(f"stranger{i}") for i in range(3)]
        blocked = h.user("blocked")
        for f in friends:
            await h.stub.Follow(pb.FollowRequest(user_id=f), metadata=h.md(viewer))
        await h.stub.Follow(pb.FollowRequest(user_id=viewer), metadata=h.md(friends[0]))  # a mutual
        posts = {}
        for author in friends + strangers + [blocked]:
            for i in range(4):
                p = await h.post(author, f"video {i} by {author[:4]}: a walk in the park")
                posts[p.id] = author
        # Strangers' posts are hot (global), yet connected content should lead.
        for p_id, author in posts.items():
            if author in strangers:
                for f in friends:
                    await h.stub.LikePost(pb.LikePostRequest(post_id=p_id), metadata=h.md(f))
        await h.stub.BlockUser(pb.BlockUserRequest(user_id=blocked), metadata=h.md(viewer))
        # A takedown of one friend's post (cameo TakedownRequested, via the feed's handler).
        from kinora.cameo.v1 import events_pb2 as cameo_ev
        from services.feed import handlers

        taken = next(p for p, a in posts.items() if a == friends[1])
        with h.ctx.sessions.begin() as s:
            handlers.takedown_requested(h.feed)(
                s,
                cameo_ev.TakedownRequested(
                    takedown_id="td1", target_kind=cameo_ev.TAKEDOWN_TARGET_KIND_POST, target_ids=[taken]
                ),
                None,
            )

        page = await h.feed_page(viewer, size=6)
        items = page.items
        assert len(items) == 6
        assert items[0].source in CONNECTED and items[1].source in CONNECTED
        connected = sum(i.source in CONNECTED for i in items)
        assert connected >= 0.6 * len(items) - 1e-9
        assert all(i.reason for i in items)
        mutual_items = [i for i in items if i.post.author_user_id == friends[0]]
        assert mutual_items and all(i.source == S.CANDIDATE_SOURCE_MUTUALS for i in mutual_items)
        assert "follow each other" in mutual_items[0].reason
        authors = [i.post.author_user_id for i in items]
        assert max(authors.count(a) for a in authors) <= 2  # author diversity
        assert all(a != b for a, b in zip(authors, authors[1:]))  # never the same author twice in a row
        seen = {i.post.id for i in items}
        assert blocked not in authors and taken not in seen

        page2 = await h.feed_page(viewer, size=6, token=page.next_page_token)
        assert page2.session_id == page.session_id
        assert not seen & {i.post.id for i in page2.items}  # no repeats
        assert blocked not in {i.post.author_user_id for i in page2.items}
        assert taken not in {i.post.id for i in page2.items}
        assert page2.nudge and "make one" in page2.nudge  # 12 items >= 8 in this session
        assert not page.nudge
        # The taken-down post is gone for its author too.
        await expect_error(
            grpc.StatusCode.NOT_FOUND, h.stub.GetPost(pb.GetPostRequest(post_id=taken), metadata=h.md(friends[1]))
        )


class BrokenScorer(CreationScorer):
    """Fails like a scorer whose model is down."""

    def score(self, candidates, viewer):
        raise RuntimeError("model unavailable")


def fallback_count() -> float:
    return REGISTRY.get_sample_value("kinora_feed_fallback_total") or 0.0


async def test_scorer_failure_serves_reverse_chronological_and_is_counted(pg_url):
    async with running_feed(pg_url, scorer=BrokenScorer()) as h:
        viewer, a, b = h.user("viewer"), h.user("a"), h.user("b")
        for i in range(3):
            await h.post(a, f"a {i}")
            await h.post(b, f"b {i}")
        before = fallback_count()
        page = await h.feed_page(viewer, size=4)
        assert page.fallback and fallback_count() == before + 1
        times = [i.post.created_at.ToDatetime() for i in page.items]
        assert len(times) == 4 and times == sorted(times, reverse=True)
        assert all(i.source == S.CANDIDATE_SOURCE_RECENT for i in page.items)


async def test_parental_cap_and_non_personalized(pg_url):
    from kinora.identity.v1 import events_pb2 as id_ev
    from kinora.identity.v1 import identity_pb2
    from services.feed import handlers

    async with running_feed(pg_url) as h:
        teen = h.user("teen", teen=True)
        friend = h.user("friend")
        await h.stub.Follow(pb.FollowRequest(user_id=friend), metadata=h.md(teen))
        for i in range(3):
            await h.post(friend, f"friend video {i}")
            await h.post(h.user(f"other{i}"), f"other video {i}")
        reported = await h.post(h.user("edgy"), "a prank video")
        await h.stub.ReportPost(
            pb.ReportPostRequest(post_id=reported.id, reason=pb.REPORT_REASON_HARASSMENT), metadata=h.md(friend)
        )
        with h.ctx.sessions.begin() as s:
            handlers.parental_controls_changed(h.feed)(
                s,
                id_ev.ParentalControlsChanged(
                    teen_user_id=teen,
                    controls=identity_pb2.ParentalControls(daily_feed_item_cap=4, non_personalized_feed=True),
                ),
                None,
            )

        first = await h.feed_page(teen, size=3)
        assert len(first.items) == 3 and first.non_personalized and not first.cap_reached
        assert all(i.source not in CONNECTED and i.source != S.CANDIDATE_SOURCE_PREFERENCES for i in first.items)
        second = await h.feed_page(teen, size=3, token=first.next_page_token)
        assert len(second.items) == 1 and second.cap_reached and "limit of 4" in second.cap_message
        assert not second.next_page_token
        third = await h.feed_page(teen, size=3)
        assert not third.items and third.cap_reached and third.cap_message
        shown = {i.post.id for i in list(first.items) + list(second.items)}
        assert reported.id not in shown  # teen safety: reported content stays out

        # Lifting the controls brings the personalized feed back.
        with h.ctx.sessions.begin() as s:
            handlers.parental_controls_changed(h.feed)(
                s, id_ev.ParentalControlsChanged(teen_user_id=teen, controls=identity_pb2.ParentalControls()), None
            )
        again = await h.feed_page(teen, size=3)
        assert not again.cap_reached and not again.non_personalized and again.items


async def test_remix_lineage(pg_url):
    async with running_feed(pg_url) as h:
        a, b, c = h.user("a"), h.user("b"), h.user("c")
        root = await h.post(a, "a paper boat on a river")
        child = await h.post(b, "the boat in a storm", remix_of=root.generation_id)
        grandchild = await h.post(c, "the boat reaches the sea", remix_of=child.generation_id)
        sibling = await h.post(c, "the boat made of leaves", remix_of=root.generation_id)
        assert child.remix_of_post_id == root.id and child.remix_of_generation_id == root.generation_id

        tree = await h.stub.GetRemixes(pb.GetRemixesRequest(post_id=root.id), metadata=h.md(a))
        assert tree.root.post.id == root.id and tree.root.post.remix_count == 2
        assert [n.post.id for n in tree.root.children] == [child.id, sibling.id]
        assert [n.post.id for n in tree.root.children[0].children] == [grandchild.id]
        assert not tree.truncated and not tree.ancestors

        up = await h.stub.GetRemixes(pb.GetRemixesRequest(post_id=grandchild.id), metadata=h.md(a))
        assert [p.id for p in up.ancestors] == [child.id, root.id]
        shallow = await h.stub.GetRemixes(pb.GetRemixesRequest(post_id=root.id, max_depth=1), metadata=h.md(a))
        assert shallow.truncated and not shallow.root.children[0].children

        # The author of the original gets the remixes as a candidate source.
        page = await h.feed_page(a, size=5)
        remixes = [i for i in page.items if i.source == S.CANDIDATE_SOURCE_REMIXES]
        assert remixes and "remix of your video" in remixes[0].reason
        await expect_error(
            grpc.StatusCode.NOT_FOUND, h.stub.GetRemixes(pb.GetRemixesRequest(post_id="not-a-post"), metadata=h.md(a))
        )


async def test_preferences_steer_ranking(pg_url):
    topics = {
        "cooking": ["chef slicing onions in a busy kitchen", "grandma baking apple pie", "stir fry noodles in a wok"],
        "pets": ["a puppy chasing its tail", "a cat napping in the sun", "a parrot talking to its owner"],
        "sports": ["a football striker scores a goal", "basketball dunk in slow motion", "a tennis serve at wimbledon"],
        "cars": ["a vintage car restoration", "a race car on a track", "an electric car charging"],
    }
    async with running_feed(pg_url) as h:
        viewer = h.user("viewer")
        kind = {}
        for topic, prompts in topics.items():
            for i, prompt in enumerate(prompts):
                p = await h.post(h.user(f"{topic}{i}"), prompt)
                kind[p.id] = topic
        prefs = await h.stub.SetFeedPreferences(
            pb.SetFeedPreferencesRequest(text="more cooking and pets, less sports"), metadata=h.md(viewer)
        )
        assert prefs.preferences.text == "more cooking and pets, less sports"
        page = await h.feed_page(viewer, size=12)
        order = [kind[i.post.id] for i in page.items]
        assert set(order[:6]) == {"cooking", "pets"}, order
        assert set(order[6:]) == {"cars", "sports"} and order[-1] == "sports", order
        top = page.items[0]
        assert top.source == S.CANDIDATE_SOURCE_PREFERENCES and ("cooking" in top.reason or "pets" in top.reason)

        # The opposite wish turns the order around for another viewer.
        other = h.user("other")
        await h.stub.SetFeedPreferences(
            pb.SetFeedPreferencesRequest(text="more sports, no cooking"), metadata=h.md(other)
        )
        flipped = [kind[i.post.id] for i in (await h.feed_page(other, size=12)).items]
        assert flipped[0] == "sports" and flipped[-1] == "cooking", flipped
        assert all(i < 6 for i, k in enumerate(flipped) if k == "sports"), flipped
        assert all(i >= 6 for i, k in enumerate(flipped) if k == "cooking"), flipped
        await expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            h.stub.SetFeedPreferences(pb.SetFeedPreferencesRequest(text="x" * 600), metadata=h.md(other)),
            "characters",
        )


async def test_cameo_consent_is_rechecked_at_publish(pg_url):
    """The real cameo service, in-process on its own database."""
    from kinora.cameo.v1 import cameo_pb2, cameo_pb2_grpc
    from kinora.common.v1 import common_pb2
    from kinora.identity.v1 import events_pb2 as id_ev
    from kinora.runtime.settings import load_settings
    from kinora.stack.tansu import free_port
    from kinora.testing import LocalIssuer, bearer, temporary_database
    from services.cameo import handlers as cameo_handlers
    from services.cameo.server import build_context as cameo_context
    from services.cameo.settings import CameoSettings

    issuer = LocalIssuer()
    with temporary_database("kt_cameo") as cameo_url:
        cameo_settings = load_settings(
            CameoSettings,
            {
                "KINORA_DATABASE_URL": cameo_url,
                "KINORA_GRPC_HOST": "127.0.0.1",
                "KINORA_GRPC_PORT": str(free_port()),
                "KINORA_INTERNAL_SECRET": "feed-test-secret",
            },
        )
        cameo = cameo_context(cameo_settings, jwks_fetcher=issuer.fetch_jwks)
        await cameo.app.start()
        try:
            async with running_feed(pg_url, issuer=issuer, cameo_addr=f"127.0.0.1:{cameo.app.port}") as h:
                owner, creator = h.user("owner"), h.user("creator")
                with cameo.sessions.begin() as s:
                    cameo_handlers.cameo_verified(
                        s,
                        id_ev.CameoVerified(
                            user_id=owner,
                            handle="owner",
                            display_name="Owner",
                            verification_id="v1",
                            owner_age_group=common_pb2.AGE_GROUP_ADULT,
                        ),
                        None,
                    )
                cameo_channel = grpc.aio.insecure_channel(f"127.0.0.1:{cameo.app.port}")
                cameo_stub = cameo_pb2_grpc.CameoServiceStub(cameo_channel)
                cameos = await cameo_stub.ListCameos(cameo_pb2.ListCameosRequest(), metadata=bearer(h.tokens[owner]))
                cameo_id = next(c.id for c in cameos.cameos if c.owner_user_id == owner)
                gen = h.completed(creator, "owner dancing at a wedding", cameo_ids=[cameo_id])
                refused = await expect_error(
                    grpc.StatusCode.PERMISSION_DENIED,
                    h.stub.PublishPost(pb.PublishPostRequest(generation_id=gen), metadata=h.md(creator)),
                )
                assert refused.details()
                await cameo_stub.SetPolicy(
                    cameo_pb2.SetPolicyRequest(cameo_id=cameo_id, policy=common_pb2.CAMEO_POLICY_EVERYONE),
                    metadata=bearer(h.tokens[owner]),
                )
                post = (await h.stub.PublishPost(pb.PublishPostRequest(generation_id=gen), metadata=h.md(creator))).post
                assert list(post.cameo_ids) == [cameo_id]
        finally:
            await cameo.app.stop()


async def test_publishing_a_cameo_video_fails_closed_without_the_cameo_service(pg_url):
    """No cameo service configured, or none answering: UNAVAILABLE (consent_unavailable), and the
    video stays a draft; consent is never assumed."""
    from kinora.runtime.errors import error_code_of
    from kinora.stack.tansu import free_port

    for n, cameo_addr in enumerate((None, f"127.0.0.1:{free_port()}")):  # the second: nothing listens there
        async with running_feed(pg_url, cameo_addr=cameo_addr) as h:
            creator = h.user(f"creator{n}")
            gen = h.completed(creator, "someone dancing at a wedding", cameo_ids=["cameo_of_someone"])
            err = await expect_error(
                grpc.StatusCode.UNAVAILABLE,
                h.stub.PublishPost(pb.PublishPostRequest(generation_id=gen), metadata=h.md(creator)),
                "re-check consent",
            )
            assert error_code_of(err) == "consent_unavailable"
            mine = await h.stub.ListUserPosts(pb.ListUserPostsRequest(), metadata=h.md(creator))
            assert not mine.posts


async def test_takedown_event_through_the_broker_hides_the_post(pg_url, broker):
    import time
    import uuid

    from kinora.cameo.v1 import events_pb2 as cameo_ev
    from kinora.runtime.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, ensure_topics, make_producer

    async with running_feed(pg_url, broker=broker) as h:
        author, viewer = h.user("author"), h.user("viewer")
        post = await h.post(author, "a sandcastle at sunset")
        assert (await h.stub.GetPost(pb.GetPostRequest(post_id=post.id), metadata=h.md(viewer))).post.id == post.id
        topic = "kinora.cameo.takedowns.v1"
        await asyncio.to_thread(ensure_topics, [broker.bootstrap], [topic])
        event = cameo_ev.TakedownRequested(
            takedown_id="td-" + uuid.uuid4().hex[:8],
            cameo_id="cam1",
            target_kind=cameo_ev.TAKEDOWN_TARGET_KIND_GENERATION,
            target_ids=[post.generation_id],
        )
        producer = make_producer([broker.bootstrap], "test-cameo")
        producer.send(
            topic,
            key=b"cam1",
            value=event.SerializeToString(),
            headers=[
                (HEADER_EVENT_ID, uuid.uuid4().hex.encode()),
                (HEADER_EVENT_TYPE, b"kinora.cameo.v1.TakedownRequested"),
            ],
        )
        producer.flush()
        producer.close()
        deadline = time.monotonic() + 45
        while True:
            try:
                await h.stub.GetPost(pb.GetPostRequest(post_id=post.id), metadata=h.md(viewer))
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
                break
            assert time.monotonic() < deadline, "takedown never arrived"
            await asyncio.sleep(0.2)
        page = await h.feed_page(viewer)
        assert post.id not in {i.post.id for i in page.items}
        # The feed tells everyone else (cameo's appearance index) through its own topic.
        removed = await asyncio.to_thread(read_events, broker, "kinora.feed.posts.v1", "kinora.feed.v1.PostRemoved")
        assert any(
            e.post_id == post.id and e.reason == ev.REMOVAL_REASON_TAKEN_DOWN and e.takedown_id == event.takedown_id
            for e in removed
        )


def read_events(broker, topic, event_type, timeout_s=30.0):
    import time

    from kafka import KafkaConsumer

    from kinora.runtime.kafka import HEADER_EVENT_TYPE, header_map

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=[broker.bootstrap],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    found, deadline = [], time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not found:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    if header_map(record.headers).get(HEADER_EVENT_TYPE) == event_type:
                        found.append(ev.PostRemoved.FromString(record.value))
    finally:
        consumer.close()
    return found
