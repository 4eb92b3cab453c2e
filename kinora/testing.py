"""Helpers the test-suite and benchmarks share: throwaway PostgreSQL
databases (on the configured, the machine's or an embedded server) and test
tokens. Real servers, never fakes."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import psycopg

_admin_dsn: str | None = None
_embedded = None  # the run's own server, when it had to start one


def admin_dsn() -> str:
    """The PostgreSQL server the tests and benchmarks use, as an admin DSN.

    In order: KINORA_TEST_DATABASE_URL (or the older KINORA_TEST_PG); the
    machine's server on 127.0.0.1:5432 when one answers; otherwise an embedded
    server started once for this process (fsync off) and stopped at exit.
    KINORA_TEST_DATABASE_URL=embedded asks for the embedded one outright."""
    global _admin_dsn
    if _admin_dsn is None:
        configured = os.environ.get("KINORA_TEST_DATABASE_URL") or os.environ.get("KINORA_TEST_PG")
        if configured == "embedded":
            _admin_dsn = _start_embedded().dsn()
        elif configured:
            _admin_dsn = configured.replace("postgresql+psycopg://", "postgresql://", 1)
        elif _answers(LOCAL_DSN):
            _admin_dsn = LOCAL_DSN
        else:
            _admin_dsn = _start_embedded().dsn()
    return _admin_dsn


LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _start_embedded():
    global _embedded
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from kinora.stack.postgres import FAST_SETTINGS, EmbeddedPostgres
    from kinora.stack.tansu import free_port

    home = Path(tempfile.mkdtemp(prefix="kinora-test-pg-"))
    _embedded = EmbeddedPostgres(home / "data", free_port(), settings=FAST_SETTINGS).start()

    def _stop():
        _embedded.stop()
        shutil.rmtree(home, ignore_errors=True)

    atexit.register(_stop)
    return _embedded


def _sqlalchemy_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


@contextmanager
def temporary_database(prefix: str = "kt"):
    """A fresh PostgreSQL database; yields its SQLAlchemy URL, drops it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _sqlalchemy_url(admin_dsn(), name)
    finally:
        with psycopg.connect(admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LocalIssuer:
    """Signs real EdDSA access tokens with a key made here, and serves the
    matching JWKS to a real TokenVerifier. For service tests that do not run
    the identity service; end-to-end tests use identity itself."""

    def __init__(self, kid: str = "test-key"):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.kid = kid
        self.private_key = Ed25519PrivateKey.generate()

    def token(
        self, subject: str, handle: str = "", *, teen: bool = False, kind: str = "user", scopes=(), ttl_s: int = 900
    ) -> str:
        from kinora.runtime.auth import mint_access_token

        return mint_access_token(
            self.private_key, self.kid, subject, kind=kind, handle=handle, scopes=scopes, teen=teen, ttl_s=ttl_s
        )[0]

    def jwks(self) -> dict:
        from kinora.runtime.auth import public_jwk

        return {"keys": [public_jwk(self.private_key.public_key(), self.kid)]}

    async def fetch_jwks(self) -> dict:
        return self.jwks()


def bearer(token: str) -> list[tuple[str, str]]:
    """gRPC call metadata carrying an access token."""
    return [("authorization", f"Bearer {token}")]
