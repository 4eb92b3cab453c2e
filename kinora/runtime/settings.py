"""Settings come from environment variables only, and are validated at start-up.

A service declares its settings as a frozen dataclass whose fields carry the
variable name, a parser and a default. `load_settings` reads them all and
reports every problem at once, naming each variable, so a bad deployment fails
fast with a message an operator can act on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

_MISSING = object()
T = TypeVar("T")


class SettingsError(Exception):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid settings:\n  " + "\n  ".join(problems))


def setting(var: str, parse: Callable[[str], Any] = str, default: Any = _MISSING, help: str = "") -> Any:
    """Declare a dataclass field read from environment variable `var`."""
    meta = {"env": var, "parse": parse, "help": help}
    if default is _MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def load_settings(cls: type[T], env: Mapping[str, str] | None = None, **overrides: Any) -> T:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]  # T is a settings dataclass
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        var = field.metadata.get("env")
        if var is None:
            continue
        raw = env.get(var)
        if raw is None or raw == "":
            if field.default is dataclasses.MISSING:
                why = f" ({field.metadata['help']})" if field.metadata.get("help") else ""
                problems.append(f"{var} is required but not set{why}")
            continue
        try:
            values[field.name] = field.metadata["parse"](raw)
        except (ValueError, TypeError) as exc:
            problems.append(f"{var}={raw!r} is not valid: {exc}")
    if problems:
        raise SettingsError(problems)
    return cls(**values)


# Parsers. Each raises ValueError with a short human explanation.


def port(raw: str) -> int:
    value = int(raw) if raw.strip().isdigit() else None
    if value is None or not 0 <= value <= 65535:
        raise ValueError("expected a TCP port number between 0 and 65535")
    return value


def address(raw: str) -> str:
    """host:port, optionally as dns:///host:port (resolved to every address, for round robin)."""
    host, sep, port_text = raw.removeprefix("dns:///").rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError("expected host:port or dns:///host:port, for example 127.0.0.1:50051")
    return raw


def addresses(raw: str) -> list[str]:
    return [address(part.strip()) for part in raw.split(",") if part.strip()]


DATABASE_URL_EXAMPLE = "postgresql+psycopg://kinora:secret@db.example:5432/kinora_feed"


