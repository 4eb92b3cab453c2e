"""REST/JSON for apps: accounts, cameo consent, generations, feed, billing.

Each route checks and shapes input, makes one or two gRPC calls as the caller
and returns the service's answer as JSON (protobuf field names, enums by name).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated, Literal

import grpc
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.cameo.v1 import cameo_pb2 as cpb
from kinora.common.v1 import common_pb2
from kinora.feed.v1 import feed_pb2 as fpb
from kinora.generator.v1 import generator_pb2 as gpb
from kinora.identity.v1 import identity_pb2 as ipb
from kinora.runtime import auth
from services.gateway.core import Gateway, anonymous, gateway_of, user
from services.gateway.media import signed, stream_chunks
from services.gateway.errors import ApiError

# Bounded like the services' fields, so out-of-range numbers are a 422, never a 500.
PageSize = Annotated[int, Query(ge=0, le=1000)]
Seconds = Annotated[int, Field(ge=0, le=60)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]

router = APIRouter(prefix="/api/v1")
Caller = Depends(user)


def as_json(msg) -> dict:
    return MessageToDict(msg, preserving_proto_field_name=True)


def page(size: int, token: str) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=size, page_token=token)


def caller_metadata() -> list[tuple[str, str]]:
    caller = auth.principal()
    return [("authorization", f"Bearer {caller.token}")] if caller else []


def gw(request: Request) -> Gateway:
    return gateway_of(request)


async def user_id_of(g: Gateway, handle: str) -> str:
    reply = await g.identity.GetUserByHandle(ipb.GetUserByHandleRequest(handle=handle.lstrip("@").lower()),
                                             timeout=g.timeout)
    return reply.user.id


async def cameo_id_of(g: Gateway, handle: str) -> str:
    reply = await g.cameo.GetCameo(cpb.GetCameoRequest(owner_handle=handle.lstrip("@").lower()), timeout=g.timeout)
    return reply.cameo.id


async def my_cameo(g: Gateway, caller: auth.Principal) -> cpb.Cameo:
    reply = await g.cameo.GetCameo(cpb.GetCameoRequest(owner_user_id=caller.subject), timeout=g.timeout)
    return reply.cameo


# -- accounts -------------------------------------------------------------------------

class SignUp(BaseModel):
    invite_code: str
    handle: str
    password: str
    birthdate: str = Field(description="YYYY-MM-DD")
    region: str = Field(description="ISO 3166-1 alpha-2, e.g. US")
    display_name: str = ""


class SignIn(BaseModel):
    handle: str
    password: str


class Refresh(BaseModel):
    refresh_token: str


class SignOut(BaseModel):
    refresh_token: str = ""
    all_sessions: bool = False


@router.post("/auth/signup", status_code=201, tags=["accounts"])
async def signup(body: SignUp, request: Request, address: str = Depends(anonymous)):
    g = gw(request)
    reply = await g.identity.SignUp(ipb.SignUpRequest(**body.model_dump(), client_address=address), timeout=g.timeout)
    return as_json(reply)


@router.post("/auth/signin", tags=["accounts"])
async def signin(body: SignIn, request: Request, address: str = Depends(anonymous)):
    g = gw(request)
    return as_json(await g.edge_identity.SignIn(ipb.SignInRequest(**body.model_dump(), client_address=address),
                                                timeout=g.timeout))


@router.post("/auth/refresh", tags=["accounts"])
async def refresh(body: Refresh, request: Request, address: str = Depends(anonymous)):
    g = gw(request)
    return as_json(await g.edge_identity.RefreshTokens(
        ipb.RefreshTokensRequest(refresh_token=body.refresh_token, client_address=address), timeout=g.timeout))


@router.post("/auth/signout", tags=["accounts"])
async def signout(body: SignOut, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.SignOut(ipb.SignOutRequest(**body.model_dump()), timeout=g.timeout))


class ProfileUpdate(BaseModel):
    display_name: str | None = None


@router.get("/me", tags=["accounts"])
async def me(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.GetUser(ipb.GetUserRequest(user_id=caller.subject), timeout=g.timeout))


@router.patch("/me", tags=["accounts"])
async def update_me(body: ProfileUpdate, request: Request, caller=Caller):
    g = gw(request)
    req = ipb.UpdateProfileRequest()
    if body.display_name is not None:
        req.display_name = body.display_name
    return as_json(await g.identity.UpdateProfile(req, timeout=g.timeout))


class PasswordChange(BaseModel):
    current_password: str = ""
    new_password: str = ""


class AccountDeletion(BaseModel):
    password: str = ""


@router.post("/me/password", tags=["accounts"])
async def change_password(body: PasswordChange, request: Request, caller=Caller, address: str = Depends(anonymous)):
    """Every other session ends: its refresh token is refused, its access tokens within 30 s."""
    g = gw(request)
    return as_json(await g.identity.ChangePassword(ipb.ChangePasswordRequest(**body.model_dump()), timeout=g.timeout))


@router.delete("/me", tags=["accounts"])
async def delete_me(body: AccountDeletion, request: Request, caller=Caller, address: str = Depends(anonymous)):
    """Deletes the account for good (docs/api.md, "Deleting an account"); confirm with the password."""
    g = gw(request)
    return as_json(await g.identity.DeleteAccount(ipb.DeleteAccountRequest(password=body.password),
                                                  timeout=g.timeout))


@router.get("/users/{handle}", tags=["accounts"])
async def get_user(handle: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.GetUserByHandle(ipb.GetUserByHandleRequest(handle=handle.lower()),
                                                    timeout=g.timeout))


@router.post("/invites", status_code=201, tags=["accounts"])
async def create_invite(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.CreateInvite(ipb.CreateInviteRequest(), timeout=g.timeout))


@router.get("/invites", tags=["accounts"])
async def list_invites(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(await g.identity.ListInvites(ipb.ListInvitesRequest(page=page(page_size, page_token)),
                                                timeout=g.timeout))


class ApiKeyCreate(BaseModel):
    name: str
    scopes: list[str] = ["videos:read", "videos:write"]


@router.post("/apikeys", status_code=201, tags=["accounts"])
async def create_api_key(body: ApiKeyCreate, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.CreateApiKey(ipb.CreateApiKeyRequest(name=body.name, scopes=body.scopes),
                                                 timeout=g.timeout))


@router.get("/apikeys", tags=["accounts"])
async def list_api_keys(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.ListApiKeys(ipb.ListApiKeysRequest(), timeout=g.timeout))


@router.delete("/apikeys/{api_key_id}", tags=["accounts"])
async def revoke_api_key(api_key_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.RevokeApiKey(ipb.RevokeApiKeyRequest(api_key_id=api_key_id), timeout=g.timeout))


# -- guardians ----------------------------------------------------------------------------

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
    return as_json(await g.identity.ConfirmGuardianLink(ipb.ConfirmGuardianLinkRequest(code=body.code),
                                                        timeout=g.timeout))


@router.get("/guardian/links", tags=["guardians"])
async def list_guardian_links(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.ListGuardianLinks(ipb.ListGuardianLinksRequest(), timeout=g.timeout))


@router.post("/guardian/links/{link_id}/approve", tags=["guardians"])
async def approve_guardian_link(link_id: str, request: Request, caller=Caller):
    """The teen's current or previous guardian approves the teen's new guardian."""
    g = gw(request)
    return as_json(await g.identity.ApproveGuardianLink(ipb.ApproveGuardianLinkRequest(link_id=link_id),
                                                        timeout=g.timeout))


@router.delete("/guardian/links/{link_id}", tags=["guardians"])
async def unlink_guardian(link_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.UnlinkGuardian(ipb.UnlinkGuardianRequest(link_id=link_id), timeout=g.timeout))


@router.get("/guardian/controls/{teen_user_id}", tags=["guardians"])
async def get_controls(teen_user_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.GetParentalControls(ipb.GetParentalControlsRequest(teen_user_id=teen_user_id),
                                                        timeout=g.timeout))


@router.put("/guardian/controls/{teen_user_id}", tags=["guardians"])
async def set_controls(teen_user_id: str, body: Controls, request: Request, caller=Caller):
    g = gw(request)
    controls = ipb.ParentalControls(daily_feed_item_cap=body.daily_feed_item_cap,
                                    non_personalized_feed=body.non_personalized_feed,
                                    max_cameo_policy=POLICIES[body.max_cameo_policy])
    return as_json(await g.identity.SetParentalControls(
        ipb.SetParentalControlsRequest(teen_user_id=teen_user_id, controls=controls), timeout=g.timeout))


# -- cameo verification and consent ---------------------------------------------------------

POLICIES = {"only_me": common_pb2.CAMEO_POLICY_ONLY_ME, "approved": common_pb2.CAMEO_POLICY_APPROVED,
            "mutuals": common_pb2.CAMEO_POLICY_MUTUALS, "everyone": common_pb2.CAMEO_POLICY_EVERYONE}


async def read_upload(request: Request, field: str, *, required: bool = True):
    """(form, bytes, content_type, filename) of a multipart upload; BodyLimitMiddleware has capped its size."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "multipart_required", f"send multipart/form-data with the file in '{field}'")
    form = await request.form()
    upload = form.get(field)
    if upload is None or isinstance(upload, str):
        if required:
            raise ApiError(400, "missing_file", f"attach the file as the '{field}' form field")
        return form, b"", "", ""
    data = await upload.read()
    return form, data, upload.content_type or "", upload.filename or ""


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
    reply = await g.identity.SubmitVerification(ipb.SubmitVerificationRequest(
        verification_id=verification_id, nonce=str(form.get("nonce")),
        video=data, content_type=content_type, filename=filename,
        cameo_display_name=str(form.get("display_name") or "")), timeout=max(g.timeout, 120))
    return as_json(reply)


