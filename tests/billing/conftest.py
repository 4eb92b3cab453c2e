"""Billing fixtures: a migrated PostgreSQL database, a controllable clock and
the domain object."""

import pytest
from billing_support import Clock, make_settings

from kinora.runtime.db import make_engine, session_factory
from kinora.runtime.migrations import upgrade
from services.billing.domain import Billing
from services.billing.models import tables
from services.billing.payments import LocalTestProvider
from services.billing.server import MIGRATIONS


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def billing(pg_url, clock):
    settings = make_settings(pg_url)
    upgrade(MIGRATIONS, pg_url)
    engine = make_engine(pg_url, pool_size=4)
    b = Billing(settings, session_factory(engine), tables, LocalTestProvider(settings.test_provider_secret), clock)
    b.prepare()
    yield b
    b.close()
    engine.dispose()
