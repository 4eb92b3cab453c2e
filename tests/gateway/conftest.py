import pytest_asyncio
from gateway_platform import running_platform


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory, broker):
    async with running_platform(
        tmp_path_factory.mktemp("platform"), broker.bootstrap, user_burst=1000, key_burst=1000
    ) as p:
        yield p
