"""Media URLs a `<video>` element can play: it cannot send an Authorization header, so every API
answer that describes a clip carries short-lived signed URLs instead (docs/web.md, "Media").

  /api/v1/media/{generation_id}/{variant}?u=<viewer user id>&exp=<unix seconds>&sig=<HMAC>

The signature (HMAC-SHA256, base64url) covers the generation, the variant, the expiry and the
viewer, so a leaked URL plays for its remaining lifetime only and says whose it was. Serving
checks the signature first (no call), then asks - every time, nothing cached - whether that
viewer may still see the clip: the generator (as the gateway) for the clip itself, which is
refused once deleted or taken down, and feed's CanViewGeneration when the viewer is not the
creator, so an unpublished, deleted or taken-down post stops playing at the next request. Bytes
stream from the blob store a chunk at a time, single HTTP ranges included.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from kinora.feed.v1 import feed_pb2 as fpb
from kinora.feed.v1 import feed_pb2_grpc
from kinora.generator.v1 import generator_pb2 as gpb
from kinora.generator.v1 import generator_pb2_grpc
from kinora.runtime import auth
from kinora.runtime.clients import TokenSource, channel
from services.gateway.errors import ApiError, from_rpc
from services.gateway.ratelimit import Limit
from services.gateway.settings import GatewaySettings
from services.gateway.shared import caller_metadata, first_or_error

log = logging.getLogger("kinora.gateway.media")

VARIANTS = {
    "video": gpb.MEDIA_VARIANT_VIDEO,
    "thumbnail": gpb.MEDIA_VARIANT_THUMBNAIL,
    "spritesheet": gpb.MEDIA_VARIANT_SPRITESHEET,
}
VARIANT_NAMES = {number: name for name, number in VARIANTS.items()}
EXPIRY_STEP_S = 300  # expiries are rounded up to this, so one viewer gets the same URL (and browser cache) a while
CHUNK_BYTES = 256 * 1024
HIDDEN_POST_STATES = {"POST_STATE_DELETED", "POST_STATE_TAKEN_DOWN"}
# A page of the feed loads a thumbnail per post and a video makes several range requests: media has its
# own bucket per viewer, this many times the user's API rate, so playing never starves the API calls.
MEDIA_RATE_FACTOR = 5

router = APIRouter(prefix="/api/v1/media", tags=["media"])


# -- signing (pure) ------------------------------------------------------------------------


class MediaSigner:
    def __init__(self, key: bytes, ttl_s: int):
        if len(key) < 32:
            raise ValueError("the media URL key must be at least 32 bytes")
        self._key, self.ttl_s = key, ttl_s

    def _sig(self, generation_id: str, variant: str, exp: int, viewer_id: str) -> str:
        payload = f"kinora-media-v1\n{generation_id}\n{variant}\n{exp}\n{viewer_id}".encode()
        return base64.urlsafe_b64encode(hmac.new(self._key, payload, hashlib.sha256).digest()).decode().rstrip("=")

    def expiry(self, now: float | None = None) -> int:
        at = int(now if now is not None else time.time()) + self.ttl_s
        return -(-at // EXPIRY_STEP_S) * EXPIRY_STEP_S

    def url(self, generation_id: str, variant: str, viewer_id: str, now: float | None = None) -> str:
        exp = self.expiry(now)
        return (
            f"/api/v1/media/{generation_id}/{variant}?u={viewer_id}&exp={exp}"
            f"&sig={self._sig(generation_id, variant, exp, viewer_id)}"
        )

    def check(
        self, generation_id: str, variant: str, viewer_id: str, exp: int, sig: str, now: float | None = None
    ) -> int:
        """Seconds the URL has left; ApiError 403 when it is forged, altered or expired."""
        expected = self._sig(generation_id, variant, exp, viewer_id)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise ApiError(
                403,
                "media_url_invalid",
                "this media link is not valid (altered or not made here); reload the page for a fresh one",
            )
        left = exp - int(now if now is not None else time.time())
        if left <= 0:
            raise ApiError(403, "media_url_expired", "this media link has expired; reload the page for a fresh one")
        return left


def media_key(settings: GatewaySettings) -> bytes:
    """KINORA_GATEWAY_MEDIA_KEY; else derived from the internal secret every replica shares (so a URL made
    by one replica plays on another); else, with neither set, one random key for this process."""
    if settings.media_key:
        return settings.media_key.encode()
    if settings.internal_secret:
        return hmac.new(settings.internal_secret.encode(), b"kinora/gateway/media-url/v1", hashlib.sha256).digest()
    log.warning(
        "neither KINORA_GATEWAY_MEDIA_KEY nor KINORA_INTERNAL_SECRET is set: media URLs are signed with a "
        "random key of this process and stop working when it restarts or on another replica"
    )
    return secrets.token_bytes(32)


def sign_media(signer: MediaSigner, viewer_id: str, body: dict) -> dict:
    """Adds `media_urls` {variant: signed URL} to every generation (for the variants it has) and every
    visible post in an API answer (protobuf JSON), in place; returns the body."""

    def walk(node):
        if isinstance(node, dict):
            if "generation_id" in node and "author_user_id" in node:  # a Post
                if node.get("state") not in HIDDEN_POST_STATES:
                    node["media_urls"] = {v: signer.url(node["generation_id"], v, viewer_id) for v in VARIANTS}
            elif "status" in node and isinstance(node.get("media"), list) and node.get("id"):  # a Generation
                names = [
                    VARIANT_NAMES.get(gpb.MediaVariant.Value(m["variant"]))
                    for m in node["media"]
                    if m.get("variant") in gpb.MediaVariant.keys()
                ]
                node["media_urls"] = {v: signer.url(node["id"], v, viewer_id) for v in names if v}
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        return node

    return walk(body)


def signed(request: Request, caller: auth.Principal, body: dict) -> dict:
    """For routes in rest.py: the answer with the caller's media URLs."""
    return sign_media(request.app.state.media.signer, caller.subject, body)


