"""Kafka plumbing shared by the outbox relay and the consumers (kafka-python;
works against Tansu locally and Apache Kafka in production).

Every client of a process authenticates the same way: `configure_kafka_security`
(called once at start from the settings) decides, `security()` gives the
keyword arguments each KafkaProducer, KafkaConsumer and KafkaAdminClient adds.
With Strimzi each service is its own KafkaUser (a client certificate, or a
SCRAM-SHA-512 password) whose ACLs let it write only its own topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger("kinora.kafka")

HEADER_EVENT_ID = "event_id"
HEADER_EVENT_TYPE = "event_type"
HEADER_SOURCE = "source"
HEADER_TIME = "time_ms"

_security: dict[str, Any] = {}


def configure_kafka_security(settings: Any) -> None:
    """From the KINORA_KAFKA_* settings (kinora.runtime.settings.RuntimeSettings)."""
    global _security
    protocol = getattr(settings, "kafka_security_protocol", "PLAINTEXT")
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_cafile"] = settings.kafka_ca_file
        options["ssl_check_hostname"] = True
    if protocol == "SSL":
        options.update(ssl_certfile=settings.kafka_cert_file, ssl_keyfile=settings.kafka_key_file)
    if protocol == "SASL_SSL":
        with open(settings.kafka_password_file) as f:
            password = f.read().strip()
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_username,
            sasl_plain_password=password,
        )
    _security = {} if protocol == "PLAINTEXT" else options


def security() -> dict[str, Any]:
    """Keyword arguments for a kafka-python client of this process."""
    return dict(_security)


def make_producer(bootstrap: list[str], client_id: str, timeout_ms: int = 30_000) -> KafkaProducer:
    """`timeout_ms` bounds how long a send may wait for the broker: the relay
    then rolls back and retries, instead of hanging while the broker is down."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=8 * 1024 * 1024,
        retries=5,
        max_in_flight_requests_per_connection=1,  # keep per-key order across retries
        # Idempotent producing pins a producer id that a restarted broker no longer knows,
        # leaving the client in a fatal state; consumers de-duplicate by event id anyway.
        enable_idempotence=False,
        request_timeout_ms=timeout_ms,
        delivery_timeout_ms=timeout_ms + 1000,
        max_block_ms=timeout_ms,
        metadata_max_age_ms=10_000,
        **security(),
    )


def ensure_topics(bootstrap: list[str], topics: list[str], partitions: int = 3, timeout_s: float = 30.0) -> None:
    """Create topics that do not exist yet. Waits for the broker to come up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap, client_id="kinora-admin", request_timeout_ms=10_000, **security()
            )
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka at {','.join(bootstrap)} is not reachable") from None
            time.sleep(0.25)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(t, partitions, 1) for t in missing])
            except TopicAlreadyExistsError:
                pass  # another replica won the race
    finally:
        admin.close()


def header_map(headers: Iterable[tuple[str, bytes | str]] | None) -> dict[str, str]:
    return {k: (v.decode() if isinstance(v, bytes | bytearray) else str(v)) for k, v in (headers or ())}
