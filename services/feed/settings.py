"""Feed settings (environment only)."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.settings import DatabaseSettings, address, non_negative_float, positive_int, setting


def share(raw: str) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a fraction between 0 and 1")
    return value


@dataclass(frozen=True)
class FeedSettings(DatabaseSettings):
    grpc_port: int = setting("KINORA_GRPC_PORT", int, 50063)
    cameo_addr: str | None = setting(
        "KINORA_CAMEO_ADDR", address, None, "cameo service, for the consent re-check at publish time"
    )
    cursor_secret: str | None = setting(
        "KINORA_FEED_CURSOR_SECRET", str, None, "HMAC key for page tokens; default derives from KINORA_INTERNAL_SECRET"
    )
    page_size: int = setting("KINORA_FEED_PAGE_SIZE", positive_int, 10)
    max_page_size: int = setting("KINORA_FEED_MAX_PAGE_SIZE", positive_int, 50)
    nudge_after_items: int = setting(
        "KINORA_FEED_NUDGE_AFTER", positive_int, 40, "items in one session before the page invites the user to create"
    )
    connected_share: float = setting(
        "KINORA_FEED_CONNECTED_SHARE", share, 0.6, "target share of each page from people you are connected to"
    )
    max_per_author: int = setting("KINORA_FEED_MAX_PER_AUTHOR", positive_int, 2)
    candidates_per_source: int = setting("KINORA_FEED_CANDIDATES_PER_SOURCE", positive_int, 300)
    trending_days: float = setting("KINORA_FEED_TRENDING_DAYS", non_negative_float, 7.0)
    ranking_ttl_s: float = setting(
        "KINORA_FEED_RANKING_TTL_S",
        non_negative_float,
        60.0,
        "seconds a viewer's ranked candidates serve their next pages (0: rank every page)",
    )
    ranking_viewers: int = setting(
        "KINORA_FEED_RANKING_VIEWERS",
        positive_int,
        4096,
        "viewers whose ranked candidates each replica keeps (~20 kB each)",
    )
    db_workers: int = setting(
        "KINORA_FEED_DB_WORKERS",
        positive_int,
        3,
        "threads running requests' database work; measured on 2 cores, 3 served GetFeed "
        "better than 8 (less contention for the interpreter lock)",
    )
