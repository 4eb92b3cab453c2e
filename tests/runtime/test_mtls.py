"""Mutual TLS between services: certificates made here with `cryptography`;
a caller without a certificate from the cluster CA is refused."""

import datetime
import ipaddress

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kinora.runtime.clients import channel
from kinora.runtime.server import ServiceApp
from kinora.runtime.settings import RuntimeSettings, SettingsError, load_settings
from kinora.runtime.v1 import runtime_pb2, runtime_pb2_grpc
from kinora.stack.tansu import free_port


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca_key, ca_cert, cn, server=False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def write(tmp_path, name, key, cert):
    (tmp_path / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (tmp_path / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(tmp_path / f"{name}.crt"), str(tmp_path / f"{name}.key")


@pytest.fixture
def pki(tmp_path):
    ca_key, ca_cert = make_ca("kinora-test-ca")
    (tmp_path / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server = write(tmp_path, "server", *issue(ca_key, ca_cert, "cameo", server=True))
    client = write(tmp_path, "client", *issue(ca_key, ca_cert, "generator"))
    rogue_key, rogue_cert = make_ca("rogue-ca")
    rogue = write(tmp_path, "rogue", *issue(rogue_key, rogue_cert, "intruder"))
    return {"ca": str(tmp_path / "ca.crt"), "server": server, "client": client, "rogue": rogue}


def creds(pki, who):
    read = lambda p: open(p, "rb").read()  # noqa: E731
    if who is None:
        return grpc.ssl_channel_credentials(root_certificates=read(pki["ca"]))
    cert, key = pki[who]
    return grpc.ssl_channel_credentials(
        root_certificates=read(pki["ca"]), private_key=read(key), certificate_chain=read(cert)
    )


async def test_only_callers_with_a_cluster_certificate_get_in(pki):
    cert, key = pki["server"]
    app = ServiceApp(
        "tls",
        RuntimeSettings(
            grpc_host="127.0.0.1", grpc_port=free_port(), tls_cert_file=cert, tls_key_file=key, tls_ca_file=pki["ca"]
        ),
    )
    await app.start()
    try:
        address = f"127.0.0.1:{app.port}"
        async with channel(address, credentials=creds(pki, "client")) as ch:
            reply = await runtime_pb2_grpc.RuntimeServiceStub(ch).Ping(
                runtime_pb2.PingRequest(payload=b"ok"), timeout=5
            )
            assert reply.payload == b"ok"
        for who in (None, "rogue"):
            async with channel(address, credentials=creds(pki, who)) as ch:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await runtime_pb2_grpc.RuntimeServiceStub(ch).Ping(runtime_pb2.PingRequest(), timeout=5)
                assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        async with grpc.aio.insecure_channel(address) as ch:  # plaintext is refused too
            with pytest.raises(grpc.aio.AioRpcError):
                await runtime_pb2_grpc.RuntimeServiceStub(ch).Ping(runtime_pb2.PingRequest(), timeout=5)
    finally:
        await app.stop()


def test_partial_tls_settings_are_refused(pki):
    cert, _ = pki["server"]
    with pytest.raises(SettingsError, match="must be set together"):
        load_settings(RuntimeSettings, {"KINORA_TLS_CERT_FILE": cert})
    with pytest.raises(SettingsError, match="KINORA_TLS_CA_FILE='/nope' is not valid: no readable file"):
        load_settings(RuntimeSettings, {"KINORA_TLS_CA_FILE": "/nope"})


def test_a_deployment_that_requires_mutual_tls_does_not_start_without_it():
    with pytest.raises(SettingsError, match="KINORA_REQUIRE_MTLS is on"):
        load_settings(RuntimeSettings, {"KINORA_REQUIRE_MTLS": "true"})


async def test_kubelet_probes_get_health_in_plaintext_on_its_own_port(pki):
    """Kubernetes' gRPC probes cannot present a client certificate: KINORA_HEALTH_PORT serves
    health alone in plaintext; everything else stays behind mutual TLS."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    cert, key = pki["server"]
    app = ServiceApp(
        "tls",
        RuntimeSettings(
            grpc_host="127.0.0.1",
            grpc_port=free_port(),
            tls_cert_file=cert,
            tls_key_file=key,
            tls_ca_file=pki["ca"],
            health_port=free_port(),
        ),
    )
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.health_port}") as ch:
            reply = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await runtime_pb2_grpc.RuntimeServiceStub(ch).Ping(runtime_pb2.PingRequest(), timeout=5)
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await app.stop()
