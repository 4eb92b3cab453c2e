"""Cameo verification and consent (`/api/v1/cameo…`, `/cameos…`) and the notifications about them."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kinora.cameo.v1 import cameo_pb2 as cpb
from kinora.identity.v1 import identity_pb2 as ipb
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
    cameo = await my_cameo(g, caller)
    return as_json(
        await g.cameo.DeleteCameo(cpb.DeleteCameoRequest(cameo_id=cameo.id, takedown=takedown), timeout=g.timeout)
    )


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


@router.put("/cameo/policy", tags=["cameo"])
async def set_policy(body: PolicyBody, request: Request, caller=Caller):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(
        await g.cameo.SetPolicy(
            cpb.SetPolicyRequest(cameo_id=cameo.id, policy=POLICIES[body.policy]), timeout=g.timeout
        )
    )


@router.post("/cameo/approvals", tags=["cameo"])
async def approve(body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(my_cameo(g, caller), user_id_of(g, body.handle))
    return as_json(await g.cameo.Approve(cpb.ApproveRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


@router.post("/cameo/approvals/{handle}/deny", tags=["cameo"])
async def deny(handle: str, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(my_cameo(g, caller), user_id_of(g, handle))
    return as_json(await g.cameo.Deny(cpb.DenyRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


@router.delete("/cameo/approvals/{handle}", tags=["cameo"])
async def remove_approval(handle: str, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(my_cameo(g, caller), user_id_of(g, handle))
    return as_json(
        await g.cameo.RemoveApproval(cpb.RemoveApprovalRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout)
    )


@router.get("/cameo/approvals", tags=["cameo"])
async def list_approvals(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(
        await g.cameo.ListApprovals(
            cpb.ListApprovalsRequest(cameo_id=cameo.id, page=page(page_size, page_token)), timeout=g.timeout
        )
    )


@router.post("/cameos/{handle}/approval-requests", status_code=201, tags=["cameo"])
async def request_approval(handle: str, body: ApprovalRequestBody, request: Request, caller=Caller):
    g = gw(request)
    cameo_id = await cameo_id_of(g, handle)
    return as_json(
        await g.cameo.RequestApproval(
            cpb.RequestApprovalRequest(cameo_id=cameo_id, message=body.message), timeout=g.timeout
        )
    )


@router.post("/cameo/revocations", tags=["cameo"])
async def revoke(body: RevokeBody, request: Request, caller=Caller):
    """Withdraw a person's access to your cameo; by default their videos with it are taken down."""
    g = gw(request)
    cameo, other = await asyncio.gather(my_cameo(g, caller), user_id_of(g, body.handle))
    return as_json(
        await g.cameo.RevokeAccess(
            cpb.RevokeAccessRequest(cameo_id=cameo.id, user_id=other, takedown=body.takedown), timeout=g.timeout
        )
    )


