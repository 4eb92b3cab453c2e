"""Cameo verification and consent (`/api/v1/cameo…`, `/cameos…`) and the notifications about them.

What an owner does to a cameo (policy, approvals, revocations, blocks, restrictions, appearances,
deletion) is written once here for any cameo they manage; the caller's own person cameo is its
target at `/cameo/…`, a character at `/characters/{character_id}/…` (services/gateway/character_routes.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kinora.cameo.v1 import cameo_pb2 as cpb
from kinora.identity.v1 import identity_pb2 as ipb
from services.gateway.core import Gateway
from services.gateway.shared import (
    API_PREFIX,
    POLICIES,
    ApiError,
    Caller,
    PageSize,
    as_json,
    cameo_id_of,
    gw,
    my_cameo,
    page,
    user_id_of,
)
from services.gateway.uploads import read_upload

router = APIRouter(prefix=API_PREFIX)


@router.post("/cameo/verifications", status_code=201, tags=["cameo"])
async def start_verification(request: Request, caller=Caller):
    """Starts a liveness check: read the digits aloud and turn your head as asked."""
    g = gw(request)
    return as_json(await g.identity.StartVerification(ipb.StartVerificationRequest(), timeout=g.timeout))


@router.post("/cameo/verifications/{verification_id}/video", tags=["cameo"])
async def submit_verification(verification_id: str, request: Request, caller=Caller):
    """Upload the recording (multipart fields `video` and `nonce` — the challenge's single-use
    nonce, proving this upload answers the challenge you were shown; optional `display_name`)."""
    g = gw(request)
    form, data, content_type, filename = await read_upload(request, "video")
    if not form.get("nonce"):
        raise ApiError(400, "nonce_required", "send the challenge's nonce in the 'nonce' field with the video")
    reply = await g.identity.SubmitVerification(
        ipb.SubmitVerificationRequest(
            verification_id=verification_id,
            nonce=str(form.get("nonce")),
            video=data,
            content_type=content_type,
            filename=filename,
            cameo_display_name=str(form.get("display_name") or ""),
        ),
        timeout=max(g.timeout, 120),
    )
    return as_json(reply)


@router.get("/cameo/verifications/{verification_id}", tags=["cameo"])
async def get_verification(verification_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.identity.GetVerification(ipb.GetVerificationRequest(verification_id=verification_id), timeout=g.timeout)
    )


@router.get("/cameo", tags=["cameo"])
async def get_my_cameo(request: Request, caller=Caller):
    return as_json(await my_cameo(gw(request), caller))


@router.delete("/cameo", tags=["cameo"])
async def delete_my_cameo(request: Request, caller=Caller, takedown: bool = True):
    g = gw(request)
    return await delete_cameo_of(g, my_cameo(g, caller), takedown)


@router.get("/cameos", tags=["cameo"])
async def list_cameos(
    request: Request,
    caller=Caller,
    query: str = "",
    usable: bool = False,
    page_size: PageSize = 0,
    page_token: str = "",
):
    g = gw(request)
    return as_json(
        await g.cameo.ListCameos(
            cpb.ListCameosRequest(query=query, usable_by_caller=usable, page=page(page_size, page_token)),
            timeout=g.timeout,
        )
    )


class PolicyBody(BaseModel):
    policy: Literal["only_me", "approved", "mutuals", "everyone"]


class HandleBody(BaseModel):
    handle: str


class RevokeBody(BaseModel):
    handle: str
    takedown: bool = True


class ApprovalRequestBody(BaseModel):
    message: str = ""


class RestrictionBody(BaseModel):
    text: str


# -- what an owner does to a cameo they manage: their own person cameo (`/cameo/…`, here) or one of
# their characters (`/characters/{character_id}/…`, services/gateway/character_routes.py). One
# implementation per action; its `target` is the cameo still to be looked up (`my_cameo(g, caller)`
# or `character(g, character_id)`), so that it is fetched alongside the other user's id.

Target = Awaitable[cpb.Cameo]


async def set_policy_of(g: Gateway, target: Target, body: PolicyBody) -> dict:
    cameo = await target
    return as_json(
        await g.cameo.SetPolicy(
            cpb.SetPolicyRequest(cameo_id=cameo.id, policy=POLICIES[body.policy]), timeout=g.timeout
        )
    )


async def approve_on(g: Gateway, target: Target, handle: str) -> dict:
    cameo, other = await asyncio.gather(target, user_id_of(g, handle))
    return as_json(await g.cameo.Approve(cpb.ApproveRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


async def deny_on(g: Gateway, target: Target, handle: str) -> dict:
    cameo, other = await asyncio.gather(target, user_id_of(g, handle))
    return as_json(await g.cameo.Deny(cpb.DenyRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


async def remove_approval_on(g: Gateway, target: Target, handle: str) -> dict:
    cameo, other = await asyncio.gather(target, user_id_of(g, handle))
    return as_json(
        await g.cameo.RemoveApproval(cpb.RemoveApprovalRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout)
    )


async def list_approvals_of(g: Gateway, target: Target, page_size: int, page_token: str) -> dict:
    cameo = await target
    return as_json(
        await g.cameo.ListApprovals(
            cpb.ListApprovalsRequest(cameo_id=cameo.id, page=page(page_size, page_token)), timeout=g.timeout
        )
    )


async def request_approval_of(g: Gateway, cameo_id: str, message: str) -> dict:
    """Ask the owner of someone else's cameo (a person's, by handle; a character, by id) for access."""
    return as_json(
        await g.cameo.RequestApproval(cpb.RequestApprovalRequest(cameo_id=cameo_id, message=message), timeout=g.timeout)
    )


async def revoke_on(g: Gateway, target: Target, body: RevokeBody) -> dict:
    cameo, other = await asyncio.gather(target, user_id_of(g, body.handle))
    return as_json(
        await g.cameo.RevokeAccess(
            cpb.RevokeAccessRequest(cameo_id=cameo.id, user_id=other, takedown=body.takedown), timeout=g.timeout
        )
    )


async def block_on(g: Gateway, target: Target, handle: str) -> dict:
    cameo, other = await asyncio.gather(target, user_id_of(g, handle))
    return as_json(await g.cameo.BlockUser(cpb.BlockUserRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


async def list_restrictions_of(g: Gateway, target: Target) -> dict:
    cameo = await target
    return as_json(await g.cameo.ListRestrictions(cpb.ListRestrictionsRequest(cameo_id=cameo.id), timeout=g.timeout))


async def add_restriction_to(g: Gateway, target: Target, body: RestrictionBody) -> dict:
    cameo = await target
    return as_json(
        await g.cameo.AddRestriction(cpb.AddRestrictionRequest(cameo_id=cameo.id, text=body.text), timeout=g.timeout)
    )


async def list_appearances_of(
    g: Gateway, target: Target, include_removed: bool, page_size: int, page_token: str
) -> dict:
    cameo = await target
    return as_json(
        await g.cameo.ListAppearances(
            cpb.ListAppearancesRequest(
                cameo_id=cameo.id, include_removed=include_removed, page=page(page_size, page_token)
            ),
            timeout=g.timeout,
        )
    )


async def delete_cameo_of(g: Gateway, target: Target, takedown: bool) -> dict:
    cameo = await target
    return as_json(
        await g.cameo.DeleteCameo(cpb.DeleteCameoRequest(cameo_id=cameo.id, takedown=takedown), timeout=g.timeout)
    )


# -- the caller's own person cameo ---------------------------------------------------------------


@router.put("/cameo/policy", tags=["cameo"])
async def set_policy(body: PolicyBody, request: Request, caller=Caller):
    g = gw(request)
    return await set_policy_of(g, my_cameo(g, caller), body)


@router.post("/cameo/approvals", tags=["cameo"])
async def approve(body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    return await approve_on(g, my_cameo(g, caller), body.handle)


@router.post("/cameo/approvals/{handle}/deny", tags=["cameo"])
async def deny(handle: str, request: Request, caller=Caller):
    g = gw(request)
    return await deny_on(g, my_cameo(g, caller), handle)


@router.delete("/cameo/approvals/{handle}", tags=["cameo"])
async def remove_approval(handle: str, request: Request, caller=Caller):
    g = gw(request)
    return await remove_approval_on(g, my_cameo(g, caller), handle)


@router.get("/cameo/approvals", tags=["cameo"])
async def list_approvals(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return await list_approvals_of(g, my_cameo(g, caller), page_size, page_token)


@router.post("/cameos/{handle}/approval-requests", status_code=201, tags=["cameo"])
async def request_approval(handle: str, body: ApprovalRequestBody, request: Request, caller=Caller):
    g = gw(request)
    return await request_approval_of(g, await cameo_id_of(g, handle), body.message)


@router.post("/cameo/revocations", tags=["cameo"])
async def revoke(body: RevokeBody, request: Request, caller=Caller):
    """Withdraw a person's access to your cameo; by default their videos with it are taken down."""
    g = gw(request)
    return await revoke_on(g, my_cameo(g, caller), body)


