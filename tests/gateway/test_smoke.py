import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_signup_and_me(platform):
    async with httpx.AsyncClient(base_url=platform.url) as c:
        from gateway_platform import auth
        alice = await platform.signup(c, "alice")
        r = await c.get("/api/v1/me", headers=auth(alice))
        assert r.status_code == 200, r.text
        assert r.json()["user"]["handle"] == "alice"
        r = await c.get("/readyz")
        assert r.status_code == 200, r.text
