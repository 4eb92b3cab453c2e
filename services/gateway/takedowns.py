"""The public takedown form: anyone, without an account, asks for a clip of them (or
intimate imagery) to be removed (the US TAKE IT DOWN Act's 48 hours).

The clip is named by a file (the clip itself or a frame), a generation id, and/or a
link to a post or generation of this deployment. The gateway reads the file here,
where it arrived: its perceptual fingerprint (kinora/media/fingerprint.py) and its
invisible watermark; only those (and the file's SHA-256) go to the generator's
TakedownService, never the file. Nothing is removed until an operator approves
(`kinora admin takedowns`); the answer says so. Rate limited per client address,
and at most READ_SLOTS files are read at once per replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import grpc
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kinora.feed.v1 import feed_pb2 as fpb
from kinora.generator.v1 import generator_pb2 as gpb
from kinora.generator.v1 import generator_pb2_grpc
from kinora.media import fingerprint, invisible_mark
from services.gateway.core import anonymous, gateway_of
from services.gateway.errors import ApiError
from services.gateway.provenance import sniff
from services.gateway.ratelimit import Limit
from services.gateway.uploads import read_upload

router = APIRouter(prefix="/api/v1", tags=["takedowns"])
FILE_LIMIT = Limit(rate=0.05, burst=5)  # per client address: a few requests, not a flood
READ_SLOTS = 2
MAX_PIXELS = 4096 * 4096
KINDS = {"likeness": gpb.TAKEDOWN_KIND_LIKENESS, "intimate": gpb.TAKEDOWN_KIND_INTIMATE}
CONTACT_MAX = 320
STATEMENT_MIN, STATEMENT_MAX = 10, 5000
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
GENERATION_ID = re.compile(r"^gen_[A-Za-z0-9]{1,40}$")
LINK_PATH = re.compile(r"^/(?:api/v1/)?(posts|generations)/([A-Za-z0-9_-]{1,64})/?$")
SHARED_PATH = re.compile(r"^/u/[A-Za-z0-9_.-]{1,64}/?$")
POST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_slots = asyncio.Semaphore(READ_SLOTS)


class TakedownAccepted(BaseModel):
    id: str
    status: str
    received: list[str]
    next_steps: str


def read_fingerprint(data: bytes, kind: str) -> list[list[int]]:
    """Probe hashes per sampled frame (at most two minutes of video)."""
    if kind == "image":
        frame = fingerprint.decode_image(data)
        if frame.size > MAX_PIXELS:
            raise ValueError("image larger than 4096x4096")
        return [fingerprint.probe_hashes(frame)]
    frames = fingerprint.video_frames(data)
    if frames[0].size > MAX_PIXELS:
        raise ValueError("frames larger than 4096x4096")
    return [fingerprint.probe_hashes(f) for f in frames[: fingerprint.SAMPLES_PER_SECOND * 120]]


def read_watermark(data: bytes, kind: str) -> int | None:
    frames = [invisible_mark.luma_from_image(data)] if kind == "image" else invisible_mark.luma_frames_from_video(data)
    return invisible_mark.detect(frames).payload if frames else None


async def read_file(data: bytes, kind: str) -> tuple[list[list[int]], int | None]:
    """(probe hashes, watermark id or None), the two reads side by side (each decodes what it needs)."""
    probe, mark = await asyncio.gather(
        asyncio.to_thread(read_fingerprint, data, kind), asyncio.to_thread(read_watermark, data, kind)
    )
    return probe, mark


def _field(form, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def resolve_link(request: Request, link: str) -> str:
    """The generation a link of this deployment names ("" for a post nobody may see)."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(400, "invalid_link", "link must be a full https:// address of a post or video here")
    if (
        parts.netloc.lower() != request.url.netloc.lower()
        and parts.netloc.lower() != (request.headers.get("host") or "").lower()
    ):
        raise ApiError(400, "invalid_link", "link must point to a post or video on this site")
    match = LINK_PATH.match(parts.path)
    shared = SHARED_PATH.match(parts.path) and parse_qs(parts.query).get("post", [""])[0]
    if shared and POST_ID.match(shared):  # the app's share link: /u/<handle>?post=<id>
        what, ident = "posts", shared
    elif match:
        what, ident = match.groups()
    else:
        raise ApiError(
            400,
            "invalid_link",
            "link must be a post (/posts/ID or a shared /u/HANDLE?post=ID) or video (/generations/ID) address",
        )
    if what == "generations":
        return ident
    media = request.app.state.media
    try:
        reply = await media.feed.GetPost(fpb.GetPostRequest(post_id=ident), timeout=media.timeout)
    except grpc.aio.AioRpcError as exc:
        if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            return ""  # a hidden or deleted post: recorded as a link for the operator
        raise
    return reply.post.generation_id


