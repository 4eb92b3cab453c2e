"""Cameo service behaviour over gRPC on PostgreSQL: profiles, policy, teen
caps, approvals, blocks, restrictions, bad input, appearances, notifications,
takedowns (outbox) and the audit log."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from sqlalchemy import select, text

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.identity.v1 import identity_pb2 as id_pb
from kinora.runtime.db import transaction
from kinora.runtime.errors import error_code_of
from services.cameo import handlers
from services.cameo import models as m

PROMPT = "riding a bike along the beach at sunset"


async def fails(call, code: grpc.StatusCode, words: str = ""):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    assert words.lower() in err.value.details().lower(), err.value.details()
    return err.value


async def check(replica, world, requester, cameos, prompt=PROMPT):
    return await replica.stub.CheckUse(
        pb.CheckUseRequest(requester_user_id=requester, cameo_ids=cameos, prompt=prompt),
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


async def test_profile_from_cameo_verified(replica, world):
    alice = world.user("alice")
    cameo = world.verify(alice)
    got = (await replica.stub.GetCameo(pb.GetCameoRequest(owner_handle="alice"), metadata=world.as_user(alice))).cameo
    assert got.id == cameo and got.owner_user_id == alice and got.display_name == "Alice"
    assert got.policy == common.CAMEO_POLICY_ONLY_ME  # closed until the owner opens it
    assert got.verified and got.status == pb.CAMEO_STATUS_ACTIVE and got.revision == 1
    created = outbox(world, ev.CameoCreated)
    assert created[0].cameo.id == cameo and created[0].likeness.face_crops[0].key.startswith("faces/")
    # Re-verification refreshes the same profile.
    assert world.verify(alice) == cameo
    likeness = await replica.stub.GetLikeness(
        pb.GetLikenessRequest(cameo_id=cameo), metadata=world.as_service("generator")
    )
    assert likeness.likeness.face_crops[0].key == f"faces/{alice}/0.jpg"
    await fails(
        replica.stub.GetLikeness(pb.GetLikenessRequest(cameo_id=cameo), metadata=world.as_user(alice)),
        grpc.StatusCode.PERMISSION_DENIED,
    )


async def test_teen_policy_capped_by_guardian(replica, world):
    teen = world.user("tina", teen=True)
    cameo = world.verify(teen, teen=True)
    me = world.as_user(teen)
    # Safe default before any parental controls: mutuals at most.
    await fails(
        replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "guardian allows at most",
    )
    world.guardian_cap(teen, common.CAMEO_POLICY_EVERYONE)
    got = await replica.stub.SetPolicy(
        pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=me
    )
    assert got.cameo.policy == common.CAMEO_POLICY_EVERYONE
    teen_friend = world.user("tom", teen=True)
    assert (await check(replica, world, teen_friend, [cameo])).all_allowed
    # The guardian tightens the cap: the stored policy follows at once.
    world.guardian_cap(teen, common.CAMEO_POLICY_APPROVED)
    got = await replica.stub.GetCameo(pb.GetCameoRequest(cameo_id=cameo), metadata=me)
    assert got.cameo.policy == common.CAMEO_POLICY_APPROVED and got.cameo.max_policy == common.CAMEO_POLICY_APPROVED
    d = (await check(replica, world, teen_friend, [cameo])).decisions[0]
    assert not d.allowed and d.reason == pb.DECISION_REASON_NOT_PERMITTED
    changed = outbox(world, ev.PolicyChanged)
    assert changed[-1].new_policy == common.CAMEO_POLICY_APPROVED


async def test_a_teens_age_and_guardian_cap_are_not_shown_to_others(replica, world):
    """Another user reading a teen's cameo learns neither the age group nor the cap the guardian
    set (issue 20: age group visible to the account and its guardian only); the owner and
    services still see both."""
    teen, stranger = world.user("tess", teen=True), world.user("sam")
    cameo = world.verify(teen, teen=True)
    for who in (world.as_user(teen), world.as_service("generator")):
        own = (await replica.stub.GetCameo(pb.GetCameoRequest(cameo_id=cameo), metadata=who)).cameo
        assert own.owner_age_group == common.AGE_GROUP_TEEN and own.max_policy != common.CAMEO_POLICY_UNSPECIFIED
    seen = (await replica.stub.GetCameo(pb.GetCameoRequest(cameo_id=cameo), metadata=world.as_user(stranger))).cameo
    assert seen.owner_age_group == common.AGE_GROUP_UNSPECIFIED and seen.max_policy == common.CAMEO_POLICY_UNSPECIFIED
    listed = (
        await replica.stub.ListCameos(pb.ListCameosRequest(query="tess"), metadata=world.as_user(stranger))
    ).cameos
    assert [c.id for c in listed] == [cameo] and listed[0].owner_age_group == common.AGE_GROUP_UNSPECIFIED


async def test_approval_flow(replica, world):
    owner, bob = world.user("olga"), world.user("bob")
    cameo = world.verify(owner)
    o, b = world.as_user(owner), world.as_user(bob)
    await replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_APPROVED), metadata=o)
    req = await replica.stub.RequestApproval(
        pb.RequestApprovalRequest(cameo_id=cameo, message="for my skit"), metadata=b
    )
    assert req.approval.status == pb.APPROVAL_STATUS_PENDING and req.approval.user_handle == "bob"
    assert not (await check(replica, world, bob, [cameo])).all_allowed
    notes = await replica.stub.ListNotifications(pb.ListNotificationsRequest(), metadata=o)
    assert notes.unread_count == 1 and "for my skit" in notes.notifications[0].message
    pending = await replica.stub.ListApprovals(
        pb.ListApprovalsRequest(cameo_id=cameo, status=pb.APPROVAL_STATUS_PENDING), metadata=o
    )
    assert [a.user_id for a in pending.approvals] == [bob]
    # Only the owner decides.
    await fails(
        replica.stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=bob), metadata=b),
        grpc.StatusCode.PERMISSION_DENIED,
        "owner",
    )
    ok = await replica.stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=bob), metadata=o)
    assert ok.approval.status == pb.APPROVAL_STATUS_APPROVED
    d = (await check(replica, world, bob, [cameo])).decisions[0]
    assert d.allowed and d.reason == pb.DECISION_REASON_ALLOWED_APPROVED and d.revision == ok.revision
    removed = await replica.stub.RemoveApproval(pb.RemoveApprovalRequest(cameo_id=cameo, user_id=bob), metadata=o)
    assert removed.revision > ok.revision
    assert not (await check(replica, world, bob, [cameo])).all_allowed
    # Request again, get denied, and a denied request can't be repeated.
    await replica.stub.RequestApproval(pb.RequestApprovalRequest(cameo_id=cameo), metadata=b)
    await replica.stub.Deny(pb.DenyRequest(cameo_id=cameo, user_id=bob), metadata=o)
    await fails(
        replica.stub.RequestApproval(pb.RequestApprovalRequest(cameo_id=cameo), metadata=b),
        grpc.StatusCode.FAILED_PRECONDITION,
        "declined",
    )
    bob_notes = await replica.stub.ListNotifications(pb.ListNotificationsRequest(unread_only=True), metadata=b)
    assert [n.kind for n in bob_notes.notifications] == [pb.NOTIFICATION_KIND_APPROVAL_DECIDED] * 2
    marked = await replica.stub.MarkNotificationsRead(pb.MarkNotificationsReadRequest(), metadata=b)
    assert marked.marked == 2
    # Blocked users can't be approved until unblocked.
    await replica.stub.BlockUser(pb.BlockUserRequest(cameo_id=cameo, user_id=bob), metadata=o)
    await fails(
        replica.stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=bob), metadata=o),
        grpc.StatusCode.FAILED_PRECONDITION,
        "unblock",
    )
    blocked = await replica.stub.ListBlockedUsers(pb.ListBlockedUsersRequest(cameo_id=cameo), metadata=o)
    assert [x.user_id for x in blocked.blocked] == [bob]
    await replica.stub.UnblockUser(pb.UnblockUserRequest(cameo_id=cameo, user_id=bob), metadata=o)
    await replica.stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=bob), metadata=o)
    assert (await check(replica, world, bob, [cameo])).all_allowed


async def test_restriction_conflict_quotes_the_restriction(replica, world):
    owner, fan = world.user("rita"), world.user("fan")
    cameo = world.verify(owner)
    o = world.as_user(owner)
    await replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=o)
    added = await replica.stub.AddRestriction(
        pb.AddRestrictionRequest(cameo_id=cameo, text="never in political content"), metadata=o
    )
    d = (await check(replica, world, fan, [cameo], "giving a speech at an election rally for a senator")).decisions[0]
    assert not d.allowed and d.reason == pb.DECISION_REASON_RESTRICTION_CONFLICT
    assert d.conflicting_restriction.text == "never in political content"
    assert d.conflicting_restriction.id == added.restriction.id
    assert "never in political content" in d.message
    assert (await check(replica, world, fan, [cameo], "baking bread in a cozy kitchen")).all_allowed
    # The owner's own use is not restricted by their own rule.
    assert (await check(replica, world, owner, [cameo], "a political rally")).all_allowed
    listed = await replica.stub.ListRestrictions(
        pb.ListRestrictionsRequest(cameo_id=cameo), metadata=world.as_user(fan)
    )
    assert [r.text for r in listed.restrictions] == ["never in political content"]
    await fails(
        replica.stub.AddRestriction(pb.AddRestrictionRequest(cameo_id=cameo, text="   "), metadata=o),
        grpc.StatusCode.INVALID_ARGUMENT,
        "empty",
    )
    await replica.stub.RemoveRestriction(
        pb.RemoveRestrictionRequest(cameo_id=cameo, restriction_id=added.restriction.id), metadata=o
    )
    assert (await check(replica, world, fan, [cameo], "a political rally")).all_allowed


async def test_bad_input_is_refused_and_changes_nothing(replica, world):
    a, b, c, stranger = world.user("ann"), world.user("ben"), world.user("cat"), world.user("sam")
    cams = [world.verify(u) for u in (a, b, c)]
    svc = world.as_service("generator")
    stub = replica.stub
    await fails(
        stub.CheckUse(pb.CheckUseRequest(requester_user_id=a, cameo_ids=cams, prompt=PROMPT), metadata=svc),
        grpc.StatusCode.INVALID_ARGUMENT,
        "at most 2 cameos",
    )
    await fails(
        stub.CheckUse(pb.CheckUseRequest(requester_user_id=a, cameo_ids=[cams[0]], prompt="  "), metadata=svc),
        grpc.StatusCode.INVALID_ARGUMENT,
        "prompt is empty",
    )
    await fails(
        stub.CheckUse(pb.CheckUseRequest(requester_user_id=a, cameo_ids=["nope"], prompt=PROMPT), metadata=svc),
        grpc.StatusCode.INVALID_ARGUMENT,
        "not a valid id",
    )
    await fails(
        stub.CheckUse(pb.CheckUseRequest(requester_user_id=a, cameo_ids=[], prompt=PROMPT), metadata=svc),
        grpc.StatusCode.INVALID_ARGUMENT,
        "at least one cameo",
    )
    await fails(
        stub.CheckUse(
            pb.CheckUseRequest(requester_user_id=a, cameo_ids=[cams[0], cams[0]], prompt=PROMPT), metadata=svc
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "twice",
    )
    unknown = str(uuid.uuid4())
    reply = await stub.CheckUse(
        pb.CheckUseRequest(requester_user_id=a, cameo_ids=[cams[0], unknown], prompt=PROMPT), metadata=svc
    )
    assert reply.decisions[0].allowed and not reply.all_allowed
    assert reply.decisions[1].reason == pb.DECISION_REASON_CAMEO_NOT_FOUND and reply.decisions[1].cameo_id == unknown
    # Callers: a user may only check for themselves; only known services may check for others.
    await fails(
        stub.CheckUse(
            pb.CheckUseRequest(requester_user_id=b, cameo_ids=[cams[0]], prompt=PROMPT), metadata=world.as_user(a)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "own behalf",
    )
    await fails(
        stub.CheckUse(
            pb.CheckUseRequest(requester_user_id=b, cameo_ids=[cams[0]], prompt=PROMPT),
            metadata=world.as_service("billing"),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    await fails(
        stub.CheckUse(pb.CheckUseRequest(requester_user_id=b, cameo_ids=[cams[0]], prompt=PROMPT)),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    # Not the owner: nothing changes.
    before = (await stub.GetCameo(pb.GetCameoRequest(cameo_id=cams[0]), metadata=svc)).cameo
    for call in (
        stub.SetPolicy(
            pb.SetPolicyRequest(cameo_id=cams[0], policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(stranger)
        ),
        stub.BlockUser(pb.BlockUserRequest(cameo_id=cams[0], user_id=b), metadata=world.as_user(stranger)),
        stub.RevokeAccess(pb.RevokeAccessRequest(cameo_id=cams[0], user_id=b), metadata=world.as_user(stranger)),
        stub.ListAppearances(pb.ListAppearancesRequest(cameo_id=cams[0]), metadata=world.as_user(stranger)),
        stub.ListAuditLog(pb.ListAuditLogRequest(cameo_id=cams[0]), metadata=world.as_user(stranger)),
    ):
        await fails(call, grpc.StatusCode.PERMISSION_DENIED, "owner")
    await fails(
        stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cams[0]), metadata=world.as_user(a)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "choose a policy",
    )
    await fails(
        stub.SetPolicy(
            pb.SetPolicyRequest(cameo_id=unknown, policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(a)
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await fails(
        stub.ListAppearances(
            pb.ListAppearancesRequest(cameo_id=cams[0], page=common.PageRequest(page_token="garbage")),
            metadata=world.as_user(a),
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token is not valid",
    )
    after = (await stub.GetCameo(pb.GetCameoRequest(cameo_id=cams[0]), metadata=svc)).cameo
    assert after == before


async def test_verification_withdrawn_means_not_verified(replica, world):
    owner, fan = world.user("vera"), world.user("fan2")
    cameo = world.verify(owner)
    await replica.stub.SetPolicy(
        pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(owner)
    )
    assert (await check(replica, world, fan, [cameo])).all_allowed
    user = id_pb.User(id=owner, handle="vera", cameo_verified=False, age_group=common.AGE_GROUP_ADULT)
    # An update older than the verification (topics are not ordered with each other) changes nothing.
    stale = id_ev.UserUpdated(user=user)
    stale.occurred_at.FromDatetime(datetime.now(UTC) - timedelta(minutes=5))
    with transaction(world.sessions) as s:
        handlers.user_updated(s, stale, None)
        handlers.user_created(s, id_ev.UserCreated(user=user), None)
    assert (await check(replica, world, fan, [cameo])).all_allowed
    with transaction(world.sessions) as s:
        handlers.user_updated(s, id_ev.UserUpdated(user=user), None)
    d = (await check(replica, world, fan, [cameo])).decisions[0]
    assert not d.allowed and d.reason == pb.DECISION_REASON_NOT_VERIFIED and "not verified" in d.message


def gen_event(cls, generation_id, user, cameos, prompt="", **kw):
    facts = gen_ev.GenerationFacts(generation_id=generation_id, user_id=user, cameo_ids=cameos)
    if "prompt" in cls.DESCRIPTOR.fields_by_name:
        return cls(facts=facts, prompt=prompt, **kw)
    return cls(facts=facts, **kw)


async def test_appearances_notifications_takedown_and_audit(replica, world):
    owner, maker, other = world.user("owen"), world.user("maker"), world.user("other")
    cameo = world.verify(owner)
    o = world.as_user(owner)
    await replica.stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=o)
    g1, g2, g3 = "gen-1", "gen-2", "gen-3"
    with transaction(world.sessions) as s:
        handlers.generation_requested(s, gen_event(gen_ev.GenerationRequested, g1, maker, [cameo], "a dance"), None)
        handlers.generation_completed(s, gen_event(gen_ev.GenerationCompleted, g1, maker, [cameo], "a dance"), None)
        handlers.post_published(
            s, feed_ev.PostPublished(post_id="post-1", author_user_id=maker, generation_id=g1, cameo_ids=[cameo]), None
        )
        handlers.generation_requested(s, gen_event(gen_ev.GenerationRequested, g2, maker, [cameo], "a draft"), None)
        handlers.generation_completed(s, gen_event(gen_ev.GenerationCompleted, g2, maker, [cameo], "a draft"), None)
        handlers.generation_requested(s, gen_event(gen_ev.GenerationRequested, g3, other, [cameo], "another"), None)
        handlers.generation_requested(s, gen_event(gen_ev.GenerationRequested, "gen-own", owner, [cameo], "me"), None)
    listed = (await replica.stub.ListAppearances(pb.ListAppearancesRequest(cameo_id=cameo), metadata=o)).appearances
    kinds = {a.generation_id: (a.kind, a.post_id, a.creator_handle) for a in listed}
    assert kinds[g1] == (pb.APPEARANCE_KIND_POST, "post-1", "maker")
    assert kinds[g2] == (pb.APPEARANCE_KIND_DRAFT, "", "maker")  # someone else's draft is listed too
    assert kinds[g3][0] == pb.APPEARANCE_KIND_GENERATION and len(listed) == 4
    used = outbox(world, ev.CameoUsed)
    assert sorted(u.generation_id for u in used) == [g1, g2, g3]  # not for the owner's own use
    notes = (await replica.stub.ListNotifications(pb.ListNotificationsRequest(), metadata=o)).notifications
    assert sum(n.kind == pb.NOTIFICATION_KIND_CAMEO_USED for n in notes) == 3
    assert sum(n.kind == pb.NOTIFICATION_KIND_CAMEO_POSTED for n in notes) == 1
    # The owner deletes someone else's draft: generator is asked to delete it.
    draft = next(a for a in listed if a.generation_id == g2)
    gone = await replica.stub.DeleteAppearance(pb.DeleteAppearanceRequest(appearance_id=draft.id), metadata=o)
    assert gone.appearance.state == pb.APPEARANCE_STATE_TAKEDOWN_REQUESTED
    await fails(
        replica.stub.DeleteAppearance(
            pb.DeleteAppearanceRequest(appearance_id=draft.id), metadata=world.as_user(maker)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    # The maker publishes the deleted draft anyway (events crossed): the post is taken down too.
    with transaction(world.sessions) as s:
        handlers.post_published(
            s, feed_ev.PostPublished(post_id="post-2", author_user_id=maker, generation_id=g2, cameo_ids=[cameo]), None
        )
    late_post = outbox(world, ev.TakedownRequested)[-1]
    assert (late_post.target_kind, list(late_post.target_ids)) == (ev.TAKEDOWN_TARGET_KIND_POST, ["post-2"])
    # Revoke maker with takedown: the post and its generation go.
    revoked = await replica.stub.RevokeAccess(
        pb.RevokeAccessRequest(cameo_id=cameo, user_id=maker, takedown=True), metadata=o
    )
    assert revoked.takedown_count == 1
    d = (await check(replica, world, maker, [cameo])).decisions[0]
    assert not d.allowed and d.reason == pb.DECISION_REASON_BLOCKED
    takedowns = outbox(world, ev.TakedownRequested)
    targets = [(t.target_kind, list(t.target_ids), t.cause) for t in takedowns]
    assert targets == [
        (ev.TAKEDOWN_TARGET_KIND_GENERATION, [g2], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED),
        (ev.TAKEDOWN_TARGET_KIND_POST, ["post-2"], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED),
        (ev.TAKEDOWN_TARGET_KIND_GENERATION, [g1], ev.TAKEDOWN_CAUSE_ACCESS_REVOKED),
        (ev.TAKEDOWN_TARGET_KIND_POST, ["post-1"], ev.TAKEDOWN_CAUSE_ACCESS_REVOKED),
    ]
    assert outbox(world, ev.AccessRevoked)[0].user_id == maker
    # Generator and feed report back: the appearance is removed from the default listing.
    with transaction(world.sessions) as s:
        handlers.generation_gone(
            s, gen_event(gen_ev.GenerationTakenDown, g1, maker, [cameo], takedown_id=takedowns[2].takedown_id), None
        )
        handlers.post_removed(
            s,
            feed_ev.PostRemoved(
                post_id="post-1", generation_id=g1, cameo_ids=[cameo], reason=feed_ev.REMOVAL_REASON_TAKEN_DOWN
            ),
            None,
        )
    listed = (await replica.stub.ListAppearances(pb.ListAppearancesRequest(cameo_id=cameo), metadata=o)).appearances
    assert g1 not in {a.generation_id for a in listed}
    # A generation indexed after its creator lost access is taken down straight away (check-then-act gap).
    with transaction(world.sessions) as s:
        handlers.generation_requested(s, gen_event(gen_ev.GenerationRequested, "gen-late", maker, [cameo], "x"), None)
    late = outbox(world, ev.TakedownRequested)[-1]
    assert list(late.target_ids) == ["gen-late"] and late.cause == ev.TAKEDOWN_CAUSE_ACCESS_REVOKED
    # The audit log tells the story, in order, and can't be rewritten.
    audit = (await replica.stub.ListAuditLog(pb.ListAuditLogRequest(cameo_id=cameo), metadata=o)).entries
    actions = [pb.AuditAction.Name(e.action) for e in audit]
    assert actions[:2] == ["AUDIT_ACTION_CAMEO_CREATED", "AUDIT_ACTION_POLICY_CHANGED"]
    assert "AUDIT_ACTION_ACCESS_REVOKED" in actions and actions.count("AUDIT_ACTION_TAKEDOWN_REQUESTED") == 4
    revoke_entry = next(e for e in audit if e.action == pb.AUDIT_ACTION_ACCESS_REVOKED)
    assert revoke_entry.subject_user_id == maker and json.loads(revoke_entry.detail_json) == {"takedown": True}
    with pytest.raises(Exception, match="append-only"):
        with world.engine.begin() as c:
            c.execute(text("UPDATE audit_log SET actor_user_id = 'x'"))
    with pytest.raises(Exception, match="append-only"):
        with world.engine.begin() as c:
            c.execute(text("DELETE FROM audit_log"))


async def test_list_cameos_usable_by_caller(replica, world):
    me, open_, closed, friend = world.user("me"), world.user("openo"), world.user("closedo"), world.user("friendo")
    cams = {u: world.verify(u) for u in (open_, closed, friend)}
    await replica.stub.SetPolicy(
        pb.SetPolicyRequest(cameo_id=cams[open_], policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(open_)
    )
    await replica.stub.SetPolicy(
        pb.SetPolicyRequest(cameo_id=cams[friend], policy=common.CAMEO_POLICY_MUTUALS), metadata=world.as_user(friend)
    )
    world.follow(me, friend)
    world.follow(friend, me)
    got = await replica.stub.ListCameos(pb.ListCameosRequest(usable_by_caller=True), metadata=world.as_user(me))
    assert {c.id for c in got.cameos} == {cams[open_], cams[friend]}
    world.follow(friend, me, following=False)  # no longer mutual
    got = await replica.stub.ListCameos(
        pb.ListCameosRequest(usable_by_caller=True, query="fr"), metadata=world.as_user(me)
    )
    assert got.cameos == []


async def test_feed_block_also_blocks_the_cameo(replica, world):
    owner, troll = world.user("bea"), world.user("troll")
    cameo = world.verify(owner)
    await replica.stub.SetPolicy(
        pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=world.as_user(owner)
    )
    assert (await check(replica, world, troll, [cameo])).all_allowed
    for blocked in (True, False):
        with transaction(world.sessions) as s:
            handlers.block_changed(
                s, feed_ev.BlockChanged(blocker_user_id=owner, blocked_user_id=troll, blocked=blocked), None
            )
        d = (await check(replica, world, troll, [cameo])).decisions[0]
        assert d.allowed is not blocked
        assert d.reason == (pb.DECISION_REASON_BLOCKED if blocked else pb.DECISION_REASON_ALLOWED_EVERYONE)


async def test_lists_page_through_every_row_once_in_order(replica, world):
    """Offset pages (kinora.runtime.paging): pages of 2 give the rows of one large page, in
    its order, each once; the last page has no token; a negative size and an edited token
    are refused."""
    prefix = f"pg{uuid.uuid4().hex[:6]}"
    viewer = world.user(f"{prefix}viewer")
    for i in range(5):
        world.verify(world.user(f"{prefix}{i}"))
    me = world.as_user(viewer)
    whole = await replica.stub.ListCameos(
        pb.ListCameosRequest(query=prefix, page=common.PageRequest(page_size=200)), metadata=me
    )
    assert len(whole.cameos) == 5 and not whole.next_page_token
    seen, token, pages = [], "", 0
    while True:
        got = await replica.stub.ListCameos(
            pb.ListCameosRequest(query=prefix, page=common.PageRequest(page_size=2, page_token=token)), metadata=me
        )
        seen += [c.id for c in got.cameos]
        pages, token = pages + 1, got.next_page_token
        if not token:
            break
    assert seen == [c.id for c in whole.cameos] and pages == 3
    err = await fails(
        replica.stub.ListCameos(pb.ListCameosRequest(query=prefix, page=common.PageRequest(page_size=-1)), metadata=me),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_size",
    )
    assert error_code_of(err) == "invalid_page_size"
    first = await replica.stub.ListCameos(
        pb.ListCameosRequest(query=prefix, page=common.PageRequest(page_size=2)), metadata=me
    )
    assert first.next_page_token
    err = await fails(
        replica.stub.ListCameos(
            pb.ListCameosRequest(query=prefix, page=common.PageRequest(page_token=first.next_page_token + "!!")),
            metadata=me,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    )
    assert error_code_of(err) == "invalid_page_token"
