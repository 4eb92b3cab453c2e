"""The gateway matches the busiest API areas first (services/gateway/app.py: HOT_FIRST). That is
only a matter of speed if no request path could match routes of two areas: checked here for
every route, with each path parameter filled in, in the order the app uses and in the order the
routers are listed (rest.ROUTERS), and the answer must be the route itself both ways."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Match

from kinora.runtime.settings import load_settings
from services.gateway import app as gateway_app
from services.gateway import rest
from services.gateway.settings import GatewaySettings


def _routes(router, prefix=""):
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route, prefix + route.path


def _first_match(routers, method: str, path: str):
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                match, _ = route.matches(scope)
                if match == Match.FULL:
                    return route
    return None


async def test_every_route_is_reached_by_its_own_paths_in_either_order():
    # async: creating the app opens grpc.aio channels, which need a running event loop (after other
    # async tests in the same session there is no default loop to fall back on)
    app = gateway_app.create_app(load_settings(GatewaySettings, env={"KINORA_INTERNAL_SECRET": "x" * 40}))
    listed = list(rest.ROUTERS)
    used = list(gateway_app.by_traffic(rest.ROUTERS))
    assert sorted(map(id, used)) == sorted(map(id, listed)) and used[:2] == list(gateway_app.HOT_FIRST)
    checked = 0
    for router in listed:
        for route, path in _routes(router):
            for sample in ("x", "00000000-0000-4000-8000-000000000000"):
                concrete = re.sub(r"\{[^}]+\}", sample, path)
                for method in route.methods:
                    assert _first_match(used, method, concrete) is route, (method, concrete)
                    assert _first_match(listed, method, concrete) is route, (method, concrete)
                    checked += 1
    assert checked > 100
    # The app itself includes the areas in the order used.
    prefixes = [r for r in app.router.routes if hasattr(r, "original_router")]
    assert [r.original_router for r in prefixes[:2]] == list(gateway_app.HOT_FIRST)
