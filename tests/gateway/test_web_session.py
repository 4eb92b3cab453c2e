"""Browser sessions (services/gateway/session.py) on the five real services: the refresh token in an
HttpOnly cookie, the access token in the answer only, double-submit CSRF on every cookie call.

Cookies are handled by hand (parsed from Set-Cookie, sent in a Cookie header): they are Secure, and
a browser sends them to http://127.0.0.1, but httpx's jar would not."""

from __future__ import annotations

import httpx
import pytest
import pytest_asyncio
from gateway_platform import auth, running_platform

pytestmark = pytest.mark.asyncio(loop_scope="module")
PASSWORD = "correct horse battery"
JSON = {"Content-Type": "application/json"}


def set_cookies(reply: httpx.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie line."""
    return {line.split("=", 1)[0]: line for line in reply.headers.get_list("set-cookie")}


def cookie_value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1]


def attributes(line: str) -> list[str]:
    return [part.strip() for part in line.split(";")[1:]]


class Browser:
    """One browser's cookies for the gateway's origin."""

    def __init__(self, client: httpx.AsyncClient):
        self.client, self.jar = client, {}

    def take(self, reply: httpx.Response) -> httpx.Response:
        for name, line in set_cookies(reply).items():
            value = cookie_value(line)
            if "Max-Age=0" in attributes(line):
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        return reply

    def headers(self, csrf: bool = True, **extra) -> dict:
        found = dict(extra)
        if self.jar:
            found["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        if csrf and "kinora_csrf" in self.jar:
            found["X-CSRF-Token"] = self.jar["kinora_csrf"]
        return found

    async def request(self, method: str, path: str, *, csrf: bool = True, keep: bool = True, headers=None, **kw):
        self.client.cookies.clear()
        reply = await self.client.request(method, path, headers=self.headers(csrf, **(headers or {})), **kw)
        return self.take(reply) if keep else reply

    async def sign_in(self, handle: str) -> httpx.Response:
        return await self.request("POST", "/api/v1/session", json={"handle": handle, "password": PASSWORD})


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory, broker):
    """conftest's platform, with room for the many sign-ins and refreshes these tests make from one
    address (anonymous calls are rate limited per client address)."""
    async with running_platform(
        tmp_path_factory.mktemp("platform"), broker.bootstrap, user_burst=1000, key_burst=1000, anon_burst=1000
    ) as p:
        yield p


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def people(platform):
    async with httpx.AsyncClient(base_url=platform.url) as c:
        return {h: await platform.signup(c, h) for h in ("sam", "tess", "uma")}


@pytest_asyncio.fixture(loop_scope="module")
async def client(platform):
    async with httpx.AsyncClient(base_url=platform.url, timeout=60) as c:
        yield c


async def test_sign_in_sets_exactly_these_cookies(client, people):
    browser = Browser(client)
    reply = await browser.sign_in("sam")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "user"}
    assert body["user"]["handle"] == "sam" and body["user"]["id"] == people["sam"]["id"]
    assert 0 < body["expires_in"] <= 900
    assert reply.headers["cache-control"] == "no-store"
    cookies = set_cookies(reply)
    assert set(cookies) == {"kinora_refresh", "kinora_csrf"}
    refresh, csrf = attributes(cookies["kinora_refresh"]), attributes(cookies["kinora_csrf"])
    assert refresh[:4] == ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/session"]
    assert abs(int(refresh[4].removeprefix("Max-Age=")) - 30 * 24 * 3600) < 60  # the refresh token's lifetime
    assert len(refresh) == 5
    assert csrf[:3] == ["Secure", "SameSite=Strict", "Path=/"] and "HttpOnly" not in csrf
    assert csrf[3].startswith("Max-Age=") and len(csrf) == 4
    assert cookie_value(cookies["kinora_refresh"]).startswith("rt_")
    assert len(cookie_value(cookies["kinora_csrf"])) >= 40
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["user"] == body["user"]
    # The body never carries the refresh token: JavaScript cannot read it anywhere.
    assert cookie_value(cookies["kinora_refresh"]) not in reply.text
    wrong = await client.post("/api/v1/session", json={"handle": "sam", "password": "wrong password!"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers


async def test_refresh_without_the_csrf_header_is_refused_and_changes_nothing(client, people):
    browser = Browser(client)
    await browser.sign_in("sam")
    before = dict(browser.jar)
    for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": before["kinora_csrf"][:-1] + "x"}):
        refused = await browser.request("POST", "/api/v1/session/refresh", csrf=False, headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed", refused.text
        assert "set-cookie" not in refused.headers and browser.jar == before
    # Header present but no csrf cookie (another origin cannot read it to copy): refused too.
    no_cookie = await client.post(
        "/api/v1/session/refresh",
        headers={"Cookie": f"kinora_refresh={before['kinora_refresh']}", "X-CSRF-Token": "anything"},
    )
    assert no_cookie.status_code == 403
    # The refresh cookie was not spent by the refusals: it still works once.
    ok = await browser.request("POST", "/api/v1/session/refresh")
    assert ok.status_code == 200, ok.text


async def test_refresh_rotates_both_cookies_and_a_replayed_cookie_ends_the_sign_in(client, people):
    browser = Browser(client)
    await browser.sign_in("tess")
    first = dict(browser.jar)
    reply = await browser.request("POST", "/api/v1/session/refresh")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"access_token", "expires_in", "user"} and body["user"]["handle"] == "tess"
    assert set(set_cookies(reply)) == {"kinora_refresh", "kinora_csrf"}
    assert browser.jar["kinora_refresh"] != first["kinora_refresh"]
    assert browser.jar["kinora_csrf"] != first["kinora_csrf"]
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    ).status_code == 200
    again = await browser.request("POST", "/api/v1/session/refresh")
    assert again.status_code == 200
    # A copy of an old cookie comes back (stolen, or a second tab that did not wait its turn):
    # identity ends that whole sign-in, and the cookies are cleared.
    thief = Browser(client)
    thief.jar = dict(first)
    stolen = await thief.request("POST", "/api/v1/session/refresh")
    assert stolen.status_code == 401 and stolen.json()["error"]["code"] == "refresh_token_reused"
    assert all("Max-Age=0" in attributes(line) for line in set_cookies(stolen).values())
    assert (await browser.request("POST", "/api/v1/session/refresh")).status_code == 401


async def test_no_session_cookie_is_401(client):
    browser = Browser(client)
    browser.jar = {"kinora_csrf": "c" * 43}
    reply = await browser.request("POST", "/api/v1/session/refresh")
    assert reply.status_code == 401 and reply.json()["error"]["code"] == "no_session"
    browser.jar["kinora_refresh"] = "rt_not_a_token"
    assert (await browser.request("POST", "/api/v1/session/refresh")).status_code == 401


async def test_another_sites_form_post_is_refused(client, people):
    browser = Browser(client)
    await browser.sign_in("sam")
    before = dict(browser.jar)
    # What a form on evil.example makes the browser send: the cookies, a form body, no custom header.
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
    for method, path in (
        ("POST", "/api/v1/session/refresh"),
        ("DELETE", "/api/v1/session"),
        ("POST", "/api/v1/session/signout-everywhere"),
    ):
        reply = await browser.request(method, path, csrf=False, headers=form, content=b"a=1")
        assert reply.status_code == 403 and reply.json()["error"]["code"] == "csrf_failed", (path, reply.text)
        # Even with a guessed header, a browser's own cross-site marker is refused.
        reply = await browser.request(method, path, headers={**form, "Sec-Fetch-Site": "cross-site"}, content=b"a=1")
        assert reply.status_code == 403, path
    assert browser.jar == before
    # Login CSRF: a form can only post urlencoded, multipart or text/plain - never JSON.
    plain = await client.post(
        "/api/v1/session",
        headers={"Content-Type": "text/plain", **form},
        content=b'{"handle": "sam", "password": "correct horse battery"}',
    )
    assert plain.status_code == 415 and "set-cookie" not in plain.headers
    assert (await browser.request("POST", "/api/v1/session/refresh")).status_code == 200  # still signed in


async def test_sign_out_clears_the_cookies_and_the_old_cookie_is_dead(client, people):
    browser = Browser(client)
    await browser.sign_in("uma")
    old = dict(browser.jar)
    refused = await browser.request("DELETE", "/api/v1/session", csrf=False)
    assert refused.status_code == 403 and browser.jar == old
    reply = await browser.request("DELETE", "/api/v1/session")
    assert reply.status_code == 200 and reply.json() == {"signed_out": True, "all_sessions": False}
    cleared = set_cookies(reply)
    assert set(cleared) == {"kinora_refresh", "kinora_csrf"}
    assert "Path=/api/v1/session" in attributes(cleared["kinora_refresh"])
    assert all(cookie_value(line) == "" and "Max-Age=0" in attributes(line) for line in cleared.values())
    assert browser.jar == {}
    replay = Browser(client)
    replay.jar = dict(old)
    reply = await replay.request("POST", "/api/v1/session/refresh")
    assert reply.status_code == 401, reply.text
    # Signing out twice is fine.
    replay.jar = dict(old)
    assert (await replay.request("DELETE", "/api/v1/session")).status_code == 200


async def test_sign_out_everywhere_ends_the_other_sessions(client, people):
    laptop, phone = Browser(client), Browser(client)
    await laptop.sign_in("tess")
    await phone.sign_in("tess")
    cli = await client.post("/api/v1/auth/signin", json={"handle": "tess", "password": PASSWORD})
    reply = await laptop.request("POST", "/api/v1/session/signout-everywhere")
    assert reply.status_code == 200 and reply.json()["all_sessions"] is True
    assert laptop.jar == {}
    assert (await phone.request("POST", "/api/v1/session/refresh")).status_code == 401
    token_refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": cli.json()["tokens"]["refresh_token"]}
    )
    assert token_refresh.status_code == 401


async def test_sign_up_starts_a_session(platform, client):
    browser = Browser(client)
    reply = await browser.request(
        "POST",
        "/api/v1/session/signup",
        json={
            "invite_code": await platform.invite(),
            "handle": "vic",
            "password": PASSWORD,
            "birthdate": "1991-02-03",
            "region": "US",
        },
    )
    assert reply.status_code == 201, reply.text
    assert set(reply.json()) == {"access_token", "expires_in", "user"} and reply.json()["user"]["handle"] == "vic"
    assert set(browser.jar) == {"kinora_refresh", "kinora_csrf"}
    assert (await browser.request("POST", "/api/v1/session/refresh")).status_code == 200


async def test_bearer_apis_are_unchanged(client, people):
    assert (await client.get("/api/v1/me", headers=auth(people["sam"]))).status_code == 200
    # The session cookie alone opens nothing else: the API still wants the bearer token.
    browser = Browser(client)
    await browser.sign_in("sam")
    assert (await client.get("/api/v1/me", headers=browser.headers())).status_code == 401
