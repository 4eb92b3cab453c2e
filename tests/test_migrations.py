"""Every service's Alembic migrations build, on PostgreSQL, exactly the schema
its models describe (no drift between models and migrations)."""

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kinora.runtime.db import make_engine
from kinora.runtime.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.parent.parent.name for p in ROOT.glob("services/*/migrations/env.py"))


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_models(service, pg_url):
    upgrade(ROOT / "services" / service / "migrations", pg_url)
    metadata = importlib.import_module(f"services.{service}.models").metadata
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()
    assert diff == [], f"{service}: models and migrations differ: {diff}"


def test_every_service_with_models_has_migrations():
    with_models = sorted(p.parent.name for p in ROOT.glob("services/*/models.py"))
    assert with_models == SERVICES
