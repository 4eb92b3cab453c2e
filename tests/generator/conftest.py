"""Fixtures for the generator tests (helpers live in generator_harness.py)."""

import pytest

from generator_harness import generator_settings, running_api


@pytest.fixture(scope="session")
def moderator():
    from kinora.moderation import Moderator

    m = Moderator()
    m.check("warm up the embedding model")
    return m


@pytest.fixture
async def api(pg_url, tmp_path, moderator):
    async with running_api(generator_settings(pg_url, tmp_path), moderator) as running:
        yield running
