"""Takedown end to end through a real Kafka-protocol broker (Tansu):
identity, generator and feed events go in through Kafka, the cameo service
indexes the appearances, the owner deletes one and revokes a user with
takedown, and TakedownRequested events come out of Kafka. The time from the
RevokeAccess call to the takedown events arriving is measured."""

import asyncio
import threading
import time
import uuid

from cameo_harness import start_replica
from kafka import KafkaConsumer

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.identity.v1 import identity_pb2 as id_pb
from kinora.runtime.kafka import HEADER_EVENT_ID, HEADER_EVENT_TYPE, header_map, make_producer
from kinora.testing import LocalIssuer, bearer


def send(producer, topic, key, message):
    headers = [
        (HEADER_EVENT_ID, str(uuid.uuid4()).encode()),
        (HEADER_EVENT_TYPE, message.DESCRIPTOR.full_name.encode()),
    ]
    producer.send(topic, key=key.encode(), value=message.SerializeToString(), headers=headers)
    producer.flush()


class Collector:
    """Reads TakedownRequested events off the broker on a thread, with arrival times."""

    def __init__(self, bootstrap):
        self.events: list[tuple[float, ev.TakedownRequested]] = []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.consumer = KafkaConsumer(
            "kinora.cameo.takedowns.v1",
            bootstrap_servers=bootstrap,
            group_id=f"test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            polled = self.consumer.poll(timeout_ms=50)
            if self.consumer.assignment():
                self.ready.set()
            for records in polled.values():
                for r in records:
                    if header_map(r.headers).get(HEADER_EVENT_TYPE) == ev.TakedownRequested.DESCRIPTOR.full_name:
                        self.events.append((time.monotonic(), ev.TakedownRequested.FromString(r.value)))
        self.consumer.close()

    async def wait_for(self, predicate, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [(t, e) for t, e in self.events if predicate(e)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError("no matching TakedownRequested arrived")


async def eventually(fn, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await fn()
            if result:
                return result
        except Exception:  # noqa: BLE001 - not there yet
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def test_takedown_through_kafka(pg_url, broker):
    issuer = LocalIssuer()
    bootstrap = [broker.bootstrap] if isinstance(broker.bootstrap, str) else list(broker.bootstrap)
    replica = await start_replica(pg_url, issuer, kafka_bootstrap=bootstrap)
    producer = make_producer(bootstrap, "test-upstream")
    collector = Collector(bootstrap)
    try:
        owner, maker = str(uuid.uuid4()), str(uuid.uuid4())
        send(
            producer,
            "kinora.identity.verifications.v1",
            owner,
            id_ev.CameoVerified(
                user_id=owner,
                handle="kafka_owner",
                display_name="Kafka Owner",
                verification_id="v1",
                owner_age_group=common.AGE_GROUP_ADULT,
            ),
        )
        # UserCreated after CameoVerified (separate topics, no order between them) must not undo the verification.
        for uid, handle in ((owner, "kafka_owner"), (maker, "kafka_maker")):
            send(
                producer,
                "kinora.identity.users.v1",
                uid,
                id_ev.UserCreated(user=id_pb.User(id=uid, handle=handle, age_group=common.AGE_GROUP_ADULT)),
            )
        me = bearer(issuer.token(owner, "kafka_owner"))
        cameo = (
            await eventually(lambda: replica.stub.GetCameo(pb.GetCameoRequest(owner_user_id=owner), metadata=me))
        ).cameo.id
        await replica.stub.SetPolicy(
            pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=me
        )
        # The maker makes two videos with the cameo and posts one.
        for gen, prompt in (("g-post", "surfing a big wave"), ("g-draft", "cooking pasta")):
            facts = gen_ev.GenerationFacts(generation_id=gen, user_id=maker, cameo_ids=[cameo])
            send(
                producer, "kinora.generator.generations.v1", gen, gen_ev.GenerationRequested(facts=facts, prompt=prompt)
            )
            send(
                producer, "kinora.generator.generations.v1", gen, gen_ev.GenerationCompleted(facts=facts, prompt=prompt)
            )
        send(
            producer,
            "kinora.feed.posts.v1",
            "p-1",
            feed_ev.PostPublished(post_id="p-1", author_user_id=maker, generation_id="g-post", cameo_ids=[cameo]),
        )

        async def indexed():
            listed = (
                await replica.stub.ListAppearances(pb.ListAppearancesRequest(cameo_id=cameo), metadata=me)
            ).appearances
            kinds = {a.generation_id: a for a in listed}
            ok = (
                kinds.get("g-post")
                and kinds["g-post"].post_id == "p-1"
                and "g-draft" in kinds
                and kinds["g-draft"].kind == pb.APPEARANCE_KIND_DRAFT
            )
            return kinds if ok else None

        index = await eventually(indexed)
        assert await eventually(lambda: asyncio.to_thread(collector.ready.wait, 0.5))

        # 1. Delete someone else's draft.
        started = time.monotonic()
        await replica.stub.DeleteAppearance(pb.DeleteAppearanceRequest(appearance_id=index["g-draft"].id), metadata=me)
        ((arrived, event),) = await collector.wait_for(lambda e: list(e.target_ids) == ["g-draft"])
        assert event.cause == ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED and event.cameo_id == cameo
        delete_ms = (arrived - started) * 1000

        # 2. Revoke the maker with takedown: the generation and the post.
        started = time.monotonic()
        await replica.stub.RevokeAccess(
            pb.RevokeAccessRequest(cameo_id=cameo, user_id=maker, takedown=True), metadata=me
        )
        revoked = await collector.wait_for(lambda e: e.cause == ev.TAKEDOWN_CAUSE_ACCESS_REVOKED, count=2)
        targets = {(e.target_kind, tuple(e.target_ids)) for _, e in revoked}
        assert targets == {(ev.TAKEDOWN_TARGET_KIND_GENERATION, ("g-post",)), (ev.TAKEDOWN_TARGET_KIND_POST, ("p-1",))}
        revoke_ms = (max(t for t, _ in revoked) - started) * 1000

        # Generator and feed act and report back through Kafka; the index follows.
        takedown_id = revoked[0][1].takedown_id
        facts = gen_ev.GenerationFacts(generation_id="g-post", user_id=maker, cameo_ids=[cameo])
        send(
            producer,
            "kinora.generator.generations.v1",
            "g-post",
            gen_ev.GenerationTakenDown(facts=facts, takedown_id=takedown_id),
        )
        send(
            producer,
            "kinora.feed.posts.v1",
            "p-1",
            feed_ev.PostRemoved(
                post_id="p-1",
                author_user_id=maker,
                generation_id="g-post",
                cameo_ids=[cameo],
                reason=feed_ev.REMOVAL_REASON_TAKEN_DOWN,
                takedown_id=takedown_id,
            ),
        )

        async def removed():
            listed = (
                await replica.stub.ListAppearances(
                    pb.ListAppearancesRequest(cameo_id=cameo, include_removed=True), metadata=me
                )
            ).appearances
            a = next(x for x in listed if x.generation_id == "g-post")
            return a.state == pb.APPEARANCE_STATE_REMOVED and a.kind == pb.APPEARANCE_KIND_DRAFT

        await eventually(removed)
        print(
            f"\ndelete appearance -> TakedownRequested on Kafka: {delete_ms:.0f} ms; "
            f"revoke -> both TakedownRequested on Kafka: {revoke_ms:.0f} ms"
        )
        assert revoke_ms < 2000 and delete_ms < 2000
    finally:
        collector.stop.set()
        collector.thread.join(5)
        producer.close()
        await replica.close()
