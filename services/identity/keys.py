"""Access-token signing keys (Ed25519) and their rotation.

The newest live key signs. Rotation adds a new key and retires the previous
ones: a retired key signs nothing more but stays in the JWKS for one access
token lifetime, so tokens it signed keep verifying until they expire and
nobody is logged out.

Keys live in the database, encrypted with AES-GCM under a key derived from a
secret setting, or, when a keys folder is configured (a mounted Kubernetes
Secret), in PEM files named `<kid>.pem`; there the greatest kid signs, so
operators name keys by date (e.g. `2025-01-31.pem`) and rotate by adding one.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime.auth import public_jwk
from kinora.runtime.db import transaction
from services.identity.models import signing_keys

if TYPE_CHECKING:
    from services.identity.settings import IdentitySettings


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey


class KeyCipher:
    """Encrypts private keys at rest; the kid is bound in as associated data."""

    def __init__(self, secret: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kinora-identity-jwt-keys", info=b"v1").derive(
            secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, kid: str, private_key: Ed25519PrivateKey) -> bytes:
        raw = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, raw, kid.encode())

    def open(self, kid: str, sealed: bytes) -> Ed25519PrivateKey:
        raw = self._aead.decrypt(sealed[:12], sealed[12:], kid.encode())
        return Ed25519PrivateKey.from_private_bytes(raw)


class DatabaseKeyStore:
    def __init__(self, sessions: sessionmaker[Session], cipher: KeyCipher, token_ttl_s: int):
        self.sessions, self.cipher, self.token_ttl_s = sessions, cipher, token_ttl_s

    def rotate(self) -> str:
        """Add a key that signs from now on; retire the others."""
        kid = f"{_now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        key = Ed25519PrivateKey.generate()
        now = _now()
        with transaction(self.sessions) as s:
            s.execute(update(signing_keys).where(signing_keys.c.retired_at.is_(None)).values(retired_at=now))
            s.execute(
                signing_keys.insert().values(
                    kid=kid,
                    private_key=self.cipher.seal(kid, key),
                    public_jwk=json.dumps(public_jwk(key.public_key(), kid)),
                    created_at=now,
                )
            )
        return kid

    def signing_key(self) -> SigningKey | None:
        with self.sessions() as s:
            row = s.execute(
                select(signing_keys.c.kid, signing_keys.c.private_key)
                .where(signing_keys.c.retired_at.is_(None))
                .order_by(signing_keys.c.created_at.desc())
                .limit(1)
            ).first()
        return SigningKey(row.kid, self.cipher.open(row.kid, row.private_key)) if row else None

    def jwks(self) -> dict[str, Any]:
        # A key retired before the oldest unexpired token was issued can go.
        cutoff = _now() - timedelta(seconds=self.token_ttl_s + 60)
        with self.sessions() as s:
            rows = (
                s.execute(
                    select(signing_keys.c.public_jwk)
                    .where(or_(signing_keys.c.retired_at.is_(None), signing_keys.c.retired_at > cutoff))
                    .order_by(signing_keys.c.created_at.desc())
                )
                .scalars()
                .all()
            )
        return {"keys": [json.loads(r) for r in rows]}


class FolderKeyStore:
    """PEM files `<kid>.pem`. Retiring is the operator's job: remove a file
    once one access-token lifetime has passed since its successor appeared."""

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def _load(self) -> dict[str, Ed25519PrivateKey]:
        keys = {}
        for path in sorted(self.folder.glob("*.pem")):
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            keys[path.stem] = key
        return keys

    def rotate(self) -> str:
        kid = f"{_now():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{kid}.tmp"
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.rename(self.folder / f"{kid}.pem")
        return kid

    def signing_key(self) -> SigningKey | None:
        keys = self._load()
        if not keys:
            return None
        kid = max(keys)
        return SigningKey(kid, keys[kid])

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(k.public_key(), kid) for kid, k in sorted(self._load().items(), reverse=True)]}


class KeyRing:
    """The signing key and JWKS, cached for `reload_s` so a rotation done by
    another replica (or the CLI) is picked up without a restart."""

    def __init__(self, store: DatabaseKeyStore | FolderKeyStore, reload_s: float = 30.0):
        self.store, self.reload_s = store, reload_s
        self._lock = threading.Lock()
        self._signing: SigningKey | None = None
        self._jwks: dict[str, Any] | None = None
        self._loaded_at = 0.0
        self.on_reload: Callable[[dict[str, Any]], None] | None = (
            None  # called with the fresh JWKS, e.g. a local verifier's load_jwks
        )

    def _reload(self) -> None:
        signing = self.store.signing_key()
        if signing is None:  # first start: make the first key
            self.store.rotate()
            signing = self.store.signing_key()
        self._signing, self._jwks, self._loaded_at = signing, self.store.jwks(), time.monotonic()
        if self.on_reload is not None:
            self.on_reload(self._jwks)

    def _fresh(self) -> None:
        with self._lock:
            if self._signing is None or time.monotonic() - self._loaded_at > self.reload_s:
                self._reload()

    def signing_key(self) -> SigningKey:
        self._fresh()
        assert self._signing is not None  # _reload made the first key if there was none
        return self._signing

    def jwks(self) -> dict[str, Any]:
        self._fresh()
        assert self._jwks is not None  # _fresh loaded it
        return self._jwks

    def rotate(self) -> str:
        kid = self.store.rotate()
        with self._lock:
            self._reload()
        return kid


def make_store(settings: IdentitySettings, sessions: sessionmaker[Session]) -> DatabaseKeyStore | FolderKeyStore:
    if settings.jwt_keys_dir:
        return FolderKeyStore(settings.jwt_keys_dir)
    secret = settings.jwt_key_secret or settings.internal_secret
    if not secret:
        raise ValueError(
            "set KINORA_JWT_KEY_SECRET (or KINORA_INTERNAL_SECRET) to encrypt signing keys in the "
            "database, or KINORA_JWT_PRIVATE_KEYS_DIR to read them from PEM files"
        )
    return DatabaseKeyStore(sessions, KeyCipher(secret), settings.access_token_ttl_s)


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
