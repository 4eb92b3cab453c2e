import pytest
from cameo_harness import World, start_replica  # noqa: F401 - tests/cameo is on sys.path (rootdir-relative conftest)


@pytest.fixture
async def replica(pg_url):
    from kinora.testing import LocalIssuer

    issuer = LocalIssuer()
    r = await start_replica(pg_url, issuer)
    r.issuer = issuer
    yield r
    await r.close()


@pytest.fixture
def world(pg_url, replica):
    w = World(pg_url, replica.issuer)
    yield w
    w.close()
