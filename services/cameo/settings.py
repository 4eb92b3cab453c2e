"""Cameo service settings (environment only)."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.settings import DatabaseSettings, boolean, port, positive_int, setting


@dataclass(frozen=True)
class CameoSettings(DatabaseSettings):
    grpc_port: int = setting("KINORA_GRPC_PORT", port, 50052)
    # Each worker holds one pooled connection (pool: 5 + 5 overflow) while it
    # runs; the relay and consumer need one each.
    db_workers: int = setting(
        "KINORA_CAMEO_DB_WORKERS", positive_int, 6, "threads that run database work (consent checks and updates)"
    )
    check_statements: int = setting(
        "KINORA_CAMEO_CHECK_STATEMENTS",
        positive_int,
        2,
        "consent-check statements in flight per replica; checks arriving meanwhile share the next statement",
    )
    preload_model: bool = setting(
        "KINORA_CAMEO_PRELOAD_MODEL", boolean, True, "load the restriction-matching model before reporting SERVING"
    )
