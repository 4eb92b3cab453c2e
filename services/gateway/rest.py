"""REST/JSON for apps (`/api/v1`): one router per API area.

Each area module's routes check and shape input, make one or two gRPC calls as the caller
and return the service's answer as JSON (protobuf field names, enums by name); what they
share is in services/gateway/shared.py, multipart reading in services/gateway/uploads.py.
The app includes each router itself (not one router nesting them): a nested router's
routes are reported without the outer prefix (`/generations`) in metrics and trace spans.
"""

from __future__ import annotations

from services.gateway import accounts, billing, cameos, character_routes, feed, generations, guardians, operators

ROUTERS = tuple(
    area.router for area in (accounts, guardians, cameos, character_routes, generations, feed, billing, operators)
)
