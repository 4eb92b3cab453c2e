"""python -m services.gateway: the public HTTP edge (REST, SSE, Sora-compatible /v1/videos)."""

import sys

from kinora.runtime import bootstrap
from kinora.runtime.settings import load_settings
from services.gateway.server import build
from services.gateway.settings import GatewaySettings


def print_openapi() -> int:
    """`python -m services.gateway openapi > openapi.json` refreshes the committed document."""
    import json

    from services.gateway.app import create_app

    print(json.dumps(create_app(load_settings(GatewaySettings, env={})).openapi(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["openapi"]:
        sys.exit(print_openapi())
    sys.exit(bootstrap.main("gateway", lambda: load_settings(GatewaySettings), build))