@router.get("/cameo/verifications/{verification_id}", tags=["cameo"])
async def get_verification(verification_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.GetVerification(ipb.GetVerificationRequest(verification_id=verification_id),
                                                    timeout=g.timeout))


@router.get("/cameo", tags=["cameo"])
async def get_my_cameo(request: Request, caller=Caller):
    return as_json(await my_cameo(gw(request), caller))


@router.delete("/cameo", tags=["cameo"])
async def delete_my_cameo(request: Request, caller=Caller, takedown: bool = True):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(await g.cameo.DeleteCameo(cpb.DeleteCameoRequest(cameo_id=cameo.id, takedown=takedown),
                                             timeout=g.timeout))


@router.get("/cameos", tags=["cameo"])
async def list_cameos(request: Request, caller=Caller, query: str = "", usable: bool = False,
                      page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(await g.cameo.ListCameos(cpb.ListCameosRequest(
        query=query, usable_by_caller=usable, page=page(page_size, page_token)), timeout=g.timeout))


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
    return as_json(await g.cameo.SetPolicy(cpb.SetPolicyRequest(cameo_id=cameo.id, policy=POLICIES[body.policy]),
                                           timeout=g.timeout))


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
    return as_json(await g.cameo.RemoveApproval(cpb.RemoveApprovalRequest(cameo_id=cameo.id, user_id=other),
                                                timeout=g.timeout))


@router.get("/cameo/approvals", tags=["cameo"])
async def list_approvals(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(await g.cameo.ListApprovals(cpb.ListApprovalsRequest(
        cameo_id=cameo.id, page=page(page_size, page_token)), timeout=g.timeout))


@router.post("/cameos/{handle}/approval-requests", status_code=201, tags=["cameo"])
async def request_approval(handle: str, body: ApprovalRequestBody, request: Request, caller=Caller):
    g = gw(request)
    cameo_id = await cameo_id_of(g, handle)
    return as_json(await g.cameo.RequestApproval(cpb.RequestApprovalRequest(cameo_id=cameo_id, message=body.message),
                                                 timeout=g.timeout))


@router.post("/cameo/revocations", tags=["cameo"])
async def revoke(body: RevokeBody, request: Request, caller=Caller):
    """Withdraw a person's access to your cameo; by default their videos with it are taken down."""
    g = gw(request)
    cameo, other = await asyncio.gather(my_cameo(g, caller), user_id_of(g, body.handle))
    return as_json(await g.cameo.RevokeAccess(cpb.RevokeAccessRequest(
        cameo_id=cameo.id, user_id=other, takedown=body.takedown), timeout=g.timeout))


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
    return as_json(await g.cameo.AddRestriction(cpb.AddRestrictionRequest(cameo_id=cameo.id, text=body.text),
                                                timeout=g.timeout))


@router.delete("/cameo/restrictions/{restriction_id}", tags=["cameo"])
async def remove_restriction(restriction_id: str, request: Request, caller=Caller):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(await g.cameo.RemoveRestriction(cpb.RemoveRestrictionRequest(
        cameo_id=cameo.id, restriction_id=restriction_id), timeout=g.timeout))


@router.get("/cameo/appearances", tags=["cameo"])
async def list_appearances(request: Request, caller=Caller, include_removed: bool = False,
                           page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    cameo = await my_cameo(g, caller)
    return as_json(await g.cameo.ListAppearances(cpb.ListAppearancesRequest(
        cameo_id=cameo.id, include_removed=include_removed, page=page(page_size, page_token)), timeout=g.timeout))


@router.delete("/cameo/appearances/{appearance_id}", tags=["cameo"])
async def delete_appearance(appearance_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.cameo.DeleteAppearance(cpb.DeleteAppearanceRequest(appearance_id=appearance_id),
                                                  timeout=g.timeout))


class MarkRead(BaseModel):
    notification_ids: list[str] = []


@router.get("/notifications", tags=["cameo"])
async def list_notifications(request: Request, caller=Caller, unread_only: bool = False,
                             page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(await g.cameo.ListNotifications(cpb.ListNotificationsRequest(
        unread_only=unread_only, page=page(page_size, page_token)), timeout=g.timeout))


@router.post("/notifications/read", tags=["cameo"])
async def mark_read(body: MarkRead, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.cameo.MarkNotificationsRead(cpb.MarkNotificationsReadRequest(
        notification_ids=body.notification_ids), timeout=g.timeout))


# -- generations ---------------------------------------------------------------------------------

VARIANTS = {"video": gpb.MEDIA_VARIANT_VIDEO, "thumbnail": gpb.MEDIA_VARIANT_THUMBNAIL,
            "spritesheet": gpb.MEDIA_VARIANT_SPRITESHEET}
TERMINAL = {gpb.GENERATION_STATUS_COMPLETED, gpb.GENERATION_STATUS_FAILED, gpb.GENERATION_STATUS_CANCELED}


class GenerationCreate(BaseModel):
    prompt: str
    cameos: list[str] = Field(default_factory=list, description="handles of the people in the clip (at most 2)")
    seconds: Seconds = 0
    size: str = ""
    model: str = ""
    seed: Seed | None = None
    remix_of: str = ""
    extend_of: str = ""
    quote_id: str = ""


def _int_field(value, name: str) -> int:
    try:
        return int(value or 0)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be a whole number") from None


async def generation_request(g: Gateway, body: GenerationCreate, image: bytes, image_type: str,
                             idempotency_key: str) -> gpb.CreateGenerationRequest:
    cameo_ids = await asyncio.gather(*(cameo_id_of(g, h) for h in body.cameos)) if body.cameos else []
    req = gpb.CreateGenerationRequest(
        idempotency_key=idempotency_key or uuid.uuid4().hex, prompt=body.prompt, input_image=image,
        input_image_content_type=image_type, cameo_ids=cameo_ids, seconds=body.seconds, size=body.size,
        model=body.model, remix_of=body.remix_of, extend_of=body.extend_of, quote_id=body.quote_id)
    if body.seed is not None:
        req.seed = body.seed
    return req


@router.post("/generations", status_code=201, tags=["generations"],
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": {"$ref": "#/components/schemas/GenerationCreate"}},
                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                     "prompt": {"type": "string"}, "image": {"type": "string", "format": "binary"},
                     "cameos": {"type": "array", "items": {"type": "string"}}, "seconds": {"type": "integer"},
                     "size": {"type": "string"}, "model": {"type": "string"}}, "required": ["prompt"]}}}}})
