"""Guardian links and a teen's parental controls (`/api/v1/guardian…`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from kinora.identity.v1 import identity_pb2 as ipb
from services.gateway.shared import API_PREFIX, POLICIES, Caller, as_json, gw

router = APIRouter(prefix=API_PREFIX)


class GuardianStart(BaseModel):
    role: Literal["guardian", "teen"]


class GuardianConfirm(BaseModel):
    code: str


class Controls(BaseModel):
    daily_feed_item_cap: int = Field(0, ge=0, le=100_000)
    non_personalized_feed: bool = False
    max_cameo_policy: Literal["only_me", "approved", "mutuals", "everyone"] = "only_me"


@router.post("/guardian/links", status_code=201, tags=["guardians"])
async def start_guardian_link(body: GuardianStart, request: Request, caller=Caller):
    g = gw(request)
    role = ipb.GUARDIAN_ROLE_GUARDIAN if body.role == "guardian" else ipb.GUARDIAN_ROLE_TEEN
    return as_json(await g.identity.StartGuardianLink(ipb.StartGuardianLinkRequest(role=role), timeout=g.timeout))


@router.post("/guardian/links/confirm", tags=["guardians"])
async def confirm_guardian_link(body: GuardianConfirm, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.identity.ConfirmGuardianLink(ipb.ConfirmGuardianLinkRequest(code=body.code), timeout=g.timeout)
    )


@router.get("/guardian/links", tags=["guardians"])
async def list_guardian_links(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.ListGuardianLinks(ipb.ListGuardianLinksRequest(), timeout=g.timeout))


@router.post("/guardian/links/{link_id}/approve", tags=["guardians"])
async def approve_guardian_link(link_id: str, request: Request, caller=Caller):
    """The teen's current or previous guardian approves the teen's new guardian."""
    g = gw(request)
    return as_json(
        await g.identity.ApproveGuardianLink(ipb.ApproveGuardianLinkRequest(link_id=link_id), timeout=g.timeout)
    )


@router.delete("/guardian/links/{link_id}", tags=["guardians"])
async def unlink_guardian(link_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.UnlinkGuardian(ipb.UnlinkGuardianRequest(link_id=link_id), timeout=g.timeout))


@router.get("/guardian/controls/{teen_user_id}", tags=["guardians"])
async def get_controls(teen_user_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.identity.GetParentalControls(
            ipb.GetParentalControlsRequest(teen_user_id=teen_user_id), timeout=g.timeout
        )
    )


@router.put("/guardian/controls/{teen_user_id}", tags=["guardians"])
async def set_controls(teen_user_id: str, body: Controls, request: Request, caller=Caller):
    g = gw(request)
    controls = ipb.ParentalControls(
        daily_feed_item_cap=body.daily_feed_item_cap,
        non_personalized_feed=body.non_personalized_feed,
        max_cameo_policy=POLICIES[body.max_cameo_policy],
    )
    return as_json(
        await g.identity.SetParentalControls(
            ipb.SetParentalControlsRequest(teen_user_id=teen_user_id, controls=controls), timeout=g.timeout
        )
    )
