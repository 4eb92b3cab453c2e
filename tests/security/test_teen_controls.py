"""Teen accounts (issue 20, part 5).

Before: a teen unlinked their guardian and linked an adult account they controlled, lifting the
feed cap and cameo limits; any user read any account's age group and guardian. Now only the
guardian ends the link (or support, with a reason that is recorded), a teen's new guardian needs
the current or previous guardian's approval, and age group and guardian are shown only to the
account, its guardian and services."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import grpc
import pytest

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import events_pb2
from kinora.identity.v1 import identity_pb2 as pb
from kinora.testing import bearer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "identity"))
from identity_harness import Running, settings_for  # noqa: E402


@pytest.fixture
async def idsvc(pg_url, tmp_path):
    async with Running(settings_for(pg_url, tmp_path / "blobs")) as running:
        yield running


def fifteen() -> str:
    today = date.today()
    return today.replace(year=today.year - 15, day=min(today.day, 28)).isoformat()


async def code_of(call) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


async def link(stub, guardian_md, teen_md) -> pb.GuardianLink:
    started = await stub.StartGuardianLink(
        pb.StartGuardianLinkRequest(role=pb.GUARDIAN_ROLE_GUARDIAN), metadata=guardian_md
    )
    return (await stub.ConfirmGuardianLink(pb.ConfirmGuardianLinkRequest(code=started.code), metadata=teen_md)).link


@pytest.fixture
async def family(idsvc):
    parent, teen, accomplice = (
        await idsvc.sign_up("parent"),
        await idsvc.sign_up("kid", birthdate=fifteen()),
        await idsvc.sign_up("fakeadult"),
    )
    pmd, tmd, amd = (bearer(x.tokens.access_token) for x in (parent, teen, accomplice))
    first = await link(idsvc.stub, pmd, tmd)
    assert first.status == pb.GUARDIAN_LINK_STATUS_ACTIVE
    return parent, teen, accomplice, pmd, tmd, amd, first


async def test_teen_cannot_unlink_or_swap_in_an_adult_they_control(idsvc, family):
    stub = idsvc.stub
    parent, teen, accomplice, pmd, tmd, amd, first = family
    assert (
        await code_of(stub.UnlinkGuardian(pb.UnlinkGuardianRequest(link_id=first.id), metadata=tmd))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    # A new link confirmed by the teen and an adult they control waits for the guardian.
    swap = await link(stub, amd, tmd)
    assert swap.status == pb.GUARDIAN_LINK_STATUS_AWAITING_APPROVAL and swap.approver_user_id == parent.user.id
    for md in (tmd, amd):  # neither side of the new link can approve it
        assert (
            await code_of(stub.ApproveGuardianLink(pb.ApproveGuardianLinkRequest(link_id=swap.id), metadata=md))
            == grpc.StatusCode.PERMISSION_DENIED
        )
    me = (await stub.GetUser(pb.GetUserRequest(user_id=teen.user.id), metadata=tmd)).user
    assert me.guardian_user_id == parent.user.id, "the guardian is unchanged until approval"
    assert (
        await code_of(
            stub.SetParentalControls(
                pb.SetParentalControlsRequest(
                    teen_user_id=teen.user.id,
                    controls=pb.ParentalControls(
                        daily_feed_item_cap=0, max_cameo_policy=common_pb2.CAMEO_POLICY_EVERYONE
                    ),
                ),
                metadata=amd,
            )
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    # The guardian sees the request and may turn it down.
    pending = (await stub.ListGuardianLinks(pb.ListGuardianLinksRequest(), metadata=pmd)).links
    assert swap.id in {x.id for x in pending}
    assert (
        await stub.UnlinkGuardian(pb.UnlinkGuardianRequest(link_id=swap.id), metadata=pmd)
    ).link.status == pb.GUARDIAN_LINK_STATUS_UNLINKED

    # After the guardian unlinks, a new guardian still needs that guardian's approval...
    await stub.UnlinkGuardian(pb.UnlinkGuardianRequest(link_id=first.id), metadata=pmd)
    again = await link(stub, amd, tmd)
    assert again.status == pb.GUARDIAN_LINK_STATUS_AWAITING_APPROVAL and again.approver_user_id == parent.user.id
    assert (await stub.GetUser(pb.GetUserRequest(user_id=teen.user.id), metadata=tmd)).user.guardian_user_id == ""
    # ...and once given, the new guardian is active.
    approved = await stub.ApproveGuardianLink(pb.ApproveGuardianLinkRequest(link_id=again.id), metadata=pmd)
    assert (
        approved.link.status == pb.GUARDIAN_LINK_STATUS_ACTIVE and approved.link.guardian_user_id == accomplice.user.id
    )


async def test_guardian_hands_over_and_support_unlinks_with_a_recorded_reason(idsvc, family):
    stub = idsvc.stub
    parent, teen, other_parent, pmd, tmd, omd, first = family
    handover = await link(stub, omd, tmd)
    approved = await stub.ApproveGuardianLink(pb.ApproveGuardianLinkRequest(link_id=handover.id), metadata=pmd)
    assert approved.link.status == pb.GUARDIAN_LINK_STATUS_ACTIVE
    old = {x.id: x for x in (await stub.ListGuardianLinks(pb.ListGuardianLinksRequest(), metadata=pmd)).links}
    assert (
        old[first.id].status == pb.GUARDIAN_LINK_STATUS_UNLINKED and old[first.id].unlinked_by_user_id == parent.user.id
    )

    # Support: only the admin service, only with a reason.
    request = pb.UnlinkGuardianRequest(link_id=handover.id)
    assert (
        await code_of(stub.UnlinkGuardian(request, metadata=idsvc.service_md("generator")))
        == grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        await code_of(stub.UnlinkGuardian(request, metadata=idsvc.service_md("admin")))
        == grpc.StatusCode.INVALID_ARGUMENT
    )
    request.reason = "ticket 4411: guardian account reported compromised"
    gone = (await stub.UnlinkGuardian(request, metadata=idsvc.service_md("admin"))).link
    assert gone.status == pb.GUARDIAN_LINK_STATUS_UNLINKED and gone.unlinked_by_user_id == "service:admin"
    [event] = [
        e
        for e in (
            events_pb2.GuardianUnlinked.FromString(r.payload)
            for r in idsvc.outbox("kinora.identity.v1.GuardianUnlinked")
        )
        if e.link_id == handover.id
    ]
    assert event.unlinked_by_user_id == "service:admin" and event.reason == request.reason


async def test_age_group_and_guardian_are_private(idsvc, family):
    stub = idsvc.stub
    parent, teen, stranger, pmd, tmd, smd, first = family
    asked = [
        stub.GetUser(pb.GetUserRequest(user_id=teen.user.id), metadata=smd),
        stub.GetUserByHandle(pb.GetUserByHandleRequest(handle="kid"), metadata=smd),
    ]
    seen = [(await call).user for call in asked]
    seen += list(
        (await stub.BatchGetUsers(pb.BatchGetUsersRequest(user_ids=[teen.user.id, parent.user.id]), metadata=smd)).users
    )
    for user in seen:
        assert user.age_group == common_pb2.AGE_GROUP_UNSPECIFIED and user.guardian_user_id == "", user
        assert user.handle in ("kid", "parent")  # the public profile is still there
    for md in (tmd, pmd, idsvc.service_md("feed")):  # the teen, the guardian, a service
        user = (await stub.GetUser(pb.GetUserRequest(user_id=teen.user.id), metadata=md)).user
        assert user.age_group == common_pb2.AGE_GROUP_TEEN and user.guardian_user_id == parent.user.id