async def create_generation(request: Request, caller=Caller):
    """JSON, or multipart with an `image` file to animate. Send `Idempotency-Key` to make retries safe."""
    g = gw(request)
    image, image_type = b"", ""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form, image, image_type, _ = await read_upload(request, "image", required=False)
        body = GenerationCreate(prompt=str(form.get("prompt") or ""), cameos=[str(c) for c in form.getlist("cameos")],
                                seconds=_int_field(form.get("seconds"), "seconds"), size=str(form.get("size") or ""),
                                model=str(form.get("model") or ""))
    else:
        try:
            body = GenerationCreate.model_validate(json.loads(await request.body() or b"{}"))
        except (ValueError, TypeError) as exc:
            raise ApiError(400, "invalid_request", f"the body is not a valid generation request: {exc}"[:300]) from None
    req = await generation_request(g, body, image, image_type, request.headers.get("idempotency-key", ""))
    return signed(request, caller, as_json(await g.generator.CreateGeneration(req, timeout=g.timeout)))


@router.get("/generations", tags=["generations"])
async def list_generations(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = "",
                           order: Literal["asc", "desc"] = "desc"):
    g = gw(request)
    return signed(request, caller, as_json(await g.generator.ListGenerations(gpb.ListGenerationsRequest(
        page=page(page_size, page_token),
        order=common_pb2.SORT_ORDER_ASC if order == "asc" else common_pb2.SORT_ORDER_DESC), timeout=g.timeout)))


