"""Request bodies are capped per route while they stream in, before anything buffers them.

A declared Content-Length over the cap is refused before a byte of the body is read; a body
without one (chunked) is counted as it arrives and refused the moment it passes the cap. The
refusal is the gateway's usual JSON error (413; OpenAI's error shape on /v1), sent at once, and
the connection is closed.
Closing a socket with unread input makes the kernel reset it, which can destroy the answer
before the client reads it, so - like nginx's lingering close - what still arrives is read and
dropped for at most LINGER_S first; nothing of it is kept.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

from services.gateway.errors import error_body, openai_error_body

# A multipart upload carries the form's other fields and part headers besides the file.
FORM_ENVELOPE_BYTES = 64 * 1024
LINGER_S = 2.0


@dataclass(frozen=True)
class BodyLimits:
    video: int  # cameo verification clips
    image: int  # an image to animate
    json: int  # every other body


# (method, path) -> which cap; multipart bodies only, a JSON body on these routes gets the JSON cap.
_UPLOAD_ROUTES = (
    ("POST", re.compile(r"/api/v1/cameo/verifications/[^/]+/video"), "video"),
    ("POST", re.compile(r"/v1/videos/characters"), "video"),
    ("POST", re.compile(r"/v1/videos/(edits|extensions)"), "video"),  # the Kinora video to edit or extend
    ("POST", re.compile(r"/api/v1/characters"), "video"),  # a character's image or short video
    ("POST", re.compile(r"/api/v1/generations"), "image"),
    ("POST", re.compile(r"/v1/videos"), "image"),
    ("POST", re.compile(r"/api/v1/provenance/check"), "video"),  # a clip or a still to check
    ("POST", re.compile(r"/api/v1/takedown-requests"), "video"),  # the clip (or a frame) to take down
)


def cap_for(limits: BodyLimits, method: str, path: str, content_type: str) -> tuple[int, str]:
    """The byte cap for one request and what it is for (named in the refusal)."""
    if content_type.startswith("multipart/form-data"):
        for route_method, pattern, kind in _UPLOAD_ROUTES:
            if method == route_method and pattern.fullmatch(path):
                size = limits.video if kind == "video" else limits.image
                return size + FORM_ENVELOPE_BYTES, f"the {kind} may be at most {_mib(size)}"
    return limits.json, f"a request body may be at most {_mib(limits.json)}"


def _mib(size: int) -> str:
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size} bytes"


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app, limits: BodyLimits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k: v for k, v in scope["headers"] if k in (b"content-length", b"content-type")}
        cap, what = cap_for(
            self.limits, scope["method"], scope["path"], headers.get(b"content-type", b"").decode("latin-1").lower()
        )
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            return await _refuse(receive, send, what, scope["path"])
        state = {"received": 0, "over": False, "started": False, "ended": False}

        async def counting_receive():
            if state["over"]:
                raise _TooLarge()
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                state["ended"] = not message.get("more_body", False)
                if state["received"] > cap:
                    state["over"] = True
                    raise _TooLarge()
            return message

        async def guarded_send(message):
            # Whatever the app makes of the interrupted read (FastAPI calls it a parse error), the
            # answer is the 413: nothing it tries to send after the cap was passed goes out.
            if state["over"]:
                return
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        if state["over"] and not state["started"]:
            await _refuse(None if state["ended"] else receive, send, what, scope["path"])


async def _refuse(receive, send, what: str, path: str) -> None:
    message = f"the request is too large: {what}"
    # The Videos API answers in OpenAI's error shape, like every other /v1 error (errors.py).
    shaped = (
        openai_error_body(413, "body_too_large", message)
        if path.startswith("/v1/")
        else error_body("body_too_large", message)
    )
    body = json.dumps(shaped).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": True})
    if receive is not None:
        await _drop_the_rest(receive)
    await send({"type": "http.response.body", "body": b""})  # uvicorn closes the connection here


async def _drop_the_rest(receive) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_S
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