def database_url(raw: str) -> str:
    """A SQLAlchemy URL of a PostgreSQL database, for psycopg (the driver installed)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        driver = make_url(raw).drivername
    except ArgumentError:
        driver = None
    if driver != "postgresql+psycopg":
        raise ValueError(f"expected a PostgreSQL URL for the psycopg driver, such as {DATABASE_URL_EXAMPLE}")
    return raw


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value <= 0:
        raise ValueError("expected a number greater than zero")
    return value


def non_negative_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number") from None
    if value < 0:
        raise ValueError("expected a number of zero or more")
    return value


def boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def log_level(raw: str) -> str:
    upper = raw.strip().upper()
    if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
    return upper


def readable_file(raw: str) -> str:
    if not os.path.isfile(raw) or not os.access(raw, os.R_OK):
        raise ValueError("no readable file at that path")
    return raw


def csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def names(raw: str) -> tuple[str, ...]:
    return tuple(csv(raw))


def kafka_protocol(raw: str) -> str:
    upper = raw.strip().upper()
    if upper not in ("PLAINTEXT", "SSL", "SASL_SSL"):
        raise ValueError("expected PLAINTEXT, SSL or SASL_SSL")
    return upper


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """What every gRPC service needs. Services extend this dataclass."""

    grpc_host: str = setting("KINORA_GRPC_HOST", str, "0.0.0.0")
    grpc_port: int = setting("KINORA_GRPC_PORT", port, 50051)
    metrics_port: int = setting("KINORA_METRICS_PORT", port, 0, "0 disables the /metrics endpoint")
    kafka_bootstrap: list[str] = setting("KINORA_KAFKA_BOOTSTRAP", addresses, None)
    outbox_retention_s: float = setting(
        "KINORA_OUTBOX_RETENTION_S",
        non_negative_float,
        3600.0,
        "how long published events stay in the outbox, to be published again if the broker loses them",
    )
    identity_addr: str | None = setting("KINORA_IDENTITY_ADDR", address, None, "where to fetch the JWKS")
    log_level: str = setting("KINORA_LOG_LEVEL", log_level, "INFO")
    drain_seconds: float = setting(
        "KINORA_DRAIN_SECONDS", non_negative_float, 0.0, "how long to report NOT_SERVING before refusing calls"
    )
    grace_seconds: float = setting("KINORA_GRACE_SECONDS", non_negative_float, 10.0)
    worker_stop_seconds: float = setting(
        "KINORA_WORKER_STOP_SECONDS",
        non_negative_float,
        15.0,
        "how long to wait at shutdown for background workers (outbox relay, event consumers: a "
        "consumer may finish joining its group and wait for the group's leader to leave first); "
        "drain + grace + this must fit the pod's termination grace period (30 s in the chart)",
    )
    max_connection_age_s: float = setting(
        "KINORA_GRPC_MAX_CONNECTION_AGE_S",
        non_negative_float,
        300.0,
        "close client connections after this long (calls in flight "
        "finish) so clients re-resolve and spread over new replicas; "
        "0 keeps them open",
    )
    consumer_threads: int = setting(
        "KINORA_CONSUMER_THREADS",
        positive_int,
        1,
        "event consumers per process (members of the service's consumer group; "
        "useful up to the topics' partition count)",
    )
    otlp_endpoint: str | None = setting("OTEL_EXPORTER_OTLP_ENDPOINT", str, None)
    internal_secret: str | None = setting(
        "KINORA_INTERNAL_SECRET", str, None, "shared secret services use to obtain service tokens"
    )
    # Mutual TLS between services: all three set, or none. The certificate names this
    # service (spiffe://kinora/<name>); servers re-read the files when they change.
    tls_cert_file: str | None = setting("KINORA_TLS_CERT_FILE", readable_file, None)
    tls_key_file: str | None = setting("KINORA_TLS_KEY_FILE", readable_file, None)
    tls_ca_file: str | None = setting("KINORA_TLS_CA_FILE", readable_file, None)
    require_mtls: bool = setting(
        "KINORA_REQUIRE_MTLS",
        boolean,
        False,
        "refuse to start without mutual TLS (deployments set it; see docs/runtime.md)",
    )
    user_token_peers: tuple[str, ...] = setting(
        "KINORA_MTLS_USER_TOKEN_PEERS",
        names,
        ("gateway", "feed"),
        "with mutual TLS, the services whose calls may carry a user's token",
    )
    health_port: int = setting(
        "KINORA_HEALTH_PORT",
        port,
        0,
        "a plaintext port serving only gRPC health, for kubelet probes (they cannot "
        "present a client certificate); 0 disables it",
    )
    # Kafka client security (kinora.runtime.kafka): PLAINTEXT, SSL (client certificate) or SASL_SSL.
    kafka_security_protocol: str = setting("KINORA_KAFKA_SECURITY_PROTOCOL", kafka_protocol, "PLAINTEXT")
    kafka_ca_file: str | None = setting(
        "KINORA_KAFKA_CA_FILE", readable_file, None, "the brokers' CA (SSL and SASL_SSL)"
    )
    kafka_cert_file: str | None = setting("KINORA_KAFKA_CERT_FILE", readable_file, None, "SSL client certificate")
    kafka_key_file: str | None = setting("KINORA_KAFKA_KEY_FILE", readable_file, None, "SSL client key")
    kafka_sasl_mechanism: str = setting("KINORA_KAFKA_SASL_MECHANISM", str, "SCRAM-SHA-512")
    kafka_username: str | None = setting("KINORA_KAFKA_USERNAME", str, None, "SASL user")
    kafka_password_file: str | None = setting(
        "KINORA_KAFKA_PASSWORD_FILE", readable_file, None, "file holding the SASL password"
    )

    def __post_init__(self) -> None:
        problems = []
        tls = [self.tls_cert_file, self.tls_key_file, self.tls_ca_file]
        if any(tls) and not all(tls):
            problems.append(
                "KINORA_TLS_CERT_FILE, KINORA_TLS_KEY_FILE and KINORA_TLS_CA_FILE "
                "must be set together (mutual TLS needs all three)"
            )
        elif self.require_mtls and not all(tls):
            problems.append(
                "KINORA_REQUIRE_MTLS is on: set KINORA_TLS_CERT_FILE, KINORA_TLS_KEY_FILE and "
                "KINORA_TLS_CA_FILE (this service's certificate, its key and the cluster CA)"
            )
        protocol = self.kafka_security_protocol
        if protocol == "SSL" and not (self.kafka_ca_file and self.kafka_cert_file and self.kafka_key_file):
            problems.append(
                "KINORA_KAFKA_SECURITY_PROTOCOL=SSL needs KINORA_KAFKA_CA_FILE, KINORA_KAFKA_CERT_FILE "
                "and KINORA_KAFKA_KEY_FILE"
            )
        if protocol == "SASL_SSL" and not (self.kafka_username and self.kafka_password_file):
            problems.append(
                "KINORA_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KINORA_KAFKA_USERNAME and KINORA_KAFKA_PASSWORD_FILE"
            )
        if problems:
            raise SettingsError(problems)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabaseSettings(RuntimeSettings):
    """What a service with its own database needs. Such services extend this dataclass."""

    database_url: str = setting(
        "KINORA_DATABASE_URL", database_url, help=f"the service's PostgreSQL database, e.g. {DATABASE_URL_EXAMPLE}"
    )