@router.get("/generations/{generation_id}", tags=["generations"])
async def get_generation(generation_id: str, request: Request, caller=Caller):
    g = gw(request)
    return signed(request, caller, as_json(await g.generator.GetGeneration(
        gpb.GetGenerationRequest(generation_id=generation_id), timeout=g.timeout)))


@router.post("/generations/{generation_id}/cancel", tags=["generations"])
async def cancel_generation(generation_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.generator.CancelGeneration(gpb.CancelGenerationRequest(generation_id=generation_id),
                                                      timeout=g.timeout))


@router.delete("/generations/{generation_id}", tags=["generations"])
async def delete_generation(generation_id: str, request: Request, caller=Caller):
    g = gw(request)
    await g.generator.DeleteGeneration(gpb.DeleteGenerationRequest(generation_id=generation_id), timeout=g.timeout)
    return {"id": generation_id, "deleted": True}


@router.get("/generations/{generation_id}/events", tags=["generations"],
            responses={200: {"content": {"text/event-stream": {}}}})
async def generation_events(generation_id: str, request: Request, caller=Caller):
    """Server-Sent Events: one `generation` event per change, ending at a terminal status."""
    g = gw(request)
    stream = g.streaming_generator.StreamGeneration(gpb.StreamGenerationRequest(generation_id=generation_id),
                                                    metadata=caller_metadata())
    first = await _first_or_error(stream)

    async def events():
        try:
            item = first
            while item is not None:
                yield f"event: generation\ndata: {json.dumps(signed(request, caller, as_json(item.generation)))}\n\n"
                if item.generation.status in TERMINAL:
                    break
                item = await stream.read()
                if item is grpc.aio.EOF:
                    break
        finally:
            stream.cancel()
        yield "event: end\ndata: {}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _first_or_error(stream):
    """Read the first message so a refusal (not found, not yours) becomes a normal error response."""
    first = await stream.read()
    if first is grpc.aio.EOF:
        return None
    return first


