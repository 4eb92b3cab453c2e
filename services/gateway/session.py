"""Browser sessions for the web app: the refresh token lives in an HttpOnly cookie, the access
token only in the page's memory, and every call that uses the cookie proves it comes from the
app itself with a double-submit CSRF token (docs/web.md, "Sessions").

  kinora_refresh  the refresh token; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/session
  kinora_csrf     a random value the app echoes in X-CSRF-Token; Secure; SameSite=Strict; Path=/

Sign-in, refresh and sign-out go to identity exactly as /api/v1/auth/* do (as the gateway, with
the client's address, so identity's back-off counts the right client). Bearer-token APIs are
unchanged: the page sends `Authorization: Bearer <access token>` like any other client.
"""

from __future__ import annotations

import hmac
import secrets
import time

import grpc
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field

from kinora.identity.v1 import identity_pb2 as ipb
from kinora.runtime import auth
from kinora.runtime.convert import epoch_seconds
from kinora.runtime.errors import KinoraError
from services.gateway.accounts import SignIn, SignUp  # the same bodies as /auth/signin and /auth/signup
from services.gateway.core import Gateway, anonymous, gateway_of
from services.gateway.errors import ApiError, error_body, from_rpc

REFRESH_COOKIE = "kinora_refresh"
CSRF_COOKIE = "kinora_csrf"
CSRF_HEADER = "X-CSRF-Token"
REFRESH_PATH = "/api/v1/session"

router = APIRouter(prefix="/api/v1/session", tags=["session"])


class SessionAnswer(BaseModel):
    access_token: str = Field(description="keep it in memory only; send it as 'Authorization: Bearer'")
    expires_in: int = Field(description="seconds the access token is valid")
    user: dict = Field(description="the signed-in account, as GET /api/v1/me's `user`")


# -- cookies -----------------------------------------------------------------------------


def _cookie(name: str, value: str, *, path: str, max_age: int, http_only: bool) -> str:
    # Written by hand so the attributes are exactly these (Starlette lower-cases SameSite).
    parts = (
        [f"{name}={value}"]
        + (["HttpOnly"] if http_only else [])
        + ["Secure", "SameSite=Strict", f"Path={path}", f"Max-Age={max(0, max_age)}"]
    )
    if max_age <= 0:
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    return "; ".join(parts)


def set_session_cookies(response: JSONResponse, refresh_token: str, refresh_expires: int) -> None:
    max_age = max(1, refresh_expires - int(time.time()))
    response.headers.append(
        "set-cookie", _cookie(REFRESH_COOKIE, refresh_token, path=REFRESH_PATH, max_age=max_age, http_only=True)
    )
    response.headers.append(
        "set-cookie", _cookie(CSRF_COOKIE, secrets.token_urlsafe(32), path="/", max_age=max_age, http_only=False)
    )


def clear_session_cookies(response: JSONResponse) -> None:
    response.headers.append("set-cookie", _cookie(REFRESH_COOKIE, "", path=REFRESH_PATH, max_age=0, http_only=True))
    response.headers.append("set-cookie", _cookie(CSRF_COOKIE, "", path="/", max_age=0, http_only=False))


def _no_store(response: JSONResponse) -> JSONResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


# -- checks ------------------------------------------------------------------------------


def _refuse_cross_site(request: Request) -> None:
    """Browsers say where a request comes from; another site's is refused before anything else."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        raise ApiError(403, "csrf_failed", "requests from other sites may not use the Kinora session")


def require_json(request: Request) -> None:
    """An HTML form can post urlencoded, multipart or text/plain bodies, never JSON: sign-in and sign-up
    from another site's form (login CSRF) are refused here."""
    _refuse_cross_site(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "json_required", "send the body as application/json")


