"""Helpers the test-suite and benchmarks share: throwaway PostgreSQL
databases and an embedded broker. Real servers, never fakes."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import psycopg

PG_ADMIN_DSN = os.environ.get("KINORA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _sqlalchemy_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


@contextmanager
def temporary_database(prefix: str = "kt"):
    """A fresh PostgreSQL database; yields its SQLAlchemy URL, drops it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(PG_ADMIN_DSN, name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LocalIssuer:
    """Signs real EdDSA access tokens with a key made here, and serves the
    matching JWKS to a real TokenVerifier. For service tests that do not run
    the identity service; end-to-end tests use identity itself."""

    def __init__(self, kid: str = "test-key"):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.kid = kid
        self.private_key = Ed25519PrivateKey.generate()

    def token(self, subject: str, handle: str = "", *, teen: bool = False, kind: str = "user",
              scopes=(), ttl_s: int = 900) -> str:
        from kinora.runtime.auth import mint_access_token

        return mint_access_token(self.private_key, self.kid, subject, kind=kind, handle=handle,
                                 scopes=scopes, teen=teen, ttl_s=ttl_s)[0]

    def jwks(self) -> dict:
        from kinora.runtime.auth import public_jwk

        return {"keys": [public_jwk(self.private_key.public_key(), self.kid)]}

    async def fetch_jwks(self) -> dict:
        return self.jwks()


def bearer(token: str) -> list[tuple[str, str]]:
    """gRPC call metadata carrying an access token."""
    return [("authorization", f"Bearer {token}")]