@router.post("/cameo/blocks", tags=["cameo"])
async def block_cameo_user(body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(my_cameo(g, caller), user_id_of(g, body.handle))
    return as_json(await g.cameo.BlockUser(cpb.BlockUserRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


@router.get("/cameo/restrictions", tags=["cameo"])
async def list_restrictions(request: Request, caller=Caller):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(await g.cameo.ListRestrictions(cpb.ListRestrictionsRequest(cameo_id=cameo.id), timeout=g.timeout))


@router.post("/cameo/restrictions", status_code=201, tags=["cameo"])
async def add_restriction(body: RestrictionBody, request: Request, caller=Caller):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(
        await g.cameo.AddRestriction(cpb.AddRestrictionRequest(cameo_id=cameo.id, text=body.text), timeout=g.timeout)
    )


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
    cameo = await my_cameo(g, caller)
    return as_json(
        await g.cameo.ListAppearances(
            cpb.ListAppearancesRequest(
                cameo_id=cameo.id, include_removed=include_removed, page=page(page_size, page_token)
            ),
            timeout=g.timeout,
        )
    )


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


# -- characters: cameos of an animal, object or drawing (docs/cameo.md, "Characters") --------------
# Made from an upload (no liveness check; a human face in it is refused by cameo), then managed like
# the caller's own cameo, by id: the same policy, approvals, blocks, restrictions, revocation,
# appearances and deletion RPCs.


async def _character(g, character_id: str) -> cpb.Cameo:
    """A character by id, or by '@handle'; 404 for a person's cameo."""
    request = (
        cpb.GetCameoRequest(handle=character_id)
        if character_id.startswith("@")
        else cpb.GetCameoRequest(cameo_id=character_id)
    )
    cameo = (await g.cameo.GetCameo(request, timeout=g.timeout)).cameo
    if cameo.kind != cpb.CAMEO_KIND_CHARACTER:
        raise ApiError(
            404,
            "character_not_found",
            "there is no character with this id (a person's cameo is not a character: see /api/v1/cameo)",
        )
    return cameo


@router.post("/characters", status_code=201, tags=["characters"])
async def create_character(request: Request, caller=Caller):
    """Make a character from an image (PNG, JPEG, WebP) or a short video (MP4, MOV, WebM, up to 20 s) of
    an animal, object or drawing: multipart fields `media`, `name`, optional `handle` (3-30 of a-z, 0-9,
    `_`; derived from the name when left out) and `description`. A human face in it is refused
    (`human_face_in_character`): people join as cameos, with the liveness check."""
    g = gw(request)
    form, data, content_type, filename = await read_upload(request, "media")
    reply = await g.cameo.CreateCharacter(
        cpb.CreateCharacterRequest(
            name=str(form.get("name") or ""),
            handle=str(form.get("handle") or ""),
            description=str(form.get("description") or ""),
            media=data,
            content_type=content_type,
            filename=filename,
        ),
        timeout=max(g.timeout, 120),
    )
    return as_json(reply.cameo)


@router.get("/characters", tags=["characters"])
async def list_my_characters(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(
        await g.cameo.ListCameos(
            cpb.ListCameosRequest(
                owned_by_caller=True, kind=cpb.CAMEO_KIND_CHARACTER, page=page(page_size, page_token)
            ),
            timeout=g.timeout,
        )
    )


@router.get("/characters/{character_id}", tags=["characters"])
async def get_character(character_id: str, request: Request, caller=Caller):
    return as_json(await _character(gw(request), character_id))


@router.delete("/characters/{character_id}", tags=["characters"])
async def delete_character(character_id: str, request: Request, caller=Caller, takedown: bool = True):
    """Delete a character; by default every clip and post with it is taken down."""
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(
        await g.cameo.DeleteCameo(cpb.DeleteCameoRequest(cameo_id=cameo.id, takedown=takedown), timeout=g.timeout)
    )


@router.put("/characters/{character_id}/policy", tags=["characters"])
async def set_character_policy(character_id: str, body: PolicyBody, request: Request, caller=Caller):
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(
        await g.cameo.SetPolicy(
            cpb.SetPolicyRequest(cameo_id=cameo.id, policy=POLICIES[body.policy]), timeout=g.timeout
        )
    )


@router.post("/characters/{character_id}/approvals", tags=["characters"])
async def approve_for_character(character_id: str, body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(_character(g, character_id), user_id_of(g, body.handle))
    return as_json(await g.cameo.Approve(cpb.ApproveRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


@router.post("/characters/{character_id}/approvals/{handle}/deny", tags=["characters"])
async def deny_for_character(character_id: str, handle: str, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(_character(g, character_id), user_id_of(g, handle))
    return as_json(await g.cameo.Deny(cpb.DenyRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


@router.delete("/characters/{character_id}/approvals/{handle}", tags=["characters"])
async def remove_character_approval(character_id: str, handle: str, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(_character(g, character_id), user_id_of(g, handle))
    return as_json(
        await g.cameo.RemoveApproval(cpb.RemoveApprovalRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout)
    )


@router.get("/characters/{character_id}/approvals", tags=["characters"])
async def list_character_approvals(
    character_id: str, request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""
):
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(
        await g.cameo.ListApprovals(
            cpb.ListApprovalsRequest(cameo_id=cameo.id, page=page(page_size, page_token)), timeout=g.timeout
        )
    )


@router.post("/characters/{character_id}/approval-requests", status_code=201, tags=["characters"])
async def request_character_approval(character_id: str, body: ApprovalRequestBody, request: Request, caller=Caller):
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(
        await g.cameo.RequestApproval(
            cpb.RequestApprovalRequest(cameo_id=cameo.id, message=body.message), timeout=g.timeout
        )
    )


@router.post("/characters/{character_id}/revocations", tags=["characters"])
async def revoke_character(character_id: str, body: RevokeBody, request: Request, caller=Caller):
    """Withdraw a person's access to your character; by default their videos with it are taken down."""
    g = gw(request)
    cameo, other = await asyncio.gather(_character(g, character_id), user_id_of(g, body.handle))
    return as_json(
        await g.cameo.RevokeAccess(
            cpb.RevokeAccessRequest(cameo_id=cameo.id, user_id=other, takedown=body.takedown), timeout=g.timeout
        )
    )


@router.post("/characters/{character_id}/blocks", tags=["characters"])
async def block_character_user(character_id: str, body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    cameo, other = await asyncio.gather(_character(g, character_id), user_id_of(g, body.handle))
    return as_json(await g.cameo.BlockUser(cpb.BlockUserRequest(cameo_id=cameo.id, user_id=other), timeout=g.timeout))


@router.get("/characters/{character_id}/restrictions", tags=["characters"])
async def list_character_restrictions(character_id: str, request: Request, caller=Caller):
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(await g.cameo.ListRestrictions(cpb.ListRestrictionsRequest(cameo_id=cameo.id), timeout=g.timeout))


@router.post("/characters/{character_id}/restrictions", status_code=201, tags=["characters"])
async def add_character_restriction(character_id: str, body: RestrictionBody, request: Request, caller=Caller):
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(
        await g.cameo.AddRestriction(cpb.AddRestrictionRequest(cameo_id=cameo.id, text=body.text), timeout=g.timeout)
    )


@router.get("/characters/{character_id}/appearances", tags=["characters"])
async def list_character_appearances(
    character_id: str,
    request: Request,
    caller=Caller,
    include_removed: bool = False,
    page_size: PageSize = 0,
    page_token: str = "",
):
    g = gw(request)
    cameo = await _character(g, character_id)
    return as_json(
        await g.cameo.ListAppearances(
            cpb.ListAppearancesRequest(
                cameo_id=cameo.id, include_removed=include_removed, page=page(page_size, page_token)
            ),
            timeout=g.timeout,
        )
    )
