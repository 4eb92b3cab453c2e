"""System tests: the whole platform in-process (see platform.py)."""

import pytest
from platform_harness import PlatformThread, make_principals


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with PlatformThread(tmp_path_factory.mktemp("system")) as running:
        yield running


@pytest.fixture(scope="session")
def principals(platform):
    return make_principals(platform)


@pytest.fixture(scope="session")
def gateway_url(platform):
    """The real gateway (FastAPI over uvicorn) in front of the platform."""
    import asyncio

    from platform_harness import SECRET

    from kinora.runtime.settings import load_settings
    from services.gateway.server import GatewayServer
    from services.gateway.settings import GatewaySettings

    settings = load_settings(
        GatewaySettings,
        {
            "KINORA_HTTP_HOST": "127.0.0.1",
            "KINORA_HTTP_PORT": "0",
            "KINORA_INTERNAL_SECRET": SECRET,
            # Generous limits: the hostile-input tests must reach the handlers, not the rate limiter.
            "KINORA_RATE_USER_BURST": "100000",
            "KINORA_RATE_ANON_BURST": "100000",
            "KINORA_RATE_KEY_BURST": "100000",
            **{f"KINORA_{n.upper()}_ADDR": a for n, a in platform.addr.items()},
        },
    )
    holder = {}

    async def start():  # built on the platform's loop: its gRPC channels belong to that loop
        holder["server"] = GatewayServer(settings)
        return await holder["server"].start()

    port = asyncio.run_coroutine_threadsafe(start(), platform.loop).result(60)
    server = holder["server"]
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(server.stop(), platform.loop).result(60)