def require_csrf(request: Request) -> None:
    """Double submit: the X-CSRF-Token header must equal the kinora_csrf cookie. Another site can make
    the browser send the cookie but can neither read it nor set the header."""
    _refuse_cross_site(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise ApiError(403, "csrf_failed", f"send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header")


def _refresh_cookie(request: Request) -> str:
    token = request.cookies.get(REFRESH_COOKIE, "")
    if not token:
        raise ApiError(401, "no_session", "no browser session: sign in at POST /api/v1/session")
    return token


# -- answers -----------------------------------------------------------------------------


def _as_json(msg) -> dict:
    return MessageToDict(msg, preserving_proto_field_name=True)


def _answer(tokens: ipb.TokenPair, user: ipb.User, status: int = 200) -> JSONResponse:
    body = {
        "access_token": tokens.access_token,
        "expires_in": max(0, epoch_seconds(tokens.access_token_expires_at) - int(time.time())),
        "user": _as_json(user),
    }
    response = _no_store(JSONResponse(body, status_code=status))
    set_session_cookies(response, tokens.refresh_token, epoch_seconds(tokens.refresh_token_expires_at))
    return response


async def _user_of(g: Gateway, access_token: str) -> ipb.User:
    """The account behind a fresh access token, read as that user (as GET /me does)."""
    try:
        principal = await g.verifier.verify(access_token)
    except KinoraError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    auth.current_principal.set(principal)
    return (await g.identity.GetUser(ipb.GetUserRequest(user_id=principal.subject), timeout=g.timeout)).user


def _failed_with_cleared_cookies(err: grpc.RpcError) -> JSONResponse:
    """A refresh token identity refuses (expired, revoked, reused) is dead: the cookies go too."""
    api = from_rpc(err)
    response = _no_store(JSONResponse(error_body(api.code, api.message), status_code=api.status, headers=api.headers))
    if api.status == 401:
        clear_session_cookies(response)
    return response


# -- routes ------------------------------------------------------------------------------


@router.post("", response_model=SessionAnswer, dependencies=[Depends(require_json)])
async def sign_in(body: SignIn, request: Request, address: str = Depends(anonymous)):
    """Sign in: sets the session cookies; the access token in the answer is kept in memory only."""
    g = gateway_of(request)
    reply = await g.edge_identity.SignIn(
        ipb.SignInRequest(handle=body.handle, password=body.password, client_address=address), timeout=g.timeout
    )
    return _answer(reply.tokens, reply.user)


@router.post("/signup", status_code=201, response_model=SessionAnswer, dependencies=[Depends(require_json)])
async def sign_up(body: SignUp, request: Request, address: str = Depends(anonymous)):
    """Sign up with an invite and start a browser session (the same cookies as sign-in)."""
    g = gateway_of(request)
    reply = await g.identity.SignUp(ipb.SignUpRequest(**body.model_dump(), client_address=address), timeout=g.timeout)
    return _answer(reply.tokens, reply.user, status=201)


@router.post(
    "/refresh",
    response_model=SessionAnswer,
    dependencies=[Depends(require_csrf)],
    responses={
        401: {"description": "no session cookie, or identity refused it (cookies cleared)"},
        403: {"description": "csrf_failed: the X-CSRF-Token header does not match"},
    },
)
async def refresh(request: Request, address: str = Depends(anonymous)):
    """A new access token; the refresh cookie and the CSRF cookie are both rotated."""
    g = gateway_of(request)
    token = _refresh_cookie(request)
    try:
        reply = await g.edge_identity.RefreshTokens(
            ipb.RefreshTokensRequest(refresh_token=token, client_address=address), timeout=g.timeout
        )
    except grpc.RpcError as err:
        return _failed_with_cleared_cookies(err)
    return _answer(reply.tokens, await _user_of(g, reply.tokens.access_token))


async def _sign_out(request: Request, all_sessions: bool) -> JSONResponse:
    g = gateway_of(request)
    token = request.cookies.get(REFRESH_COOKIE, "")
    if all_sessions and not token:
        raise ApiError(401, "no_session", "no browser session: sign in at POST /api/v1/session")
    if token:
        try:
            await g.edge_identity.SignOut(
                ipb.SignOutRequest(refresh_token=token, all_sessions=all_sessions), timeout=g.timeout
            )
        except grpc.RpcError as err:
            # Signing out of a session that has already ended is not an error; anything else is.
            if err.code() != grpc.StatusCode.UNAUTHENTICATED or all_sessions:
                return _failed_with_cleared_cookies(err)
    response = _no_store(JSONResponse({"signed_out": True, "all_sessions": all_sessions}))
    clear_session_cookies(response)
    return response


@router.delete("", dependencies=[Depends(require_csrf)])
async def sign_out(request: Request):
    """Ends this browser's session at identity (its access tokens stop working within the deny-list
    refresh, about 30 s) and clears both cookies."""
    return await _sign_out(request, all_sessions=False)


@router.post("/signout-everywhere", dependencies=[Depends(require_csrf)])
async def sign_out_everywhere(request: Request):
    """Ends every session of the account (other browsers, phones, CLI sign-ins; API keys stay)."""
    return await _sign_out(request, all_sessions=True)
