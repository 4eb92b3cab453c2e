"""`python -m services.<name>` entry point shared by every service:
`serve` (default) or `migrate`. Settings errors end the process with a clear
message and exit status 2."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kinora.runtime.kafka import configure_kafka_security
from kinora.runtime.logs import configure_logging
from kinora.runtime.settings import SettingsError
from kinora.runtime.transport import use_settings_tls


class _App(Protocol):
    async def run_until_signal(self) -> None: ...


def main(
    name: str,
    load: Callable[[], Any],
    build: Callable[[Any], Awaitable[_App]],
    migrate: Callable[[Any], None] | None = None,
    argv: list[str] | None = None,
) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else "serve"
    try:
        settings = load()
    except SettingsError as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        return 2
    configure_logging(name, getattr(settings, "log_level", "INFO"))
    use_settings_tls(settings)  # outgoing calls present this service's certificate
    configure_kafka_security(settings)
    if command == "migrate":
        if migrate is None:
            print(f"{name}: has no database to migrate", file=sys.stderr)
            return 2
        migrate(settings)
        return 0
    if command != "serve":
        print(f"{name}: unknown command {command!r}; use 'serve' or 'migrate'", file=sys.stderr)
        return 2

    async def run() -> None:
        app = await build(settings)
        await app.run_until_signal()

    try:
        asyncio.run(run())
    except RuntimeError as exc:  # e.g. a port already in use
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    return 0
