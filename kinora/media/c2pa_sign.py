"""C2PA provenance: sign an MP4 with a manifest saying it was made by a model.

Production keys come from files (a mounted secret) named by
`KINORA_C2PA_KEY_FILE` / `KINORA_C2PA_CERT_FILE` (PEM; the cert file holds the
chain, leaf first). Without them a development CA and signing certificate are
made once under the data directory, so local runs produce verifiable manifests
that are plainly not trusted by anyone else.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# IPTC digital source type for fully AI-generated media.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass(frozen=True)
class SigningIdentity:
    key_pem: bytes
    cert_chain_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kinora development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_development_identity() -> SigningIdentity:
    """A CA and an ES256 leaf certificate with the profile C2PA signers need
    (digitalSignature, emailProtection EKU, not a CA)."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Kinora dev C2PA root"))
        .issuer_name(_name("Kinora dev C2PA root"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Kinora dev generator"))
        .issuer_name(ca_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = leaf_cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    return SigningIdentity(key_pem, chain)


def load_identity(data_dir: str | Path | None = None, env=os.environ) -> SigningIdentity:
    """Production key/cert from the secret files, else the development pair
    under `<data_dir>/c2pa/` (made on first use, private key mode 0600)."""
    key_file, cert_file = env.get("KINORA_C2PA_KEY_FILE"), env.get("KINORA_C2PA_CERT_FILE")
    if key_file or cert_file:
        if not (key_file and cert_file):
            raise ValueError("set both KINORA_C2PA_KEY_FILE and KINORA_C2PA_CERT_FILE, or neither")
        return SigningIdentity(Path(key_file).read_bytes(), Path(cert_file).read_bytes())
    folder = Path(data_dir or env.get("KINORA_DATA_DIR", ".kinora")) / "c2pa"
    key_path, cert_path = folder / "dev-signing-key.pem", folder / "dev-signing-chain.pem"
    if not key_path.exists() or not cert_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        identity = make_development_identity()
        cert_path.write_bytes(identity.cert_chain_pem)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(identity.key_pem)
    return SigningIdentity(key_path.read_bytes(), cert_path.read_bytes())


class ProvenanceSigner:
    """Adds a signed C2PA manifest to MP4 bytes. One signer per process; the
    native signer is not shared across threads, hence the lock."""

    def __init__(self, identity: SigningIdentity, generator_name: str = "Kinora"):
        self.identity = identity
        self.generator_name = generator_name
        self._lock = threading.Lock()

    def _signer(self) -> c2pa.Signer:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.identity.cert_chain_pem, self.identity.key_pem, None)
        return c2pa.Signer.from_info(info)

    def manifest(self, title: str, model: str, generation_id: str, creator_handle: str) -> dict:
        return {
            "claim_generator_info": [{"name": self.generator_name, "version": "1"}],
            "title": title,
            "format": "video/mp4",
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                                "softwareAgent": {"name": f"kinora/{model}"},
                                "parameters": {"description": "AI-generated video with synchronized audio"},
                            }
                        ]
                    },
                },
                {
                    "label": "org.kinora.generation",
                    "data": {"generation_id": generation_id, "model": model, "creator": creator_handle},
                },
            ],
        }

    def sign_mp4(
        self,
        mp4: bytes,
        *,
        model: str,
        generation_id: str,
        creator_handle: str,
        ingredients: tuple[tuple[str, bytes], ...] = (),
    ) -> bytes:
        """`ingredients`: (generation id, signed MP4) of each clip this one is made
        of (a stitch's sources), listed as componentOf with their own manifests."""
        manifest = self.manifest(f"{generation_id}.mp4", model, generation_id, creator_handle)
        with self._lock, self._signer() as signer, c2pa.Builder(json.dumps(manifest)) as builder:
            for source_id, source in ingredients:
                builder.add_ingredient(
                    {"title": f"{source_id}.mp4", "relationship": "componentOf", "format": "video/mp4"},
                    "video/mp4",
                    io.BytesIO(source),
                )
            out = io.BytesIO()
            builder.sign(signer, "video/mp4", io.BytesIO(mp4), out)
            return out.getvalue()


def read_manifest(mp4: bytes) -> tuple[dict | None, str | None]:
    """The active manifest and validation state ("Valid", "Invalid", ...)."""
    with c2pa.Reader("video/mp4", io.BytesIO(mp4)) as reader:
        return reader.get_active_manifest(), reader.get_validation_state()


def trust_anchors_from_env(env=os.environ) -> bytes | None:
    """The PEM certificates a verifier trusts as this deployment's C2PA roots:
    `KINORA_C2PA_TRUST_ANCHORS_FILE`, else the root (last certificate) of
    `KINORA_C2PA_CERT_FILE`'s chain, else the development chain's root under the
    data directory when it exists. None when none is configured."""
    anchors = env.get("KINORA_C2PA_TRUST_ANCHORS_FILE")
    if anchors:
        return Path(anchors).read_bytes()
    chain_file = env.get("KINORA_C2PA_CERT_FILE")
    if not chain_file:
        dev = Path(env.get("KINORA_DATA_DIR", ".kinora")) / "c2pa" / "dev-signing-chain.pem"
        chain_file = str(dev) if dev.exists() else None
    if not chain_file:
        return None
    chain = x509.load_pem_x509_certificates(Path(chain_file).read_bytes())
    return chain[-1].public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class OriginCheck:
    state: str  # "Trusted" (signed by this deployment), "Valid" (intact, someone else's key), "Invalid", "absent"
    generation_id: str | None  # from the org.kinora.generation assertion, only when Trusted


def verify_origin(mp4: bytes, trust_anchors_pem: bytes) -> OriginCheck:
    """Verify a clip's C2PA manifest against this deployment's roots. Anyone can sign a
    manifest naming a Kinora generation; only a chain to our root makes it "Trusted"."""
    settings = c2pa.Settings.from_dict(
        {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchors_pem.decode()}}
    )
    try:
        with c2pa.Context(settings) as context, c2pa.Reader("video/mp4", io.BytesIO(mp4), context=context) as reader:
            manifest, state = reader.get_active_manifest(), reader.get_validation_state()
    except Exception:  # noqa: BLE001 - no manifest, or not a file c2pa can read
        return OriginCheck("absent", None)
    if state != "Trusted" or not manifest:
        return OriginCheck(state or "absent", None)
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == "org.kinora.generation":
            return OriginCheck(state, str(assertion.get("data", {}).get("generation_id") or "") or None)
    return OriginCheck(state, None)
