"""The web app's static files at `/` (docs/web.md).

A path no API route knows is served from the web directory; a path without a file extension that
names no file is a client-side route (/feed, /u/alice) and gets index.html. API prefixes never
fall back: an unknown /api/... stays the API's JSON 404. Every file is `Cache-Control: no-cache`
with an ETag (a reload costs a 304), text is gzip-compressed, and the app's answers carry a
strict Content-Security-Policy.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; "
    "connect-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'; form-action 'self'"
)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
APP_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-cache",
    "X-Frame-Options": "DENY",
    **SECURITY_HEADERS,
}
# Never the web app: the APIs, health, metrics and the API's own documents.
RESERVED_PREFIXES = (
    "/api/",
    "/v1/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/webhooks/",
)
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".json", ".webmanifest", ".svg", ".txt", ".map", ".xml")

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("image/svg+xml", ".svg")


def default_web_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "web"


def is_reserved(path: str) -> bool:
    return path in ("/api", "/v1") or any(path == p.rstrip("/") or path.startswith(p) for p in RESERVED_PREFIXES)


class WebApp:
    """The router's fallback: what no route matched. Starlette still answers 405 for a known path with
    another method, so only truly unknown paths come here."""

    def __init__(self, directory: str | Path, not_found):
        self.directory = Path(directory)
        self.static = StaticFiles(directory=self.directory, check_dir=False)
        self.not_found = not_found  # the router's own 404 (the API's JSON error)
        self.compressed = GZipMiddleware(self._serve, minimum_size=512)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "/")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or is_reserved(path):
            return await self.not_found(scope, receive, send)
        target = self._file_for(path)
        if target is None:
            return await self.not_found(scope, receive, send)
        scope = {**scope, "kinora_web_file": target}
        app = self.compressed if target.endswith(COMPRESSIBLE) else self._serve
        await app(scope, receive, send)

    def _file_for(self, path: str) -> str | None:
        """The file to answer with, relative to the web directory; None for a 404."""
        relative = PurePosixPath(path.lstrip("/"))
        if ".." in relative.parts:
            return None
        name = str(relative) if str(relative) not in ("", ".") else "index.html"
        found, _ = self.static.lookup_path(name)
        if found and Path(found).is_file():
            return name
        if "." in relative.name:  # a missing asset (/app.js) is a 404, not the app's page
            return None
        index, _ = self.static.lookup_path("index.html")
        return "index.html" if index else None

    async def _serve(self, scope, receive, send):
        name = scope["kinora_web_file"]
        try:
            response = await self.static.get_response(name, scope)
        except HTTPException:
            return await self.not_found(scope, receive, send)
        for key, value in APP_HEADERS.items():
            response.headers[key] = value
        await response(scope, receive, send)


class SecurityHeadersMiddleware:
    """nosniff and a same-origin referrer on every answer (API, media and app alike)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k.lower().encode(), v.encode())
                    for k, v in SECURITY_HEADERS.items()
                    if k.lower().encode() not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app, directory: str | Path | None = None) -> None:
    """Serve the web app for paths no route matched."""
    app.router.default = WebApp(directory or default_web_dir(), app.router.default)
    app.add_middleware(SecurityHeadersMiddleware)
