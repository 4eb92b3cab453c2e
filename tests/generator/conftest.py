"""Fixtures for the generator tests (helpers live in generator_harness.py)."""

import pytest
from generator_harness import generator_settings, running_api, running_billing


@pytest.fixture(scope="session")
def moderator():
    from kinora.moderation import Moderator

    m = Moderator()
    m.check("warm up the embedding model")
    return m


@pytest.fixture
async def billing():
    """The real billing service, in-process on its own database."""
    async with running_billing() as running:
        yield running


@pytest.fixture
async def api(pg_url, tmp_path, moderator, billing):
    async with running_api(
        generator_settings(pg_url, tmp_path, billing), moderator, billing_service=billing
    ) as running:
        yield running
