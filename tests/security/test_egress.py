"""Server-side request forgery through webhook URLs (issue 20, part 3).

The egress helper against a real HTTP server bound on 127.0.0.1: refused as loopback outside
development, names resolving to private or metadata addresses refused, a redirect not followed,
an oversized and a slow answer cut off, and one DNS answer used for the connection (rebinding
cannot switch it). Then the gateway: a webhook URL is checked when it is set, and only a key
with the videos scope manages webhooks."""

from __future__ import annotations

import http.server
import ipaddress
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from kinora.runtime.egress import Egress, EgressFailed, EgressPolicy, EgressRefused

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
from gateway_platform import auth, running_platform  # noqa: E402

PRODUCTION = EgressPolicy()
DEVELOPMENT = EgressPolicy(development=True, timeout_s=1.0, max_response_bytes=4096)


class Server:
    """A local HTTP server; each path answers as its handler below says, and every request
    it receives is recorded."""

    def __init__(self):
        self.received: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                server.received.append({"path": self.path, "host": self.headers.get("host"), "body": body})
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("location", f"http://127.0.0.1:{server.port}/landed")
                    self.send_header("content-length", "0")
                    self.end_headers()
                elif self.path == "/huge":
                    self.send_response(200)
                    self.send_header("content-length", str(50 * 1024 * 1024))
                    self.end_headers()
                    try:
                        for _ in range(50 * 16):
                            self.wfile.write(b"x" * 65536)
                    except OSError:
                        pass  # the client stopped reading, as it should
                elif self.path == "/slow":
                    time.sleep(3)
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [r["path"] for r in self.received]


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.http.shutdown()
    s.http.server_close()


def names(mapping: dict[str, list[str]], calls: list[str] | None = None):
    """A resolver answering from `mapping` (the DNS a test controls); other names as the system does."""
    from kinora.runtime.egress import system_resolver

    async def resolve(host, port):
        if calls is not None:
            calls.append(host)
        return mapping[host] if host in mapping else await system_resolver(host, port)

    return resolve


async def test_local_server_is_refused_outside_development(server):
    egress = Egress(PRODUCTION)
    for url, code, why in [
        (f"https://127.0.0.1:{server.port}/hook", "address_not_allowed", "a loopback address"),
        (f"https://localhost:{server.port}/hook", "address_not_allowed", "a loopback address"),  # real DNS
        (f"https://[::ffff:127.0.0.1]:{server.port}/hook", "address_not_allowed", "a loopback address"),
        (f"http://127.0.0.1:{server.port}/hook", "https_required", "https://"),
        ("https://169.254.169.254/latest/meta-data/", "address_not_allowed", "link-local"),
        ("https://0.0.0.0/", "address_not_allowed", "unspecified"),
        ("https://224.0.0.1/", "address_not_allowed", "multicast"),
        ("https://user:pw@example.com/", "invalid_url", "password"),
        ("file:///etc/passwd", "invalid_url", "https://"),
    ]:
        with pytest.raises(EgressRefused) as refused:
            await egress.post(url, b"{}")
        assert refused.value.code == code and why in refused.value.message, (url, refused.value.message)
    assert server.received == [], "nothing may reach the local server"


async def test_names_resolving_to_internal_addresses_are_refused():
    cluster = ipaddress.ip_network("34.118.224.0/20")  # e.g. a GKE service range: public-looking, internal
    dns = names(
        {
            "hooks.internal.test": ["10.20.30.40"],
            "ula.test": ["fd00:ec2::254"],
            "metadata.test": ["169.254.169.254"],
            "split.test": ["93.184.216.34", "192.168.1.7"],
            "svc.test": ["34.118.230.9"],
            "public.test": ["93.184.216.34"],
        }
    )
    egress = Egress(EgressPolicy(denied_networks=(cluster,)), resolver=dns)
    for host, why in [
        ("hooks.internal.test", "10.20.30.40, which is a private address"),
        ("ula.test", "a private address"),
        ("metadata.test", "link-local"),
        ("split.test", "192.168.1.7, which is a private address"),  # every address is checked
        ("svc.test", "inside 34.118.224.0/20"),
    ]:
        with pytest.raises(EgressRefused) as refused:
            await egress.check(f"https://{host}/hook")
        assert refused.value.code == "address_not_allowed" and why in refused.value.message, refused.value.message
    assert (await egress.check("https://public.test/hook")).address == "93.184.216.34"
    with pytest.raises(EgressRefused) as unknown:
        await Egress(PRODUCTION).check("https://no-such-host.invalid/hook")
    assert unknown.value.code == "host_not_found"


