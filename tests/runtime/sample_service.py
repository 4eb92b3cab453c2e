"""A minimal service built on the runtime, run as a real process by the tests.
It adds one slow test-only method so graceful shutdown can be observed."""

import asyncio
import sys
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kinora.runtime import bootstrap  # noqa: E402
from kinora.runtime.server import ServiceApp  # noqa: E402
from kinora.runtime.settings import RuntimeSettings, load_settings  # noqa: E402


async def sleep(request: bytes, context) -> bytes:
    await asyncio.sleep(float(request.decode()))
    return b"slept " + request


async def build(settings):
    app = ServiceApp("sample", settings)
    app.server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "kinora.test.v1.SampleService", {"Sleep": grpc.unary_unary_rpc_method_handler(sleep)}
            )
        ]
    )

    async def slow_start():
        await asyncio.sleep(float(__import__("os").environ.get("SAMPLE_STARTUP_DELAY", "0")))

    app.on_startup(slow_start)
    return app


if __name__ == "__main__":
    sys.exit(bootstrap.main("sample", lambda: load_settings(RuntimeSettings), build))
