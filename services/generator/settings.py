"""Generator settings (environment only). The API server and the worker
processes read the same variables."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.settings import (
    DatabaseSettings,
    SettingsError,
    address,
    boolean,
    load_settings,
    non_negative_float,
    positive_int,
    setting,
)

DEFAULT_MODELS = "standard=worldsim:standard,pro=worldsim:pro"


@dataclass(frozen=True)
class ModelRoute:
    """A public model name and the Triton model (and quality) that serves it."""

    name: str
    triton_model: str
    quality: str


def model_routes(raw: str) -> tuple[ModelRoute, ...]:
    """Parse `name=triton_model[:quality],...`; adding a model is configuration only."""
    routes: dict[str, ModelRoute] = {}
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        name, sep, target = part.partition("=")
        triton_model, _, quality = target.partition(":")
        quality = quality or "standard"
        if not sep or not name.strip() or not triton_model.strip():
            raise ValueError(f"expected name=triton_model[:quality], got {part!r}")
        if quality not in ("standard", "pro"):
            raise ValueError(f"quality for {name!r} must be standard or pro")
        routes[name.strip()] = ModelRoute(name.strip(), triton_model.strip(), quality)
    if not routes:
        raise ValueError("at least one model is needed")
    return tuple(routes.values())


def pools(raw: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`pool=model+model;pool2=model` → ((pool, (models...)), ...)."""
    result: dict[str, tuple[str, ...]] = {}
    for part in (p.strip() for p in raw.split(";") if p.strip()):
        name, sep, models = part.partition("=")
        if not sep or not name.strip() or not models.strip():
            raise ValueError(f"expected pool=model+model, got {part!r}")
        result[name.strip()] = tuple(m.strip() for m in models.split("+") if m.strip())
    return tuple(result.items())


@dataclass(frozen=True)
class GeneratorSettings(DatabaseSettings):
    grpc_port: int = setting("KINORA_GRPC_PORT", int, 50055)
    data_dir: str = setting("KINORA_DATA_DIR", str, ".kinora")
    blob_dir: str = setting("KINORA_BLOB_DIR", str, "", "where media is stored; default <data dir>/blobs/generator")
    cameo_addr: str | None = setting("KINORA_CAMEO_ADDR", address, None, "cameo service, for consent checks")
    identity_addr: str | None = setting(
        "KINORA_IDENTITY_ADDR", address, None, "identity service, for matching faces in inputs against verified cameos"
    )
    feed_addr: str | None = setting(
        "KINORA_FEED_ADDR", address, None, "feed service: may a person remix a clip that is not theirs?"
    )
    allow_unknown_faces: bool = setting(
        "KINORA_ALLOW_UNKNOWN_FACES",
        boolean,
        False,
        "accept image inputs showing a face that matches no verified cameo",
    )
    # On by default: within its budget (<= 5% of the generation): ~4% of a 10 s worldsim clip in wall time, ~3% in CPU
    # (BENCHMARKS.md "output scan"). Needs KINORA_IDENTITY_ADDR to know whose faces it sees.
    scan_outputs: bool = setting(
        "KINORA_SCAN_OUTPUTS",
        boolean,
        True,
        "workers scan sampled frames of each finished clip and fail it (uncharged) when "
        "it shows an enrolled person who is not one of its consented cameos",
    )
    likeness_dir: str = setting(
        "KINORA_LIKENESS_DIR",
        str,
        "",
        "identity's blob folder (read-only) holding cameo face crops and voice profiles; default KINORA_BLOB_DIR",
    )
    # Required (see require_billing); not a field without a default so tests can pass a Billing object.
    billing_addr: str | None = setting(
        "KINORA_BILLING_ADDR",
        address,
        None,
        "billing service (required): every generation is reserved, captured or released there",
    )
    triton_addr: str = setting("KINORA_TRITON_ADDR", address, "127.0.0.1:8001", "Triton gRPC endpoint")
    models: tuple = setting(
        "KINORA_GENERATOR_MODELS", model_routes, model_routes(DEFAULT_MODELS), "name=triton_model[:quality],..."
    )
    pools: tuple = setting("KINORA_GENERATOR_POOLS", pools, None, "pool=model+model;...; default one pool 'default'")
    pool_name: str = setting("KINORA_WORKER_POOL", str, "default", "the pool a worker process serves")
    worker_slots: int = setting(
        "KINORA_WORKER_SLOTS", positive_int, 2, "jobs a worker runs at once (2 keeps the model busy while one finishes)"
    )
    model_concurrency: int = setting(
        "KINORA_WORKER_MODEL_CONCURRENCY",
        positive_int,
        1,
        "model calls a worker has in flight; extra slots finish and store "
        "clips while the model already works on the next one",
    )
    lease_seconds: float = setting("KINORA_LEASE_SECONDS", non_negative_float, 30.0)
    max_attempts: int = setting("KINORA_MAX_ATTEMPTS", positive_int, 3)
    outage_seconds: float = setting(
        "KINORA_OUTAGE_SECONDS",
        non_negative_float,
        600.0,
        "how long a job waits through model or consent server outages (which use no attempts) before it fails",
    )
    model_timeout_seconds: float = setting("KINORA_MODEL_TIMEOUT_SECONDS", non_negative_float, 1800.0)
    media_ttl_days: float = setting("KINORA_MEDIA_TTL_DAYS", non_negative_float, 30.0, "0 keeps media forever")
    download_secret: str | None = setting(
        "KINORA_DOWNLOAD_SECRET", str, None, "HMAC key for download tokens; default derived from the internal secret"
    )
    download_ttl_seconds: int = setting("KINORA_DOWNLOAD_TTL_SECONDS", positive_int, 3600)
    demand_interval_seconds: float = setting("KINORA_DEMAND_INTERVAL_SECONDS", non_negative_float, 15.0)
    hold_renew_margin_seconds: float = setting(
        "KINORA_HOLD_RENEW_MARGIN_SECONDS",
        non_negative_float,
        900.0,
        "billing holds of queued and running jobs are renewed when they lapse within this many seconds "
        "(keep it well under KINORA_BILLING_HOLD_TTL_SECONDS and over the maintenance interval)",
    )
    poll_seconds: float = setting("KINORA_WORKER_POLL_SECONDS", non_negative_float, 0.2)
    sign_c2pa: bool = setting("KINORA_C2PA_SIGN", boolean, True)

    def routes(self) -> dict[str, ModelRoute]:
        return {route.name: route for route in self.models}

    def pool_map(self) -> dict[str, list[str]]:
        if self.pools:
            return {name: list(models) for name, models in self.pools}
        return {"default": [route.name for route in self.models]}

    def blob_root(self) -> str:
        return self.blob_dir or f"{self.data_dir}/blobs/generator"


def require_billing(settings: GeneratorSettings) -> GeneratorSettings:
    """The generator has no billing of its own: without the billing service's
    address neither the API nor a worker starts."""
    if not settings.billing_addr:
        raise SettingsError(
            [
                "KINORA_BILLING_ADDR is required but not set (the billing service, which holds, "
                "captures and releases every generation)"
            ]
        )
    return settings


def load_generator_settings(env=None) -> GeneratorSettings:
    """The settings of a generator process (API or worker), from the environment."""
    return require_billing(load_settings(GeneratorSettings, env))