# -- HTTP ranges and validators (pure) ------------------------------------------------------


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of a single `bytes=` range; None to send the whole file (no header,
    one we do not serve such as several ranges, or a malformed one, which RFC 9110 says to ignore)."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    first_s, last_s = first_s.strip(), last_s.strip()
    if (
        not dash
        or not (first_s or last_s)
        or not (first_s.isdigit() or not first_s)
        or not (last_s.isdigit() or not last_s)
    ):
        return None
    if not first_s:  # bytes=-N: the last N bytes
        suffix = int(last_s)
        if suffix == 0 or size == 0:
            raise Unsatisfiable()
        return max(0, size - suffix), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        raise Unsatisfiable()
    return first, min(last, size - 1)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags


# -- serving --------------------------------------------------------------------------------


@dataclass
class MediaService:
    """The signer and the gateway's own channels to generator and feed (calls made as the gateway)."""

    signer: MediaSigner
    generator: generator_pb2_grpc.GeneratorServiceStub | None
    feed: feed_pb2_grpc.FeedServiceStub | None
    channels: tuple
    timeout: float
    limit: Limit

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> MediaService:
        signer = MediaSigner(media_key(settings), settings.media_url_ttl_s)
        limit = Limit(settings.user_rate * MEDIA_RATE_FACTOR, settings.user_burst * MEDIA_RATE_FACTOR)
        if not settings.internal_secret:
            return cls(signer, None, None, (), settings.call_timeout_s, limit)
        secret = settings.internal_secret

        async def mint():
            return auth.mint_service_token("gateway", secret)

        source = TokenSource(mint)
        generator_ch, feed_ch = channel(settings.generator_addr, source), channel(settings.feed_addr, source)
        return cls(
            signer,
            generator_pb2_grpc.GeneratorServiceStub(generator_ch),
            feed_pb2_grpc.FeedServiceStub(feed_ch),
            (generator_ch, feed_ch),
            settings.call_timeout_s,
            limit,
        )

    async def close(self) -> None:
        for ch in self.channels:
            await ch.close()

    async def visible_media(self, generation_id: str, variant: str, viewer_id: str) -> gpb.MediaRef:
        """The clip's media record, if this viewer may see it now; else 404 (the same answer for
        "not there", "taken down" and "not yours to see": ids are not an oracle)."""
        if self.generator is None or self.feed is None:
            raise ApiError(503, "media_unavailable", "media URLs need KINORA_INTERNAL_SECRET on the gateway")
        hidden = ApiError(404, "media_not_found", "this clip is not available (removed, or not shared with you)")
        try:
            generation = (
                await self.generator.GetGeneration(
                    gpb.GetGenerationRequest(generation_id=generation_id), timeout=self.timeout
                )
            ).generation
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise hidden from None
            raise from_rpc(err) from None
        if generation.taken_down:
            raise ApiError(404, "taken_down", "this clip was taken down")
        if generation.user_id != viewer_id:
            reply = await self.feed.CanViewGeneration(
                fpb.CanViewGenerationRequest(viewer_user_id=viewer_id, generation_id=generation_id),
                timeout=self.timeout,
            )
            if not reply.visible:
                raise hidden
        for ref in generation.media:
            if ref.variant == VARIANTS[variant]:
                return ref
        raise hidden

    async def stream(self, generation_id: str, variant: str, offset: int, length: int):
        """(first message, async iterator of chunks) from the generator's GetMedia, refusals raised
        before any byte of the answer is sent."""
        call = self.generator.GetMedia(
            gpb.GetMediaRequest(
                generation_id=generation_id,
                variant=VARIANTS[variant],
                offset=offset,
                length=length,
                chunk_size=CHUNK_BYTES,
            )
        )
        try:
            first = await call.read()
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                raise ApiError(
                    404, "media_not_found", "this clip is not available (removed, or not shared with you)"
                ) from None
            raise from_rpc(err) from None

        return first, stream_chunks(first, call)


