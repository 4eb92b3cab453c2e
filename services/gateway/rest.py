"""REST/JSON for apps (`/api/v1`): the API areas' routers under one prefix.

Each area module's routes check and shape input, make one or two gRPC calls as the caller
and return the service's answer as JSON (protobuf field names, enums by name); what they
share is in services/gateway/shared.py, multipart reading in services/gateway/uploads.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway import (
    accounts,
    billing,
    cameos,
    feed,
    generations,
    guardians,
    operators,
)

router = APIRouter(prefix="/api/v1")
for area in (accounts, guardians, cameos, generations, feed, billing, operators):
    router.include_router(area.router)
