"""Service certificates for mutual TLS, made with `cryptography`: a private CA
and one certificate per service, as `kinora up` and the tests need them (a
deployment gets the same shape from cert-manager; see docs/runtime.md).

A certificate names its service in a URI subject alternative name,
`spiffe://kinora/<service>` (kinora.runtime.peers reads it back); the common
name repeats the service name for people reading it. DNS and IP names are
there only so clients can check the server's hostname.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kinora.runtime.peers import service_uri

LOCAL_HOSTS = ("localhost", "127.0.0.1")
_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class TlsFiles:
    """What KINORA_TLS_CERT_FILE, KINORA_TLS_KEY_FILE and KINORA_TLS_CA_FILE point at."""

    cert: str
    key: str
    ca: str

    def env(self) -> dict[str, str]:
        return {"KINORA_TLS_CERT_FILE": self.cert, "KINORA_TLS_KEY_FILE": self.key, "KINORA_TLS_CA_FILE": self.ca}


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kinora"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _write_private(path: Path, data: bytes) -> None:
    """Key files are 0600 from their first byte (no window where others may read them)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class CertificateAuthority:
    """A CA kept as ca.crt and ca.key (0600) in `directory`, made on first use."""

    def __init__(self, directory: Path, name: str = "kinora-local-ca", valid_days: int = 365):
        self.directory = Path(directory)
        self.cert_path, self.key_path = self.directory / "ca.crt", self.directory / "ca.key"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if not self._load() or self.cert.not_valid_after_utc - _now() < 30 * _DAY:
            self._create(name, valid_days)

    def _load(self) -> bool:
        if not (self.cert_path.exists() and self.key_path.exists()):
            return False
        self.cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self.key_path}: not an EC private key (this module makes P-256 CA keys)")
        self.key = key
        return True

    def _create(self, name: str, valid_days: int) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + valid_days * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        _write_private(self.key_path, _key_pem(self.key))
        self.cert_path.write_bytes(_cert_pem(self.cert))

    def issue(
        self, service: str, hosts: tuple[str, ...] = LOCAL_HOSTS, valid_days: int = 30, directory: Path | None = None
    ) -> TlsFiles:
        """A certificate for `service` (server and client use), written as <service>.crt
        and <service>.key (0600) next to the CA, or in `directory`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        names = [x509.UniformResourceIdentifier(service_uri(service)), *(_san(h) for h in hosts)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(service))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + valid_days * _DAY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        out = Path(directory or self.directory)
        cert_path, key_path = out / f"{service}.crt", out / f"{service}.key"
        _write_private(key_path, _key_pem(key))
        cert_path.write_bytes(_cert_pem(cert))
        return TlsFiles(str(cert_path), str(key_path), str(self.cert_path))

    def current(self, service: str) -> TlsFiles | None:
        """The certificate already issued to `service`, if it was signed by this CA and
        is valid for more than a week."""
        cert_path, key_path = self.directory / f"{service}.crt", self.directory / f"{service}.key"
        if not (cert_path.exists() and key_path.exists()):
            return None
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if cert.issuer != self.cert.subject or cert.not_valid_after_utc - _now() < 7 * _DAY:
            return None
        try:
            ca_key = self.cert.public_key()
            if not isinstance(ca_key, ec.EllipticCurvePublicKey) or cert.signature_hash_algorithm is None:
                return None  # not made by this module (its CA keys are P-256)
            ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        except Exception:  # noqa: BLE001 - signed by an earlier CA of the same name
            return None
        return TlsFiles(str(cert_path), str(key_path), str(self.cert_path))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def local_pki(directory: Path, services: tuple[str, ...] | list[str]) -> dict[str, TlsFiles]:
    """The local stack's CA and a certificate per service (kept across starts while valid)."""
    ca = CertificateAuthority(directory)
    return {name: ca.current(name) or ca.issue(name) for name in services}