@router.post("/cameo/blocks", tags=["cameo"])
async def block_cameo_user(body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    return await block_on(g, my_cameo(g, caller), body.handle)


@router.get("/cameo/restrictions", tags=["cameo"])
async def list_restrictions(request: Request, caller=Caller):
    g = gw(request)
    return await list_restrictions_of(g, my_cameo(g, caller))


@router.post("/cameo/restrictions", status_code=201, tags=["cameo"])
async def add_restriction(body: RestrictionBody, request: Request, caller=Caller):
    g = gw(request)
    return await add_restriction_to(g, my_cameo(g, caller), body)


@router.delete("/cameo/restrictions/{restriction_id}", tags=["cameo"])
async def remove_restriction(restriction_id: str, request: Request, caller=Caller):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(
        await g.cameo.RemoveRestriction(
            cpb.RemoveRestrictionRequest(cameo_id=cameo.id, restriction_id=restriction_id), timeout=g.timeout
        )
    )


@router.get("/cameo/appearances", tags=["cameo"])
async def list_appearances(
    request: Request, caller=Caller, include_removed: bool = False, page_size: PageSize = 0, page_token: str = ""
):
    g = gw(request)
    return await list_appearances_of(g, my_cameo(g, caller), include_removed, page_size, page_token)


@router.delete("/cameo/appearances/{appearance_id}", tags=["cameo"])
async def delete_appearance(appearance_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.cameo.DeleteAppearance(cpb.DeleteAppearanceRequest(appearance_id=appearance_id), timeout=g.timeout)
    )


class MarkRead(BaseModel):
    notification_ids: list[str] = []


@router.get("/notifications", tags=["cameo"])
async def list_notifications(
    request: Request, caller=Caller, unread_only: bool = False, page_size: PageSize = 0, page_token: str = ""
):
    g = gw(request)
    return as_json(
        await g.cameo.ListNotifications(
            cpb.ListNotificationsRequest(unread_only=unread_only, page=page(page_size, page_token)), timeout=g.timeout
        )
    )


@router.post("/notifications/read", tags=["cameo"])
async def mark_read(body: MarkRead, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.cameo.MarkNotificationsRead(
            cpb.MarkNotificationsReadRequest(notification_ids=body.notification_ids), timeout=g.timeout
        )
    )
