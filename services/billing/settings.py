"""Billing settings: plans, packs, demand thresholds and timings, all from
environment variables (defaults give the product rules of issue 8)."""

from __future__ import annotations

from dataclasses import dataclass

from kinora import videospec
from kinora.runtime.settings import (
    DatabaseSettings,
    SettingsError,
    boolean,
    csv,
    non_negative_float,
    positive_int,
    setting,
)


@dataclass(frozen=True)
class PackSpec:
    id: str
    credits: int
    price_minor: int


def packs(raw: str) -> tuple[PackSpec, ...]:
    """`id:credits:price_minor,...`, e.g. `starter:10:400` = 10 credits for 4.00."""
    found = []
    for part in csv(raw):
        bits = part.split(":")
        if len(bits) != 3 or not bits[0] or not bits[1].isdigit() or not bits[2].isdigit():
            raise ValueError(f"pack {part!r} should look like id:credits:price_minor, e.g. starter:10:400")
        spec = PackSpec(bits[0], int(bits[1]), int(bits[2]))
        if spec.credits <= 0 or spec.price_minor <= 0:
            raise ValueError(f"pack {spec.id!r} needs credits and a price above zero")
        found.append(spec)
    if not found:
        raise ValueError("at least one credit pack is needed")
    return tuple(found)


