"""The web app's static files at / (services/gateway/web.py): no services needed, the app in-process."""

from __future__ import annotations

import httpx
import pytest

from kinora.runtime.settings import load_settings
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from services.gateway.web import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.asyncio
INDEX = "<!doctype html><html><head><title>Kinora</title></head><body><div id=app></div></body></html>"
SCRIPT = "// the app\n" + "console.log('kinora');\n" * 200


@pytest.fixture
def web(tmp_path):
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "app.js").write_text(SCRIPT)
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    (tmp_path / "manifest.webmanifest").write_text('{"name": "Kinora"}')
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "fr.json").write_text('{"feed": "Fil"}')
    (tmp_path / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600))
    return tmp_path


@pytest.fixture
async def client(web):
    app = create_app(
        load_settings(GatewaySettings, env={"KINORA_WEB_DIR": str(web), "KINORA_INTERNAL_SECRET": "s" * 40})
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        yield c


async def test_root_serves_index_with_the_security_headers(client):
    r = await client.get("/")
    assert r.status_code == 200 and r.text == INDEX
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for directive in (
        "default-src 'self'",
        "media-src 'self' blob:",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ):
        assert directive in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["cache-control"] == "no-cache" and r.headers["etag"]
    again = await client.get("/", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("route", ["/feed", "/create", "/cameo", "/u/alice", "/settings", "/u/alice/posts"])
async def test_client_routes_fall_back_to_index(client, route):
    r = await client.get(route)
    assert r.status_code == 200 and r.text == INDEX
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_files_by_path_with_their_types(client):
    expected = {
        "/app.js": "text/javascript",
        "/sw.js": "text/javascript",
        "/manifest.webmanifest": "application/manifest+json",
        "/i18n/fr.json": "application/json",
        "/icon.png": "image/png",
    }
    for path, content_type in expected.items():
        r = await client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].split(";")[0] == content_type, path
        assert r.headers["cache-control"] == "no-cache" and r.headers["etag"], path


async def test_text_is_compressed_and_images_are_not(client):
    r = await client.get("/app.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.text == SCRIPT
    raw = await client.send(client.build_request("GET", "/app.js", headers={"Accept-Encoding": "gzip"}), stream=True)
    assert len(b"".join([c async for c in raw.aiter_raw()])) < len(SCRIPT) // 5
    png = await client.get("/icon.png", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in png.headers


def test_paths_outside_the_folder_are_refused(web):
    from services.gateway.web import WebApp

    served = WebApp(web, None)
    assert served._file_for("/../secret.txt") is None and served._file_for("/i18n/../../x.json") is None
    assert served._file_for("/i18n/fr.json") == "i18n/fr.json" and served._file_for("/") == "index.html"


async def test_api_paths_never_fall_back(client):
    for path in ("/api/v1/unknown", "/api/v1", "/v1/unknown", "/api/v1/media/x"):
        r = await client.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/json", path
        assert r.json()["error"]["code"] == "not_found"
    assert (await client.get("/missing.js")).status_code == 404  # a missing asset is not the app's page
    assert "root:" not in (await client.get("/..%2f..%2fetc/passwd")).text  # never outside the folder
    # A known API path with another method is still a 405, and a POST to a client route is no page.
    assert (await client.get("/api/v1/auth/signin")).status_code == 405
    assert (await client.post("/feed")).status_code == 404
    assert (await client.get("/healthz")).json() == {"status": "ok"}