@router.get(
    "/{generation_id}/{variant}",
    responses={
        200: {"content": {"video/mp4": {}, "image/jpeg": {}}, "description": "the whole file"},
        206: {"description": "one byte range (Range: bytes=N-M, bytes=N-, bytes=-N)"},
        304: {"description": "If-None-Match matched the ETag (the file's SHA-256)"},
        403: {"description": "media_url_invalid or media_url_expired"},
        404: {"description": "the clip is gone, taken down or no longer visible to the viewer"},
        416: {"description": "the range is outside the file; Content-Range: bytes */size"},
    },
)
async def play(
    generation_id: str,
    variant: str,
    request: Request,
    u: str = Query(description="the viewer's user id, bound into the signature"),
    exp: int = Query(description="unix seconds after which the URL stops working"),
    sig: str = Query(description="HMAC-SHA256 of (generation, variant, exp, viewer), base64url"),
):
    """Plays a clip from a signed URL found in `media_urls` (no Authorization header: for `<video>`/`<img>`)."""
    if variant not in VARIANTS:
        raise ApiError(404, "media_not_found", "variant must be video, thumbnail or spritesheet")
    media: MediaService = request.app.state.media
    left = media.signer.check(generation_id, variant, u, exp, sig)
    await request.app.state.gateway.rate_limit(f"media:{u}", media.limit)  # after the (free) signature check
    ref = await media.visible_media(generation_id, variant, u)
    etag = f'"{ref.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={left}",
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    size = ref.size_bytes
    if_range = request.headers.get("if-range")
    try:
        wanted = parse_range(request.headers.get("range"), size) if not if_range or if_range == etag else None
    except Unsatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = wanted if wanted else (0, size - 1)
    start, chunks = await media.stream(generation_id, variant, first, last - first + 1 if wanted else 0)
    headers["Content-Length"] = str(last - first + 1)
    content_type = ref.content_type or start.media.content_type or "application/octet-stream"
    if wanted:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        return StreamingResponse(chunks, status_code=206, media_type=content_type, headers=headers)
    return StreamingResponse(chunks, status_code=200, media_type=content_type, headers=headers)


async def stream_chunks(first, call):
    """The bytes of a GetMedia stream whose first message was already read; the call
    is cancelled when the client goes away."""
    item = first
    try:
        while item is not None and item is not grpc.aio.EOF:
            if item.chunk:
                yield item.chunk
            item = await call.read()
    finally:
        call.cancel()


async def media_response(g, generation_id: str, variant: str) -> StreamingResponse:
    """A generation's media as a download, for its own caller (`…/content` of both APIs)."""
    if variant not in VARIANTS:
        raise ApiError(400, "invalid_variant", "variant must be video, thumbnail or spritesheet")
    stream = g.streaming_generator.GetMedia(
        gpb.GetMediaRequest(generation_id=generation_id, variant=VARIANTS[variant]), metadata=caller_metadata()
    )
    first = await first_or_error(stream)
    if first is None:
        raise ApiError(404, "media_not_found", "this generation has no media of that kind")
    ref = first.media

    extension = {"video": "mp4", "thumbnail": "jpg", "spritesheet": "jpg"}[variant]
    headers = {"Content-Disposition": f'attachment; filename="{generation_id}.{extension}"'}
    if ref.size_bytes:
        headers["Content-Length"] = str(ref.size_bytes)
    return StreamingResponse(
        stream_chunks(first, stream), media_type=ref.content_type or "application/octet-stream", headers=headers
    )