def currency(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError("expected an ISO 4217 currency code such as USD")
    return code


def names(raw: str) -> tuple[str, ...]:
    found = tuple(csv(raw))
    if not found:
        raise ValueError("expected a comma-separated list")
    return found


def non_negative_int(raw: str) -> int:
    if not raw.strip().isdigit():
        raise ValueError("expected a whole number of zero or more")
    return int(raw)


def secret(raw: str) -> str:
    """A secret, never echoed: its shape is checked in BillingSettings.__post_init__, whose
    messages name the variable only (load_settings quotes the raw value of a parse error)."""
    return raw.strip()


def stripe_price(raw: str) -> str:
    value = raw.strip()
    if not value.startswith("price_") or any(c.isspace() for c in value):
        raise ValueError("expected a Stripe Price id (price_...)")
    return value


def http_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value.startswith(("https://", "http://")) or len(value) < 10:
        raise ValueError("expected an http(s) URL such as https://api.stripe.com")
    return value


def _models_of(quality: str) -> tuple[str, ...]:
    return tuple(model for model, q in videospec.MODELS.items() if q == quality)


def _sizes_of(quality: str) -> tuple[str, ...]:
    return tuple(f"{w}x{h}" for w, h in videospec.sizes_for(quality))


@dataclass(frozen=True)
class BillingSettings(DatabaseSettings):
    # Metering: two members overlap one batch's PostgreSQL work with the next one's decoding.
    consumer_threads: int = setting(
        "KINORA_CONSUMER_THREADS", positive_int, 2, "event consumers per process (members of billing's consumer group)"
    )
    currency: str = setting("KINORA_BILLING_CURRENCY", currency, "USD")
    packs: tuple[PackSpec, ...] = setting(
        "KINORA_BILLING_PACKS", packs, packs("starter:10:400,creator:50:1600,studio:150:4000")
    )
    # Plans. The day resets at 00:00 UTC for everyone.
    free_daily: int = setting("KINORA_BILLING_FREE_DAILY", non_negative_int, 30)
    # The default models and sizes are the shared table's (kinora/videospec.py): Free gets the
    # standard-quality models and their sizes, Pro every model and size.
    free_models: tuple[str, ...] = setting("KINORA_BILLING_FREE_MODELS", names, _models_of("standard"))
    # 15 s single clips for everyone; Pro's 25 s are its storyboards (kinora/videospec.py).
    free_max_seconds: int = setting("KINORA_BILLING_FREE_MAX_SECONDS", positive_int, 15)
    free_sizes: tuple[str, ...] = setting("KINORA_BILLING_FREE_SIZES", names, _sizes_of("standard"))
    pro_daily: int = setting("KINORA_BILLING_PRO_DAILY", non_negative_int, 100)
    pro_models: tuple[str, ...] = setting("KINORA_BILLING_PRO_MODELS", names, tuple(videospec.MODELS))
    pro_max_seconds: int = setting("KINORA_BILLING_PRO_MAX_SECONDS", positive_int, 25)
    pro_sizes: tuple[str, ...] = setting("KINORA_BILLING_PRO_SIZES", names, _sizes_of("pro"))
    pro_price_minor: int = setting("KINORA_BILLING_PRO_PRICE_MINOR", positive_int, 2000)
    pro_period_days: int = setting("KINORA_BILLING_PRO_PERIOD_DAYS", positive_int, 30)
    # Credits per started 10 s of video; sizes with 1080 or more lines cost double.
    credits_per_10s: int = setting("KINORA_BILLING_CREDITS_PER_10S", positive_int, 1)
    # Demand pricing: above either threshold (free tier), free users get only
    # `demand_free_allowance` free generations a day; beyond it they pay or wait.
    demand_queue_depth: int = setting("KINORA_BILLING_DEMAND_QUEUE_DEPTH", positive_int, 50)
    demand_wait_seconds: float = setting("KINORA_BILLING_DEMAND_WAIT_SECONDS", non_negative_float, 120.0)
    demand_free_allowance: int = setting("KINORA_BILLING_DEMAND_FREE_ALLOWANCE", non_negative_int, 10)
    demand_stale_seconds: float = setting(
        "KINORA_BILLING_DEMAND_STALE_SECONDS", non_negative_float, 600.0, "demand reports older than this are ignored"
    )
    quote_ttl_seconds: int = setting("KINORA_BILLING_QUOTE_TTL_SECONDS", positive_int, 300)
    hold_ttl_seconds: int = setting(
        "KINORA_BILLING_HOLD_TTL_SECONDS", positive_int, 3600, "holds older than this are released by the sweep"
    )
    sweep_interval_seconds: float = setting("KINORA_BILLING_SWEEP_INTERVAL_SECONDS", non_negative_float, 15.0)
    reconcile_interval_seconds: float = setting("KINORA_BILLING_RECONCILE_INTERVAL_SECONDS", non_negative_float, 300.0)
    reconcile_grace_seconds: float = setting(
        "KINORA_BILLING_RECONCILE_GRACE_SECONDS",
        non_negative_float,
        600.0,
        "captures younger than this may still await their event",
    )
    dev_payments: bool = setting(
        "KINORA_BILLING_DEV_PAYMENTS",
        boolean,
        False,
        "development only: the local test payment provider, whose fixed test tokens "
        "pay for anything (`kinora up` sets it; a deployment never does)",
    )
    test_provider_secret: str | None = setting(
        "KINORA_BILLING_TEST_PROVIDER_SECRET",
        str,
        None,
        "signs the test provider's webhooks; required with KINORA_BILLING_DEV_PAYMENTS",
    )

    # Stripe (docs/billing.md). No secret has a default: without the key nothing is sold.
    stripe_secret_key: str | None = setting(
        "KINORA_BILLING_STRIPE_SECRET_KEY",
        secret,
        None,
        "Stripe secret (sk_...) or restricted (rk_...) API key; when set, payments go through Stripe",
    )
    stripe_webhook_secret: str | None = setting(
        "KINORA_BILLING_STRIPE_WEBHOOK_SECRET",
        secret,
        None,
        "the webhook endpoint's signing secret (whsec_...); required with the key",
    )
    stripe_pro_price: str | None = setting(
        "KINORA_BILLING_STRIPE_PRO_PRICE",
        stripe_price,
        None,
        "the recurring Stripe Price (price_...) Pro is sold on; without it only credit packs are sold",
    )
    stripe_api_base: str | None = setting(
        "KINORA_BILLING_STRIPE_API_BASE",
        http_url,
        None,
        "Stripe's API address (tests, egress proxies); default https://api.stripe.com",
    )

    def __post_init__(self):
        super().__post_init__()
        if self.dev_payments and not self.test_provider_secret:
            raise SettingsError(
                [
                    "KINORA_BILLING_DEV_PAYMENTS needs KINORA_BILLING_TEST_PROVIDER_SECRET "
                    "(a random string: it signs the test provider's webhooks)"
                ]
            )
        shapes = [
            (self.stripe_secret_key, "KINORA_BILLING_STRIPE_SECRET_KEY", ("sk_", "rk_")),
            (self.stripe_webhook_secret, "KINORA_BILLING_STRIPE_WEBHOOK_SECRET", ("whsec_",)),
        ]
        wrong = [
            f"{var} is not valid: expected a value starting {' or '.join(prefixes)} (value not shown)"
            for value, var, prefixes in shapes
            if value and (not value.startswith(prefixes) or any(c.isspace() for c in value))
        ]
        if wrong:
            raise SettingsError(wrong)
        if self.stripe_secret_key and not self.stripe_webhook_secret:
            raise SettingsError(
                [
                    "KINORA_BILLING_STRIPE_SECRET_KEY needs KINORA_BILLING_STRIPE_WEBHOOK_SECRET "
                    "(the whsec_... signing secret of the webhook endpoint in Stripe's dashboard): "
                    "without it no payment that settles later could be trusted"
                ]
            )
