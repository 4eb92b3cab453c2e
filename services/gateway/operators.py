"""What operators see (`/api/v1/pools`; the services check the admin scope)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kinora.generator.v1 import generator_pb2 as gpb
from services.gateway.shared import API_PREFIX, Caller, as_json, gw

router = APIRouter(prefix=API_PREFIX)


@router.get("/pools", tags=["operators"])
async def pools(request: Request, caller=Caller):
    """GPU pools with queue depth and wait per tier (needs the admin scope)."""
    g = gw(request)
    return as_json(await g.pools.ListPools(gpb.ListPoolsRequest(), timeout=g.timeout))
