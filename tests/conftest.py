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


# -- the whole local stack, shared ---------------------------------------------------------------
# One `kinora up` stack (tests/e2e/stack_support.py) serves every test that asks for
# `shared_stack` (tests/e2e and tests/web): collection puts those tests together, the stack starts
# when the first of them needs it and stops as soon as the next test does not, so it neither
# starts once per module nor idles through the rest of the run.

STACK_FIXTURE = "shared_stack"


def _needs_stack(item) -> bool:
    return STACK_FIXTURE in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    users = [item for item in items if _needs_stack(item)]
    if not users:
        return
    first = items.index(users[0])
    items[:] = items[:first] + users + [item for item in items[first:] if not _needs_stack(item)]


_running_stacks: list = []  # the shared stack's holder, once a test has asked for it


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
    from stack_support import SharedStack

    holder = SharedStack(tmp_path_factory.mktemp("stack") / "home")
    _running_stacks.append(holder)
    yield holder
    _running_stacks.remove(holder)
    holder.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield  # the item's module fixtures first: some still call the stack as they finish
    if _needs_stack(item) and (nextitem is None or not _needs_stack(nextitem)):
        for holder in _running_stacks:
            holder.stop()
    return result
