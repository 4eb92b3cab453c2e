"""Identity settings (environment variables only; see docs/identity.md)."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.settings import DatabaseSettings, boolean, positive_int, setting


def regions(raw: str) -> tuple[str, ...]:
    codes = tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    bad = [c for c in codes if len(c) != 2 or not c.isalpha() or not c.isascii()]
    if not codes or bad:
        raise ValueError("expected ISO 3166-1 alpha-2 codes separated by commas, for example US,CA")
    return codes


def non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < 0:
        raise ValueError("expected a number of zero or more")
    return value


@dataclass(frozen=True)
class IdentitySettings(DatabaseSettings):
    allowed_regions: tuple[str, ...] = setting("KINORA_ALLOWED_REGIONS", regions, ("US", "CA"))
    invites_per_user: int = setting(
        "KINORA_INVITES_PER_USER", non_negative_int, 5, "invites each cameo-verified user may create"
    )
    invite_ttl_days: int = setting("KINORA_INVITE_TTL_DAYS", positive_int, 14)
    access_token_ttl_s: int = setting("KINORA_ACCESS_TOKEN_TTL_SECONDS", positive_int, 900)
    refresh_token_ttl_s: int = setting("KINORA_REFRESH_TOKEN_TTL_SECONDS", positive_int, 30 * 24 * 3600)
    apikey_token_ttl_s: int = setting("KINORA_APIKEY_TOKEN_TTL_SECONDS", positive_int, 300)
    # OWASP's argon2id floor (19 MiB, 2 passes, 1 lane); tests lower it. ~10-50 ms a hash here.
    argon2_time_cost: int = setting("KINORA_ARGON2_TIME_COST", positive_int, 2)
    argon2_memory_kib: int = setting("KINORA_ARGON2_MEMORY_KIB", positive_int, 19456)
    argon2_parallelism: int = setting("KINORA_ARGON2_PARALLELISM", positive_int, 1)
    # Keys: PEM files named <kid>.pem in this folder, or (unset) in the database,
    # encrypted with KINORA_JWT_KEY_SECRET (falls back to KINORA_INTERNAL_SECRET).
    jwt_keys_dir: str | None = setting("KINORA_JWT_PRIVATE_KEYS_DIR", str, None)
    jwt_key_secret: str | None = setting("KINORA_JWT_KEY_SECRET", str, None)
    jwks_max_age_s: int = setting("KINORA_JWKS_MAX_AGE_SECONDS", positive_int, 300)
    signin_window_s: int = setting("KINORA_SIGNIN_WINDOW_SECONDS", positive_int, 900)
    # Failures of one handle from one client before it backs off (doubling from the backoff, up to
    # the window); the account is never locked for everyone.
    signin_max_failures_account: int = setting(
        "KINORA_SIGNIN_MAX_FAILURES_PER_ACCOUNT", positive_int, 5, "failures per handle and client before backing off"
    )
    signin_backoff_s: int = setting(
        "KINORA_SIGNIN_BACKOFF_SECONDS",
        positive_int,
        60,
        "first wait after those failures; doubles with each further failure",
    )
    signin_max_failures_address: int = setting("KINORA_SIGNIN_MAX_FAILURES_PER_ADDRESS", positive_int, 30)
    guardian_code_ttl_s: int = setting("KINORA_GUARDIAN_CODE_TTL_SECONDS", positive_int, 24 * 3600)
    teen_daily_feed_cap: int = setting("KINORA_TEEN_DAILY_FEED_CAP", positive_int, 60)
    verification_ttl_s: int = setting("KINORA_VERIFICATION_TTL_SECONDS", positive_int, 300)
    blob_dir: str = setting("KINORA_BLOB_DIR", str, "kinora-data/blobs")
    # Admin bootstrap: service tokens may mint invites (kinora admin invite).
    service_invites: bool = setting(
        "KINORA_SERVICE_INVITES",
        boolean,
        False,
        "service tokens (`kinora admin invite`) may mint invites; off unless the operator says so",
    )