async def media_response(g: Gateway, generation_id: str, variant: str) -> StreamingResponse:
    if variant not in VARIANTS:
        raise ApiError(400, "invalid_variant", "variant must be video, thumbnail or spritesheet")
    stream = g.streaming_generator.GetMedia(gpb.GetMediaRequest(generation_id=generation_id,
                                                                variant=VARIANTS[variant]), metadata=caller_metadata())
    first = await _first_or_error(stream)
    if first is None:
        raise ApiError(404, "media_not_found", "this generation has no media of that kind")
    ref = first.media

    extension = {"video": "mp4", "thumbnail": "jpg", "spritesheet": "jpg"}[variant]
    headers = {"Content-Disposition": f'attachment; filename="{generation_id}.{extension}"'}
    if ref.size_bytes:
        headers["Content-Length"] = str(ref.size_bytes)
    return StreamingResponse(stream_chunks(first, stream), media_type=ref.content_type or "application/octet-stream", headers=headers)


@router.get("/generations/{generation_id}/content", tags=["generations"],
            responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}}}})
async def download_generation(generation_id: str, request: Request, caller=Caller,
                              variant: str = Query("video", description="video, thumbnail or spritesheet")):
    return await media_response(gw(request), generation_id, variant)


# -- feed ------------------------------------------------------------------------------------------

