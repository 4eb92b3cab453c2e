"""Instant worker wake-up: whoever queues a job sends `NOTIFY
kinora_generator_jobs` in the same transaction (delivered at commit); idle
workers LISTEN instead of sleeping a full poll interval. They still wake every
poll interval: that covers a LISTEN that could not be set up or whose connection
was lost (it is opened again at the next wait), and the end of a worker's own
pause after an outage, which nothing notifies."""

from __future__ import annotations

import logging
import time

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

CHANNEL = "kinora_generator_jobs"
log = logging.getLogger("kinora.generator.worker")


def notify_job_queued(session: Session) -> None:
    session.execute(text(f"NOTIFY {CHANNEL}"))


class JobListener:
    """A dedicated autocommit connection that waits for queue notifications."""

    def __init__(self, database_url: str):
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = None
        self._connect()

    def _connect(self) -> None:
        import psycopg

        self.conn = psycopg.connect(self.dsn, autocommit=True)
        self.conn.execute(f"LISTEN {CHANNEL}")

    @classmethod
    def for_url(cls, database_url: str) -> JobListener | None:
        try:
            return cls(database_url)
        except Exception:  # noqa: BLE001 - polling still works without it
            log.warning("LISTEN for new jobs failed; falling back to polling", exc_info=True)
            return None

    def wait(self, timeout_s: float) -> None:
        """Return on the first notification or after `timeout_s`. A lost connection (the
        database restarted) makes this a plain poll interval until it can be opened again:
        never a return at once, which would spin the worker's loop."""
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                self._connect()
            for _ in self.conn.notifies(timeout=timeout_s, stop_after=1):
                pass
        except psycopg.Error:
            log.warning("LISTEN connection lost; polling until it can be opened again")
            if self.conn is not None:
                self.conn.close()
            time.sleep(timeout_s)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
