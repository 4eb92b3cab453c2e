"""The worker's LISTEN connection: a lost connection (the database restarted)
turns a wait into a poll interval instead of an instant return, and the next
wait listens again."""

import threading
import time

import psycopg

from services.generator.wakeup import CHANNEL, JobListener


def _notify_soon(dsn: str, delay_s: float) -> threading.Thread:
    def send():
        time.sleep(delay_s)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"NOTIFY {CHANNEL}")

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_a_lost_listen_connection_waits_then_listens_again(pg_url):
    listener = JobListener(pg_url)
    dsn = listener.dsn
    try:
        sender = _notify_soon(dsn, 0.3)
        started = time.monotonic()
        listener.wait(10)
        assert time.monotonic() - started < 5  # woken by the notification, not the timeout
        sender.join()

        with psycopg.connect(dsn, autocommit=True) as admin:  # what a database restart does to it
            admin.execute("SELECT pg_terminate_backend(%s)", (listener.conn.info.backend_pid,))
        started = time.monotonic()
        listener.wait(0.5)
        assert time.monotonic() - started >= 0.45  # a poll interval, not a spin

        sender = _notify_soon(dsn, 0.5)
        started = time.monotonic()
        listener.wait(10)  # connects and listens again
        assert time.monotonic() - started < 5
        sender.join()
    finally:
        listener.close()