class PublishBody(BaseModel):
    generation_id: str
    caption: str = ""
    visibility: Literal["public", "followers", "private"] = "public"


class CommentBody(BaseModel):
    text: str


class RemixBody(BaseModel):
    prompt: str
    cameos: list[str] = Field(default_factory=list)


class SeeLessBody(BaseModel):
    note: str = ""


class ReportBody(BaseModel):
    reason: Literal["spam", "harassment", "sexual", "violence", "self_harm", "likeness_misuse", "other"]
    details: str = ""


class PreferencesBody(BaseModel):
    text: str


@router.get("/feed", tags=["feed"])
async def get_feed(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = "", session_id: str = ""):
    g = gw(request)
    return signed(request, caller, as_json(await g.feed.GetFeed(
        fpb.GetFeedRequest(page=page(page_size, page_token), session_id=session_id), timeout=g.timeout)))


@router.get("/feed/preferences", tags=["feed"])
async def get_preferences(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.GetFeedPreferences(fpb.GetFeedPreferencesRequest(), timeout=g.timeout))


@router.put("/feed/preferences", tags=["feed"])
async def set_preferences(body: PreferencesBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.SetFeedPreferences(fpb.SetFeedPreferencesRequest(text=body.text), timeout=g.timeout))


@router.post("/posts", status_code=201, tags=["feed"])
async def publish(body: PublishBody, request: Request, caller=Caller):
    g = gw(request)
    visibility = getattr(fpb, f"VISIBILITY_{body.visibility.upper()}")
    return signed(request, caller, as_json(await g.feed.PublishPost(fpb.PublishPostRequest(
        generation_id=body.generation_id, caption=body.caption, visibility=visibility), timeout=g.timeout)))


