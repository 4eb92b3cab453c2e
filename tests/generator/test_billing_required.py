"""The generator has no billing of its own: it refuses to start without the
billing service, and migration 0006 drops the former embedded billing's
tables (and its downgrade brings them back, empty)."""

import os
import subprocess
import sys

import sqlalchemy as sa
from generator_harness import ROOT

from kinora.runtime.db import make_engine
from kinora.runtime.migrations import upgrade

LOCAL_TABLES = {"local_billing_plans", "local_billing_reservations"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migration_0006_drops_the_embedded_billing_tables_and_downgrades(pg_url):
    from alembic import command

    from kinora.runtime.migrations import alembic_config
    from services.generator.server import MIGRATIONS

    upgrade(MIGRATIONS, pg_url, "0005")
    assert LOCAL_TABLES <= _tables(pg_url)
    upgrade(MIGRATIONS, pg_url)
    assert not LOCAL_TABLES & _tables(pg_url) and "generations" in _tables(pg_url)
    command.downgrade(alembic_config(MIGRATIONS, pg_url), "0005")
    assert LOCAL_TABLES <= _tables(pg_url)
    upgrade(MIGRATIONS, pg_url)
    assert not LOCAL_TABLES & _tables(pg_url)


def _start(module: str, pg_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINORA_")}
    env.update(KINORA_DATABASE_URL=pg_url, KINORA_GRPC_PORT="0", KINORA_METRICS_PORT="0")
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_api_and_worker_refuse_to_start_without_the_billing_service(pg_url):
    for module, name in (("services.generator", "generator"), ("services.generator.worker", "generator-worker")):
        done = _start(module, pg_url)
        assert done.returncode == 2, (module, done.stderr[-2000:])
        assert f"{name}: cannot start" in done.stderr and "KINORA_BILLING_ADDR is required" in done.stderr
    # Migrating needs only the database (the chart's migration job has nothing else).
    done = _start("services.generator", pg_url, "migrate")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "generations" in _tables(pg_url)
