"""Accounts (`/api/v1/auth…`, `/me…`, `/users/{handle}`, invites, API keys): identity's calls as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from kinora.identity.v1 import identity_pb2 as ipb
from services.gateway.core import anonymous
from services.gateway.shared import API_PREFIX, Caller, PageSize, as_json, gw, page

router = APIRouter(prefix=API_PREFIX)


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
    return as_json(
        await g.edge_identity.SignIn(ipb.SignInRequest(**body.model_dump(), client_address=address), timeout=g.timeout)
    )


@router.post("/auth/refresh", tags=["accounts"])
async def refresh(body: Refresh, request: Request, address: str = Depends(anonymous)):
    g = gw(request)
    return as_json(
        await g.edge_identity.RefreshTokens(
            ipb.RefreshTokensRequest(refresh_token=body.refresh_token, client_address=address), timeout=g.timeout
        )
    )


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
    return as_json(await g.identity.DeleteAccount(ipb.DeleteAccountRequest(password=body.password), timeout=g.timeout))


@router.get("/users/{handle}", tags=["accounts"])
async def get_user(handle: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.identity.GetUserByHandle(ipb.GetUserByHandleRequest(handle=handle.lower()), timeout=g.timeout)
    )


@router.post("/invites", status_code=201, tags=["accounts"])
async def create_invite(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.CreateInvite(ipb.CreateInviteRequest(), timeout=g.timeout))


@router.get("/invites", tags=["accounts"])
async def list_invites(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(
        await g.identity.ListInvites(ipb.ListInvitesRequest(page=page(page_size, page_token)), timeout=g.timeout)
    )


class ApiKeyCreate(BaseModel):
    name: str
    scopes: list[str] = ["videos:read", "videos:write"]


@router.post("/apikeys", status_code=201, tags=["accounts"])
async def create_api_key(body: ApiKeyCreate, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.identity.CreateApiKey(ipb.CreateApiKeyRequest(name=body.name, scopes=body.scopes), timeout=g.timeout)
    )


@router.get("/apikeys", tags=["accounts"])
async def list_api_keys(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.ListApiKeys(ipb.ListApiKeysRequest(), timeout=g.timeout))


@router.delete("/apikeys/{api_key_id}", tags=["accounts"])
async def revoke_api_key(api_key_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.identity.RevokeApiKey(ipb.RevokeApiKeyRequest(api_key_id=api_key_id), timeout=g.timeout))