def _stub(request: Request) -> generator_pb2_grpc.TakedownServiceStub:
    stub = getattr(request.app.state, "takedown_stub", None)
    if stub is None:
        stub = generator_pb2_grpc.TakedownServiceStub(request.app.state.media.channels[0])
        request.app.state.takedown_stub = stub
    return stub


_FORM = {
    "type": "object",
    "required": ["contact", "statement", "kind"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "the clip or a frame of it"},
        "generation_id": {"type": "string"},
        "link": {"type": "string", "description": "a post or video address here"},
        "contact": {"type": "string", "format": "email"},
        "statement": {"type": "string", "minLength": STATEMENT_MIN, "maxLength": STATEMENT_MAX},
        "kind": {"type": "string", "enum": list(KINDS)},
    },
}


@router.post(
    "/takedown-requests",
    status_code=202,
    response_model=TakedownAccepted,
    responses={
        400: {"description": "bad input (the error's code names the field)"},
        415: {"description": "the file is not a video or image"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _FORM},
                "application/x-www-form-urlencoded": {"schema": _FORM},
            },
        }
    },
)
async def file_takedown_request(request: Request, address: str = Depends(anonymous)):
    """Ask for a clip to be removed, without an account. Multipart (or, without a file,
    URL-encoded) fields: `contact` (an
    email address), `statement` (10 to 5000 characters: who you are and why), `kind`
    (`likeness`: it shows you; `intimate`: intimate imagery), and at least one of `file`
    (the clip, MP4/MOV/WebM up to 30 MB, or a frame, PNG/JPEG/WebP), `generation_id`, `link`
    (a post or video address of this site). Answers 202 with the request's id: an operator
    decides within 48 hours; approval removes the clip, its copies, remixes and clips made
    from its frames, and blocks its frames as new inputs."""
    g = gateway_of(request)
    await g.rate_limit(f"takedown:{address}", FILE_LIMIT)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form, data = await request.form(), b""  # an id or a link, no file
    else:
        form, data, _ctype, _name = await read_upload(request, "file", required=False)
    contact, statement = _field(form, "contact"), _field(form, "statement")
    kind, generation_id, link = _field(form, "kind"), _field(form, "generation_id"), _field(form, "link")
    if not EMAIL.match(contact) or len(contact) > CONTACT_MAX:
        raise ApiError(400, "invalid_contact", "contact must be an email address we can reach you at")
    if not STATEMENT_MIN <= len(statement) <= STATEMENT_MAX:
        raise ApiError(
            400,
            "invalid_statement",
            f"statement must be {STATEMENT_MIN} to {STATEMENT_MAX} characters: who you are and why",
        )
    if kind not in KINDS:
        raise ApiError(400, "invalid_kind", "kind must be likeness (the clip shows you) or intimate")
    if not (data or generation_id or link):
        raise ApiError(400, "nothing_to_take_down", "send the clip as a file, its generation_id or its link")
    if generation_id and not GENERATION_ID.match(generation_id):
        raise ApiError(400, "invalid_generation_id", "generation_id looks like gen_ followed by letters and digits")
    if len(link) > 2048:
        raise ApiError(400, "invalid_link", "link is too long")
    media = request.app.state.media
    if media.generator is None or media.feed is None:
        raise ApiError(503, "takedowns_unavailable", "takedown requests need KINORA_INTERNAL_SECRET on the gateway")
    file_kind, probe, mark = "", [], None
    if data:
        file_kind = sniff(data) or ""
        if not file_kind:
            raise ApiError(
                415, "unsupported_media_type", "send an MP4, MOV or WebM video, or a PNG, JPEG or WebP image"
            )
        async with _slots:
            try:
                probe, mark = await read_file(data, file_kind)
            except Exception as exc:  # noqa: BLE001 - whatever the decoder says, the file is unusable
                raise ApiError(400, "undecodable_media", f"the {file_kind} could not be decoded") from exc
    linked = await resolve_link(request, link) if link else ""
    reply = await _stub(request).FileTakedownRequest(
        gpb.FileTakedownRequestRequest(
            contact=contact,
            statement=statement,
            kind=KINDS[kind],
            generation_id=generation_id or linked,
            link=link,
            file_sha256=hashlib.sha256(data).hexdigest() if data else "",
            file_kind=file_kind,
            probe=[gpb.ProbeFrame(hashes=frame) for frame in probe],
            has_watermark=mark is not None,
            watermark_id=mark or 0,
        ),
        timeout=g.timeout,
    )
    received = [name for name, sent in (("file", data), ("generation_id", generation_id), ("link", link)) if sent]
    return TakedownAccepted(
        id=reply.request.id,
        status=reply.request.status,
        received=received,
        next_steps="An operator reviews your request within 48 hours. If it is approved, the clip, its copies and "
        "remixes, and videos made from its frames are removed and its frames can't be used again; we "
        "write to your contact address with the decision. Keep this id to refer to your request.",
    )
