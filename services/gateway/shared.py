"""What the REST route modules share: the caller dependencies, JSON shaping, paging and the
look-ups several API areas make (a handle's user or cameo, the caller's own cameo).

Errors need nothing here: a gRPC refusal raised by a route becomes the JSON error by
services/gateway/errors.py, and a route's own refusal is an `ApiError`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import grpc
from fastapi import Depends, Query, Request
from google.protobuf.json_format import MessageToDict

from kinora.cameo.v1 import cameo_pb2 as cpb
from kinora.common.v1 import common_pb2
from kinora.identity.v1 import identity_pb2 as ipb
from kinora.runtime import auth
from services.gateway.core import Gateway, developer, gateway_of, user
from services.gateway.errors import ApiError  # noqa: F401 - re-exported for the route modules

API_PREFIX = "/api/v1"  # every area's router has it itself: FastAPI names a nested router's routes without it
Caller = Depends(user)  # a signed-in person (the app API)
Dev = Depends(developer)  # an API key or a signed-in person (the Sora-compatible API)

# Bounded like the services' fields, so out-of-range numbers are a 422, never a 500.
PageSize = Annotated[int, Query(ge=0, le=1000)]

POLICIES = {
    "only_me": common_pb2.CAMEO_POLICY_ONLY_ME,
    "approved": common_pb2.CAMEO_POLICY_APPROVED,
    "mutuals": common_pb2.CAMEO_POLICY_MUTUALS,
    "everyone": common_pb2.CAMEO_POLICY_EVERYONE,
}


def as_json(msg) -> dict:
    return MessageToDict(msg, preserving_proto_field_name=True)


def page(size: int, token: str) -> common_pb2.PageRequest:
    return common_pb2.PageRequest(page_size=size, page_token=token)


def caller_metadata() -> list[tuple[str, str]]:
    """The caller's token for a streaming call (its channel has no interceptor: services/gateway/core.py)."""
    caller = auth.principal()
    return [("authorization", f"Bearer {caller.token}")] if caller else []


def gw(request: Request) -> Gateway:
    return gateway_of(request)


def idempotency_key(request: Request, given: str = "") -> str:
    """The client's key (body field or Idempotency-Key header), else a fresh one."""
    return given or request.headers.get("idempotency-key", "") or uuid.uuid4().hex


async def first_or_error(stream):
    """Read the first message so a refusal (not found, not yours) becomes a normal error response."""
    first = await stream.read()
    if first is grpc.aio.EOF:
        return None
    return first


async def user_id_of(g: Gateway, handle: str) -> str:
    reply = await g.identity.GetUserByHandle(
        ipb.GetUserByHandleRequest(handle=handle.lstrip("@").lower()), timeout=g.timeout
    )
    return reply.user.id


async def cameo_id_of(g: Gateway, handle: str) -> str:
    # A person's handle or a character's (cameo's `handle` selector; a person's comes first).
    reply = await g.cameo.GetCameo(cpb.GetCameoRequest(handle=handle.lstrip("@").lower()), timeout=g.timeout)
    return reply.cameo.id


async def my_cameo(g: Gateway, caller: auth.Principal) -> cpb.Cameo:
    reply = await g.cameo.GetCameo(cpb.GetCameoRequest(owner_user_id=caller.subject), timeout=g.timeout)
    return reply.cameo
