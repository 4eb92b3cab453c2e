"""System tests: the whole platform in-process (see platform.py)."""

import pytest
from platform_harness import PlatformThread, make_principals


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with PlatformThread(tmp_path_factory.mktemp("system")) as running:
        yield running


@pytest.fixture(scope="session")
def principals(platform):
    return make_principals(platform)
