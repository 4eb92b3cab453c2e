"""Gateway settings: where the services are, the HTTP port, rate limits and
webhook delivery and the egress policy for it. Environment variables only, validated at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.egress import Network, cidrs
from kinora.runtime.settings import RuntimeSettings, address, boolean, non_negative_float, port, positive_int, setting


def media_key(raw: str) -> str:
    if len(raw.encode()) < 32:
        raise ValueError("the media URL key must be at least 32 bytes (e.g. `openssl rand -base64 48`)")
    return raw


def redis_url(raw: str) -> str:
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected a Redis URL such as redis://127.0.0.1:6379/0")
    return raw


@dataclass(frozen=True)
class GatewaySettings(RuntimeSettings):
    http_host: str = setting("KINORA_HTTP_HOST", str, "0.0.0.0")
    http_port: int = setting("KINORA_HTTP_PORT", port, 8080)
    identity_addr: str = setting("KINORA_IDENTITY_ADDR", address, "127.0.0.1:50061")
    cameo_addr: str = setting("KINORA_CAMEO_ADDR", address, "127.0.0.1:50062")
    feed_addr: str = setting("KINORA_FEED_ADDR", address, "127.0.0.1:50063")
    generator_addr: str = setting("KINORA_GENERATOR_ADDR", address, "127.0.0.1:50064")
    billing_addr: str = setting("KINORA_BILLING_ADDR", address, "127.0.0.1:50065")
    redis_url: str | None = setting(
        "KINORA_REDIS_URL", redis_url, None, "shared rate-limit buckets across replicas; in-process when unset"
    )
    # Token buckets: sustained requests per second and burst, per signed-in user and per API key.
    user_rate: float = setting("KINORA_RATE_USER_PER_SECOND", non_negative_float, 20.0)
    user_burst: int = setting("KINORA_RATE_USER_BURST", positive_int, 60)
    key_rate: float = setting("KINORA_RATE_KEY_PER_SECOND", non_negative_float, 10.0)
    key_burst: int = setting("KINORA_RATE_KEY_BURST", positive_int, 30)
    # Trading an API key the gateway has not cached costs identity a lookup: per client address.
    key_exchange_rate: float = setting("KINORA_RATE_KEY_EXCHANGE_PER_SECOND", non_negative_float, 1.0)
    key_exchange_burst: int = setting("KINORA_RATE_KEY_EXCHANGE_BURST", positive_int, 10)
    apikey_cache_size: int = setting(
        "KINORA_APIKEY_CACHE_SIZE",
        positive_int,
        10_000,
        "API keys whose access token is kept (least recently used go first)",
    )
    # Sign-up/sign-in per client address (anonymous calls).
    anon_rate: float = setting("KINORA_RATE_ANON_PER_SECOND", non_negative_float, 5.0)
    anon_burst: int = setting("KINORA_RATE_ANON_BURST", positive_int, 20)
    # Behind an ingress every peer is the ingress: the client's own address comes from
    # X-Forwarded-For, which is believed only when the peer is in these ranges.
    trusted_proxies: tuple[Network, ...] = setting(
        "KINORA_TRUSTED_PROXIES",
        cidrs,
        (),
        "the ingress/load balancer ranges whose X-Forwarded-For is believed; unset trusts no forwarded header",
    )
    # Request bodies, capped while they stream in (services/gateway/bodylimit.py).
    body_max_video_bytes: int = setting(
        "KINORA_BODY_MAX_VIDEO_BYTES",
        positive_int,
        30 * 2**20,
        "a cameo verification clip (identity refuses more than 30 MB too)",
    )
    body_max_image_bytes: int = setting(
        "KINORA_BODY_MAX_IMAGE_BYTES",
        positive_int,
        10 * 2**20,
        "an image to animate (the generator refuses more than 10 MB too)",
    )
    body_max_json_bytes: int = setting("KINORA_BODY_MAX_JSON_BYTES", positive_int, 2**20, "any other body")
    call_timeout_s: float = setting("KINORA_CALL_TIMEOUT_SECONDS", non_negative_float, 30.0)
    webhook_poll_s: float = setting("KINORA_WEBHOOK_POLL_SECONDS", non_negative_float, 1.0)
    webhook_max_attempts: int = setting("KINORA_WEBHOOK_MAX_ATTEMPTS", positive_int, 6)
    webhook_backoff_s: float = setting(
        "KINORA_WEBHOOK_BACKOFF_SECONDS", non_negative_float, 2.0, "first retry delay; doubles each attempt"
    )
    webhook_timeout_s: float = setting(
        "KINORA_WEBHOOK_TIMEOUT_SECONDS", non_negative_float, 10.0, "the whole delivery: resolve, connect, send, answer"
    )
    webhook_max_response_bytes: int = setting("KINORA_WEBHOOK_MAX_RESPONSE_BYTES", positive_int, 64 * 1024)
    # Outbound calls to user-given URLs (kinora.runtime.egress): https to public addresses only.
    egress_development: bool = setting(
        "KINORA_EGRESS_DEVELOPMENT",
        boolean,
        False,
        "development only: allow http:// and loopback targets (the local stack)",
    )
    egress_denied_cidrs: tuple[Network, ...] = setting(
        "KINORA_EGRESS_DENIED_CIDRS", cidrs, (), "the cluster's own ranges (pods, services), refused too"
    )
    # The web app (services/gateway/web.py, session.py, media.py).
    web_dir: str = setting(
        "KINORA_WEB_DIR", str, "", "the web app's static files, served at /; empty: web/ at the repository root"
    )
    media_key: str | None = setting(
        "KINORA_GATEWAY_MEDIA_KEY",
        media_key,
        None,
        "signs media URLs that <video> plays; unset: derived from KINORA_INTERNAL_SECRET "
        "(one random key per process when that is unset too)",
    )
    media_url_ttl_s: int = setting(
        "KINORA_GATEWAY_MEDIA_URL_TTL_SECONDS",
        positive_int,
        3600,
        "how long a signed media URL plays (rounded up to the next 5 minutes)",
    )