async def test_development_allows_loopback_and_connects_by_the_checked_address(server):
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])  # a rebinding DNS: a second lookup would say 10.0.0.1
    calls: list[str] = []

    async def rebinding(host, port):
        calls.append(host)
        return next(answers)

    reply = await Egress(DEVELOPMENT, resolver=rebinding).post(
        f"http://hooks.test:{server.port}/ok", b'{"a": 1}', [("content-type", "application/json")]
    )
    assert reply.status == 200 and reply.body == b"ok"
    assert calls == ["hooks.test"], "resolved once"
    got = server.received[-1]
    assert got["path"] == "/ok" and got["body"] == b'{"a": 1}'
    assert got["host"] == f"hooks.test:{server.port}", "the Host header is the URL's name, not the address"
    # Even in development, private and metadata addresses stay refused.
    with pytest.raises(EgressRefused):
        await Egress(DEVELOPMENT).post("http://169.254.169.254/latest/meta-data/", b"")


async def test_redirect_is_not_followed(server):
    before = len(server.received)
    reply = await Egress(DEVELOPMENT).post(f"http://127.0.0.1:{server.port}/redirect", b"{}")
    assert reply.status == 302
    assert server.paths()[before:] == ["/redirect"], "the redirect target must not be requested"


async def test_oversized_answer_is_cut_off(server):
    started = time.monotonic()
    with pytest.raises(EgressFailed) as failed:
        await Egress(DEVELOPMENT).post(f"http://127.0.0.1:{server.port}/huge", b"{}")
    assert failed.value.code == "response_too_large" and "4096 bytes" in failed.value.message
    assert time.monotonic() - started < 1.0


async def test_slow_answer_times_out(server):
    started = time.monotonic()
    with pytest.raises(EgressFailed) as failed:
        await Egress(EgressPolicy(development=True, timeout_s=0.5)).post(f"http://127.0.0.1:{server.port}/slow", b"")
    assert failed.value.code == "timeout"
    assert time.monotonic() - started < 1.5


# -- the gateway: checked at registration, videos scope required ---------------------------------


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(tmp_path_factory, broker):
    # No development setting: what a deployment runs.
    async with running_platform(
        tmp_path_factory.mktemp("egress"), broker.bootstrap, user_burst=1000, key_burst=1000
    ) as p:
        yield p


async def _key(client, user, scopes) -> dict:
    reply = await client.post("/api/v1/apikeys", json={"name": "hooks", "scopes": scopes}, headers=auth(user))
    assert reply.status_code == 201, reply.text
    return {"Authorization": f"Bearer {reply.json()['secret']}"}


@pytest.mark.asyncio(loop_scope="module")
async def test_webhook_url_is_checked_when_set_and_needs_the_videos_scope(platform, server):
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as c:
        user = await platform.signup(c, "ssrfer")
        key = await _key(c, user, ["videos:read", "videos:write"])
        triton_like = f"https://127.0.0.1:{server.port}/v2/repository/index"
        for url, code, why in [
            ("https://169.254.169.254/latest/meta-data/iam", "address_not_allowed", "link-local"),
            (triton_like, "address_not_allowed", "loopback"),
            ("https://localhost/hook", "address_not_allowed", "loopback"),
            ("http://hooks.example.com/kinora", "https_required", "https://"),
        ]:
            reply = await c.post("/v1/webhooks", json={"url": url}, headers=key)
            assert reply.status_code == 400, (url, reply.text)
            error = reply.json()["error"]
            assert error["code"] == code and why in error["message"], error
        assert (await c.get("/v1/webhooks", headers=key)).status_code == 404, "nothing was stored"

        feed_only = await _key(c, user, ["feed:read"])
        for method in ("post", "get", "delete"):
            kwargs = {"json": {"url": "https://hooks.example.com/kinora"}} if method == "post" else {}
            reply = await getattr(c, method)("/v1/webhooks", headers=feed_only, **kwargs)
            assert reply.status_code == 403 and reply.json()["error"]["code"] == "insufficient_scope", reply.text
    assert server.received == [] or all(r["path"] != "/v2/repository/index" for r in server.received)
