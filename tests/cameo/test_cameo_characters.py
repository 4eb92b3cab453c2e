"""Characters in the cameo service over gRPC on PostgreSQL: made from a real image or video
(decoded, every sampled frame searched for faces by the real face model), with their own
handle; the consent check, approvals, revocation, takedown and deletion are a person's
cameo's. Attacks: a person's photo or a video with a person in it uploaded as a character,
a character handle taken from a person, someone else's character used without permission."""

from __future__ import annotations

import io
import uuid

import grpc
import pytest
from character_pictures import dog, dog_video, dog_video_with_a_person, encoded, person
from PIL import Image
from sqlalchemy import func, select

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.runtime.db import transaction
from kinora.runtime.errors import error_code_of
from services.cameo import characters, handlers
from services.cameo import models as m

PROMPT = "running through a meadow chasing a ball"
DOG_PNG = encoded(dog())


async def refused(call, status: grpc.StatusCode, code: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == status, err.value.details()
    assert error_code_of(err.value) == code, err.value.details()
    return err.value


def create(replica, world, owner, media=DOG_PNG, name="Rex", handle="", description="a small brown dog"):
    return replica.stub.CreateCharacter(
        pb.CreateCharacterRequest(
            name=name, handle=handle, description=description, media=media, content_type="image/png"
        ),
        metadata=world.as_user(owner),
    )


async def check(replica, world, requester, cameos):
    return await replica.stub.CheckUse(
        pb.CheckUseRequest(requester_user_id=requester, cameo_ids=cameos, prompt=PROMPT),
        metadata=world.as_service("generator"),
    )


def outbox(world, event_cls):
    with world.engine.connect() as c:
        rows = c.execute(
            select(m.tables.outbox.c.payload)
            .where(m.tables.outbox.c.event_type == event_cls.DESCRIPTOR.full_name)
            .order_by(m.tables.outbox.c.id)
        ).all()
    return [event_cls.FromString(bytes(r.payload)) for r in rows]


def count(world, table, **where) -> int:
    with world.engine.connect() as c:
        q = select(func.count()).select_from(table)
        for column, value in where.items():
            q = q.where(table.c[column] == value)
        return c.execute(q).scalar_one()


async def test_a_dog_picture_becomes_a_character_with_its_handle_and_reference_image(replica, world):
    alice = world.user("alice")
    made = (await create(replica, world, alice, handle="rex_the_dog")).cameo
    assert made.kind == pb.CAMEO_KIND_CHARACTER and made.handle == "rex_the_dog" and made.display_name == "Rex"
    assert made.owner_user_id == alice and made.owner_handle == "alice" and made.description == "a small brown dog"
    assert made.policy == common.CAMEO_POLICY_ONLY_ME and made.verified and made.status == pb.CAMEO_STATUS_ACTIVE
    by_handle = (
        await replica.stub.GetCameo(
            pb.GetCameoRequest(handle="@Rex_The_Dog"), metadata=world.as_user(world.user("bob"))
        )
    ).cameo
    assert by_handle.id == made.id and not by_handle.owner_age_group  # another user learns no age
    # The worker gets the reference image (the upload scaled down, decoded back here) and the description.
    likeness = await replica.stub.GetLikeness(
        pb.GetLikenessRequest(cameo_id=made.id), metadata=world.as_service("generator")
    )
    assert likeness.kind == pb.CAMEO_KIND_CHARACTER and likeness.description == "a small brown dog"
    assert len(likeness.reference_pngs) == 1 and not likeness.likeness.face_crops
    ref = Image.open(io.BytesIO(likeness.reference_pngs[0]))
    assert ref.format == "PNG" and ref.size == (512, 384)
    assert ref.convert("RGB").getpixel((10, 10)) == (135, 190, 235)  # the sky of the drawing
    assert outbox(world, ev.CameoCreated)[-1].cameo.kind == pb.CAMEO_KIND_CHARACTER
    # A person's cameo is still found by its owner: the character is not "alice's cameo".
    await refused(
        replica.stub.GetCameo(pb.GetCameoRequest(owner_user_id=alice), metadata=world.as_user(alice)),
        grpc.StatusCode.NOT_FOUND,
        "cameo_not_found",
    )
    mine = (
        await replica.stub.ListCameos(pb.ListCameosRequest(owned_by_caller=True), metadata=world.as_user(alice))
    ).cameos
    assert [c.id for c in mine] == [made.id]


async def test_a_short_dog_video_gives_three_references(replica, world):
    owner = world.user("vidowner")
    made = (await create(replica, world, owner, media=dog_video(), name="Walking Rex")).cameo
    assert made.handle == "walking_rex"  # derived from the name
    likeness = await replica.stub.GetLikeness(
        pb.GetLikenessRequest(cameo_id=made.id), metadata=world.as_service("generator")
    )
    assert len(likeness.reference_pngs) == 3
    assert all(Image.open(io.BytesIO(p)).size == (512, 384) for p in likeness.reference_pngs)


async def test_a_person_uploaded_as_a_character_is_refused_and_nothing_is_kept(replica, world):
    mallory = world.user("mallory")
    for media in (encoded(person(), "JPEG"), dog_video_with_a_person()):
        err = await refused(
            create(replica, world, mallory, media=media, name="Not A Person"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "human_face_in_character",
        )
        assert "liveness check" in err.details()
    assert count(world, m.cameos, owner_user_id=mallory) == 0 and count(world, m.character_images) == 0


async def test_bad_uploads_and_fields_are_refused_clearly(replica, world):
    owner = world.user("careful")
    tiny = encoded(Image.new("RGB", (20, 20), (200, 100, 50)))
    cases = [
        (dict(media=b""), "missing_character_media"),
        (dict(media=b"not a picture at all"), "invalid_character_media"),
        (dict(media=tiny), "invalid_character_media"),
        (dict(name=""), "invalid_name"),
        (dict(handle="Rex!"), "invalid_handle"),
        (dict(handle="ab"), "invalid_handle"),
        (dict(description="x" * 501), "description_too_long"),
    ]
    for fields, code in cases:
        await refused(create(replica, world, owner, **fields), grpc.StatusCode.INVALID_ARGUMENT, code)
    assert count(world, m.cameos, owner_user_id=owner) == 0


async def test_handles_are_unique_across_people_and_characters(replica, world):
    alice, mallory = world.user("alice"), world.user("mallory")
    world.verify(alice)
    # Mallory tries to take alice's handle (or another person's without a cameo) for a character.
    await refused(create(replica, world, mallory, handle="alice"), grpc.StatusCode.ALREADY_EXISTS, "handle_taken")
    await refused(create(replica, world, mallory, handle="mallory"), grpc.StatusCode.ALREADY_EXISTS, "handle_taken")
    await create(replica, world, mallory, handle="spot")
    await refused(create(replica, world, alice, handle="spot"), grpc.StatusCode.ALREADY_EXISTS, "handle_taken")
    # Derived from a name that is someone's handle: made unique instead.
    derived = (await create(replica, world, mallory, name="Alice")).cameo
    assert derived.handle == "alice_2"
    # @alice still means alice's own cameo.
    meant = (await replica.stub.GetCameo(pb.GetCameoRequest(handle="alice"), metadata=world.as_user(mallory))).cameo
    assert meant.kind == pb.CAMEO_KIND_PERSON and meant.owner_user_id == alice


async def test_someone_elses_character_needs_permission_and_revoking_takes_the_clips_down(replica, world):
    owner, bob, eve = world.user("owner"), world.user("bob"), world.user("eve")
    rex = (await create(replica, world, owner)).cameo.id
    for who in (bob, eve):  # only me: nobody else
        d = (await check(replica, world, who, [rex])).decisions[0]
        assert not d.allowed and d.reason == pb.DECISION_REASON_NOT_PERMITTED and "@owner" in d.message
    assert (await check(replica, world, owner, [rex])).all_allowed
    o = world.as_user(owner)
    await replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=rex, policy=common.CAMEO_POLICY_APPROVED), metadata=o)
    await replica.stub.Approve(pb.ApproveRequest(cameo_id=rex, user_id=bob), metadata=o)
    assert (await check(replica, world, bob, [rex])).decisions[0].reason == pb.DECISION_REASON_ALLOWED_APPROVED
    assert not (await check(replica, world, eve, [rex])).all_allowed
    # Bob makes a clip with rex and posts it; the owner revokes him with takedown.
    gen = f"gen-{uuid.uuid4()}"
    facts = gen_ev.GenerationFacts(generation_id=gen, user_id=bob, cameo_ids=[rex])
    with transaction(world.sessions) as s:
        handlers.generation_requested(s, gen_ev.GenerationRequested(facts=facts, prompt=PROMPT), None)
        handlers.generation_completed(s, gen_ev.GenerationCompleted(facts=facts, prompt=PROMPT), None)
        from kinora.feed.v1 import events_pb2 as feed_ev

        handlers.post_published(
            s, feed_ev.PostPublished(post_id="post-rex", author_user_id=bob, generation_id=gen, cameo_ids=[rex]), None
        )
    listed = (await replica.stub.ListAppearances(pb.ListAppearancesRequest(cameo_id=rex), metadata=o)).appearances
    assert [(a.generation_id, a.kind) for a in listed] == [(gen, pb.APPEARANCE_KIND_POST)]
    revoked = await replica.stub.RevokeAccess(
        pb.RevokeAccessRequest(cameo_id=rex, user_id=bob, takedown=True), metadata=o
    )
    assert revoked.takedown_count == 1
    assert (await check(replica, world, bob, [rex])).decisions[0].reason == pb.DECISION_REASON_BLOCKED
    targets = [(t.target_kind, list(t.target_ids), t.cause) for t in outbox(world, ev.TakedownRequested)]
    assert targets == [
        (ev.TAKEDOWN_TARGET_KIND_GENERATION, [gen], ev.TAKEDOWN_CAUSE_ACCESS_REVOKED),
        (ev.TAKEDOWN_TARGET_KIND_POST, ["post-rex"], ev.TAKEDOWN_CAUSE_ACCESS_REVOKED),
    ]
    listed = (await replica.stub.ListAppearances(pb.ListAppearancesRequest(cameo_id=rex), metadata=o)).appearances
    assert listed[0].state == pb.APPEARANCE_STATE_TAKEDOWN_REQUESTED
    # Bob cannot manage the character.
    await refused(
        replica.stub.SetPolicy(
            pb.SetPolicyRequest(cameo_id=rex, policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(bob)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "not_owner",
    )


async def test_deleting_a_character_erases_its_images_and_leaves_the_owners_cameo(replica, world):
    owner = world.user("deleter")
    person_cameo = world.verify(owner)
    rex = (await create(replica, world, owner)).cameo.id
    assert count(world, m.character_images, cameo_id=rex) == 1
    await replica.stub.DeleteCameo(pb.DeleteCameoRequest(cameo_id=rex, takedown=True), metadata=world.as_user(owner))
    assert count(world, m.character_images, cameo_id=rex) == 0
    # No CameoDeleted: identity would read it as "erase this person's verified likeness".
    assert [d.cameo_id for d in outbox(world, ev.CameoDeleted)] == []
    d = (await check(replica, world, owner, [rex])).decisions[0]
    assert not d.allowed and d.reason == pb.DECISION_REASON_CAMEO_NOT_FOUND
    assert (await check(replica, world, owner, [person_cameo])).all_allowed
    await refused(
        replica.stub.GetCameo(pb.GetCameoRequest(handle="rex"), metadata=world.as_user(owner)),
        grpc.StatusCode.NOT_FOUND,
        "handle_not_found",
    )


async def test_a_teens_character_gets_the_teens_cap_and_the_limit_holds(replica, world, monkeypatch):
    teen = world.user("young", teen=True)
    made = (
        await replica.stub.CreateCharacter(
            pb.CreateCharacterRequest(name="Kit", media=DOG_PNG), metadata=world.as_user(teen)
        )
    ).cameo
    await refused(
        replica.stub.SetPolicy(
            pb.SetPolicyRequest(cameo_id=made.id, policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(teen)
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "policy_above_guardian_cap",
    )
    monkeypatch.setattr(characters, "MAX_CHARACTERS", 2)  # the service runs in this process
    await create(replica, world, teen, name="Kat")
    await refused(create(replica, world, teen, name="Kot"), grpc.StatusCode.FAILED_PRECONDITION, "too_many_characters")


async def test_an_account_deletion_takes_its_characters_and_their_images(replica, world):
    from kinora.identity.v1 import events_pb2 as id_ev

    owner, bob = world.user("leaving"), world.user("bob")
    world.verify(owner)
    rex = (await create(replica, world, owner)).cameo.id
    await create(replica, world, owner, name="Kit")
    gen = f"gen-{uuid.uuid4()}"
    with transaction(world.sessions) as s:
        handlers.generation_requested(
            s,
            gen_ev.GenerationRequested(
                facts=gen_ev.GenerationFacts(generation_id=gen, user_id=bob, cameo_ids=[rex]), prompt=PROMPT
            ),
            None,
        )
    anonymous = str(uuid.uuid4())
    for _ in range(2):  # redelivered: nothing left to do the second time
        with transaction(world.sessions) as s:
            handlers.user_deleted(s, id_ev.UserDeleted(user_id=owner, anonymous_id=anonymous), None)
    assert count(world, m.cameos, owner_user_id=owner) == 0 and count(world, m.character_images) == 0
    with world.engine.connect() as c:
        rows = c.execute(
            select(m.cameos.c.kind, m.cameos.c.status, m.cameos.c.handle, m.cameos.c.display_name)
            .where(m.cameos.c.owner_user_id == anonymous)
            .order_by(m.cameos.c.kind)
        ).all()
    assert [(r.kind, r.status, r.handle, r.display_name) for r in rows] == [
        (pb.CAMEO_KIND_PERSON, pb.CAMEO_STATUS_DELETED, None, ""),
        (pb.CAMEO_KIND_CHARACTER, pb.CAMEO_STATUS_DELETED, None, ""),
        (pb.CAMEO_KIND_CHARACTER, pb.CAMEO_STATUS_DELETED, None, ""),
    ]
    # bob's clip with the character is taken down with the account.
    taken = [list(t.target_ids) for t in outbox(world, ev.TakedownRequested) if t.cameo_id == rex]
    assert taken == [[gen]]
    # One CameoDeleted, for the person's cameo (identity erases the verified likeness).
    assert len(outbox(world, ev.CameoDeleted)) == 1
