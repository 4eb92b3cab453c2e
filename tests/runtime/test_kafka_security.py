"""Kafka client security from settings: each process authenticates as its service's own
Kafka user (a client certificate, or a SCRAM password over TLS); nothing when PLAINTEXT."""

import pytest

from kinora.runtime import kafka
from kinora.runtime.settings import RuntimeSettings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def plaintext_after():
    yield
    kafka.configure_kafka_security(RuntimeSettings())


def test_plaintext_adds_nothing():
    kafka.configure_kafka_security(load_settings(RuntimeSettings, {}))
    assert kafka.security() == {}


def test_ssl_presents_the_service_certificate(tmp_path):
    files = {n: tmp_path / n for n in ("ca.crt", "user.crt", "user.key")}
    for f in files.values():
        f.write_text("x")
    settings = load_settings(
        RuntimeSettings,
        {
            "KINORA_KAFKA_SECURITY_PROTOCOL": "ssl",
            "KINORA_KAFKA_CA_FILE": str(files["ca.crt"]),
            "KINORA_KAFKA_CERT_FILE": str(files["user.crt"]),
            "KINORA_KAFKA_KEY_FILE": str(files["user.key"]),
        },
    )
    kafka.configure_kafka_security(settings)
    assert kafka.security() == {
        "security_protocol": "SSL",
        "ssl_cafile": str(files["ca.crt"]),
        "ssl_check_hostname": True,
        "ssl_certfile": str(files["user.crt"]),
        "ssl_keyfile": str(files["user.key"]),
    }


def test_scram_reads_the_password_from_its_file(tmp_path):
    (tmp_path / "ca.crt").write_text("x")
    (tmp_path / "password").write_text("s3cret\n")
    settings = load_settings(
        RuntimeSettings,
        {
            "KINORA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KINORA_KAFKA_CA_FILE": str(tmp_path / "ca.crt"),
            "KINORA_KAFKA_USERNAME": "kinora-feed",
            "KINORA_KAFKA_PASSWORD_FILE": str(tmp_path / "password"),
        },
    )
    kafka.configure_kafka_security(settings)
    options = kafka.security()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_username"] == "kinora-feed"
    assert options["sasl_plain_password"] == "s3cret"
    assert "s3cret" not in repr(settings)  # the settings hold the file's path, not the password


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KINORA_KAFKA_SECURITY_PROTOCOL": "SSL"}, "SSL needs KINORA_KAFKA_CA_FILE"),
        ({"KINORA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_SSL needs KINORA_KAFKA_USERNAME"),
        ({"KINORA_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "expected PLAINTEXT, SSL or SASL_SSL"),
    ],
)
def test_incomplete_kafka_security_is_refused(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(RuntimeSettings, env)
