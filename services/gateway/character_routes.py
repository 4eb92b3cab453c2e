"""Characters (`/api/v1/characters…`): cameos of an animal, object or drawing (docs/cameo.md, "Characters").

Made from an upload (no liveness check; a human face in it is refused by cameo), then managed like
the caller's own cameo, by id: the same policy, approvals, blocks, restrictions, revocation,
appearances and deletion, each one services/gateway/cameos.py's implementation with the character
as its target.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import FormData

from kinora.cameo.v1 import cameo_pb2 as cpb
from services.gateway.cameos import (
    ApprovalRequestBody,
    HandleBody,
    PolicyBody,
    RestrictionBody,
    RevokeBody,
    add_restriction_to,
    approve_on,
    block_on,
    delete_cameo_of,
    deny_on,
    list_appearances_of,
    list_approvals_of,
    list_restrictions_of,
    remove_approval_on,
    request_approval_of,
    revoke_on,
    set_policy_of,
)
from services.gateway.core import Gateway
from services.gateway.shared import API_PREFIX, ApiError, Caller, PageSize, as_json, gw, page
from services.gateway.uploads import read_upload

router = APIRouter(prefix=API_PREFIX)


async def character(g: Gateway, character_id: str) -> cpb.Cameo:
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


async def new_character(g: Gateway, form: FormData, data: bytes, content_type: str, filename: str) -> cpb.Cameo:
    """A new character from an upload and its multipart fields `name`, `handle` and `description`
    (here and in the Videos API, services/gateway/characters.py); cameo refuses a human face in it."""
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
    return reply.cameo


@router.post("/characters", status_code=201, tags=["characters"])
async def create_character(request: Request, caller=Caller):
    """Make a character from an image (PNG, JPEG, WebP) or a short video (MP4, MOV, WebM, up to 20 s) of
    an animal, object or drawing: multipart fields `media`, `name`, optional `handle` (3-30 of a-z, 0-9,
    `_`; derived from the name when left out) and `description`. A human face in it is refused
    (`human_face_in_character`): people join as cameos, with the liveness check."""
    g = gw(request)
    form, data, content_type, filename = await read_upload(request, "media")
    return as_json(await new_character(g, form, data, content_type, filename))


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
    return as_json(await character(gw(request), character_id))


@router.delete("/characters/{character_id}", tags=["characters"])
async def delete_character(character_id: str, request: Request, caller=Caller, takedown: bool = True):
    """Delete a character; by default every clip and post with it is taken down."""
    g = gw(request)
    return await delete_cameo_of(g, character(g, character_id), takedown)


@router.put("/characters/{character_id}/policy", tags=["characters"])
async def set_character_policy(character_id: str, body: PolicyBody, request: Request, caller=Caller):
    g = gw(request)
    return await set_policy_of(g, character(g, character_id), body)


@router.post("/characters/{character_id}/approvals", tags=["characters"])
async def approve_for_character(character_id: str, body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    return await approve_on(g, character(g, character_id), body.handle)


@router.post("/characters/{character_id}/approvals/{handle}/deny", tags=["characters"])
async def deny_for_character(character_id: str, handle: str, request: Request, caller=Caller):
    g = gw(request)
    return await deny_on(g, character(g, character_id), handle)


@router.delete("/characters/{character_id}/approvals/{handle}", tags=["characters"])
async def remove_character_approval(character_id: str, handle: str, request: Request, caller=Caller):
    g = gw(request)
    return await remove_approval_on(g, character(g, character_id), handle)


@router.get("/characters/{character_id}/approvals", tags=["characters"])
async def list_character_approvals(
    character_id: str, request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""
):
    g = gw(request)
    return await list_approvals_of(g, character(g, character_id), page_size, page_token)


@router.post("/characters/{character_id}/approval-requests", status_code=201, tags=["characters"])
async def request_character_approval(character_id: str, body: ApprovalRequestBody, request: Request, caller=Caller):
    g = gw(request)
    return await request_approval_of(g, (await character(g, character_id)).id, body.message)


@router.post("/characters/{character_id}/revocations", tags=["characters"])
async def revoke_character(character_id: str, body: RevokeBody, request: Request, caller=Caller):
    """Withdraw a person's access to your character; by default their videos with it are taken down."""
    g = gw(request)
    return await revoke_on(g, character(g, character_id), body)


@router.post("/characters/{character_id}/blocks", tags=["characters"])
async def block_character_user(character_id: str, body: HandleBody, request: Request, caller=Caller):
    g = gw(request)
    return await block_on(g, character(g, character_id), body.handle)


@router.get("/characters/{character_id}/restrictions", tags=["characters"])
async def list_character_restrictions(character_id: str, request: Request, caller=Caller):
    g = gw(request)
    return await list_restrictions_of(g, character(g, character_id))


@router.post("/characters/{character_id}/restrictions", status_code=201, tags=["characters"])
async def add_character_restriction(character_id: str, body: RestrictionBody, request: Request, caller=Caller):
    g = gw(request)
    return await add_restriction_to(g, character(g, character_id), body)


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
    return await list_appearances_of(g, character(g, character_id), include_removed, page_size, page_token)
