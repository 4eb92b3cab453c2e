"""Cameo service settings (environment only)."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.settings import RuntimeSettings, port, positive_int, setting


@dataclass(frozen=True)
class CameoSettings(RuntimeSettings):
    grpc_port: int = setting("KINORA_GRPC_PORT", port, 50052)
    database_url: str = setting("KINORA_DATABASE_URL", str, "sqlite:///data/cameo.db")
    db_pool_size: int = setting("KINORA_CAMEO_DB_POOL", positive_int, 8,
                                "database connections per replica (consent checks run on them)")
    check_workers: int = setting("KINORA_CAMEO_CHECK_WORKERS", positive_int, 8,
                                 "threads that run consent checks against the database")
