import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test."""
    from kinora.testing import temporary_database

    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def broker():
    """A real Kafka-protocol broker (Tansu) for the whole session."""
    from kinora.stack.tansu import TansuBroker, free_port

    b = TansuBroker(free_port()).start()
    yield b
    b.stop()