@router.get("/posts/{post_id}", tags=["feed"])
async def get_post(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return signed(request, caller, as_json(await g.feed.GetPost(fpb.GetPostRequest(post_id=post_id),
                                                                 timeout=g.timeout)))


@router.delete("/posts/{post_id}", tags=["feed"])
async def delete_post(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.DeletePost(fpb.DeletePostRequest(post_id=post_id), timeout=g.timeout))


@router.post("/posts/{post_id}/like", tags=["feed"])
async def like(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.LikePost(fpb.LikePostRequest(post_id=post_id), timeout=g.timeout))


@router.delete("/posts/{post_id}/like", tags=["feed"])
async def unlike(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.UnlikePost(fpb.UnlikePostRequest(post_id=post_id), timeout=g.timeout))


@router.post("/posts/{post_id}/comments", status_code=201, tags=["feed"])
async def comment(post_id: str, body: CommentBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.CreateComment(fpb.CreateCommentRequest(post_id=post_id, text=body.text),
                                              timeout=g.timeout))


@router.get("/posts/{post_id}/comments", tags=["feed"])
async def list_comments(post_id: str, request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(await g.feed.ListComments(fpb.ListCommentsRequest(post_id=post_id, page=page(page_size, page_token)),
                                             timeout=g.timeout))


@router.post("/posts/{post_id}/remix", status_code=201, tags=["feed"])
async def remix_post(post_id: str, body: RemixBody, request: Request, caller=Caller):
    """Start a generation that remixes the post's clip (the scene plan is edited by the new prompt)."""
    g = gw(request)
    post = (await g.feed.GetPost(fpb.GetPostRequest(post_id=post_id), timeout=g.timeout)).post
    req = await generation_request(g, GenerationCreate(prompt=body.prompt, cameos=body.cameos,
                                                       remix_of=post.generation_id),
                                   b"", "", request.headers.get("idempotency-key", ""))
    return signed(request, caller, as_json(await g.generator.CreateGeneration(req, timeout=g.timeout)))


@router.get("/posts/{post_id}/remixes", tags=["feed"])
async def remixes(post_id: str, request: Request, caller=Caller):
    g = gw(request)
    return signed(request, caller, as_json(await g.feed.GetRemixes(fpb.GetRemixesRequest(post_id=post_id),
                                                                    timeout=g.timeout)))


@router.post("/posts/{post_id}/see-less", tags=["feed"])
async def see_less(post_id: str, body: SeeLessBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.feed.SeeLess(fpb.SeeLessRequest(post_id=post_id, note=body.note), timeout=g.timeout))


@router.post("/posts/{post_id}/report", status_code=201, tags=["feed"])
async def report(post_id: str, body: ReportBody, request: Request, caller=Caller):
    g = gw(request)
    reason = getattr(fpb, f"REPORT_REASON_{body.reason.upper()}")
    return as_json(await g.feed.ReportPost(fpb.ReportPostRequest(post_id=post_id, reason=reason, details=body.details),
                                           timeout=g.timeout))


@router.post("/users/{handle}/follow", tags=["feed"])
async def follow(handle: str, request: Request, caller=Caller):
    g = gw(request)
    other = await user_id_of(g, handle)
    return as_json(await g.feed.Follow(fpb.FollowRequest(user_id=other), timeout=g.timeout))


@router.delete("/users/{handle}/follow", tags=["feed"])
async def unfollow(handle: str, request: Request, caller=Caller):
    g = gw(request)
    other = await user_id_of(g, handle)
    return as_json(await g.feed.Unfollow(fpb.UnfollowRequest(user_id=other), timeout=g.timeout))


@router.get("/users/{handle}/posts", tags=["feed"])
async def user_posts(handle: str, request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    other = await user_id_of(g, handle)
    return signed(request, caller, as_json(await g.feed.ListUserPosts(
        fpb.ListUserPostsRequest(user_id=other, page=page(page_size, page_token)), timeout=g.timeout)))


# -- billing -----------------------------------------------------------------------------------------

class QuoteBody(BaseModel):
    model: str = "standard"
    seconds: Seconds = 10
    size: str = "720x1280"
    prefer_wait: bool = False


class PurchaseBody(BaseModel):
    pack_id: str
    payment_token: str
    idempotency_key: str = ""


class SubscribeBody(BaseModel):
    plan_id: str
    payment_token: str
    idempotency_key: str = ""


@router.get("/billing/balance", tags=["billing"])
async def balance(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.GetBalance(bpb.GetBalanceRequest(), timeout=g.timeout))


@router.post("/billing/quote", tags=["billing"])
async def quote(body: QuoteBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.Quote(bpb.QuoteRequest(**body.model_dump()), timeout=g.timeout))


@router.get("/billing/packs", tags=["billing"])
async def packs(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.ListCreditPacks(bpb.ListCreditPacksRequest(), timeout=g.timeout))


def idempotency_key(request: Request, given: str = "") -> str:
    """The client's key (body field or Idempotency-Key header), else a fresh one."""
    return given or request.headers.get("idempotency-key", "") or uuid.uuid4().hex


@router.post("/billing/purchases", status_code=201, tags=["billing"])
async def buy_credits(body: PurchaseBody, request: Request, caller=Caller):
    g = gw(request)
    key = idempotency_key(request, body.idempotency_key)
    return as_json(await g.billing.PurchaseCredits(bpb.PurchaseCreditsRequest(
        pack_id=body.pack_id, payment_token=body.payment_token, idempotency_key=key), timeout=g.timeout))


@router.get("/billing/plans", tags=["billing"])
async def plans(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.ListPlans(bpb.ListPlansRequest(), timeout=g.timeout))


@router.post("/billing/subscription", status_code=201, tags=["billing"])
async def subscribe(body: SubscribeBody, request: Request, caller=Caller):
    g = gw(request)
    key = idempotency_key(request, body.idempotency_key)
    return as_json(await g.billing.StartSubscription(bpb.StartSubscriptionRequest(
        plan_id=body.plan_id, payment_token=body.payment_token, idempotency_key=key), timeout=g.timeout))


@router.delete("/billing/subscription", tags=["billing"])
async def cancel_subscription(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.CancelSubscription(bpb.CancelSubscriptionRequest(), timeout=g.timeout))


@router.get("/billing/statement", tags=["billing"])
async def statement(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(await g.billing.GetStatement(bpb.GetStatementRequest(page=page(page_size, page_token)),
                                                timeout=g.timeout))


# -- operators -----------------------------------------------------------------------------------------

@router.get("/pools", tags=["operators"])
async def pools(request: Request, caller=Caller):
    """GPU pools with queue depth and wait per tier (needs the admin scope)."""
    g = gw(request)
    return as_json(await g.pools.ListPools(gpb.ListPoolsRequest(), timeout=g.timeout))
