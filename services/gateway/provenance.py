"""The public provenance check: "was this made here, and which generation is it?"

Anyone may ask, without an account (rate limited per client address, and at most
CHECK_SLOTS analyses at once per replica: each decodes up to 48 frames). Two layers:
- c2pa: the clip's signed manifest verified against this deployment's C2PA root
  (an intact manifest signed by anyone else is not ours);
- watermark: the invisible mark (kinora/media/invisible_mark.py) read from the frames,
  its 48-bit id looked up with the generator's FindByWatermark.

Privacy: `made_here` is always answered (that is the point of the check, and whoever
holds the file already has the content). The generation id and the post are given
only when the clip is published publicly (feed's CanViewGeneration for nobody in
particular); a private draft, a followers-only post, a deleted or taken-down clip
answer `made_here: true` with `shared: false` and nothing that leads to its author.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kinora.feed.v1 import feed_pb2 as fpb
from kinora.generator.v1 import generator_pb2 as gpb
from kinora.media import c2pa_sign, invisible_mark
from services.gateway.core import anonymous, gateway_of
from services.gateway.errors import ApiError
from services.gateway.ratelimit import Limit
from services.gateway.uploads import read_upload

log = logging.getLogger("kinora.gateway.provenance")

router = APIRouter(prefix="/api/v1", tags=["provenance"])
CHECK_LIMIT = Limit(rate=0.2, burst=5)  # per client address, on top of the anonymous limit
CHECK_SLOTS = 2
ANYONE = "anonymous:provenance"  # a viewer who follows no one: sees public posts only
_slots = asyncio.Semaphore(CHECK_SLOTS)
_anchors: dict[str, bytes | None] = {}


class WatermarkLayer(BaseModel):
    found: bool
    sync_score: float


class C2paLayer(BaseModel):
    state: str


class ProvenanceAnswer(BaseModel):
    made_here: bool
    layers: list[str]
    shared: bool
    generation_id: str | None = None
    post: dict | None = None
    c2pa: C2paLayer | None = None
    watermark: WatermarkLayer


def sniff(data: bytes) -> str | None:
    if data[4:8] == b"ftyp" or data[:4] == b"\x1a\x45\xdf\xa3":
        return "video"
    if (
        data[:8] == b"\x89PNG\r\n\x1a\n"
        or data[:3] == b"\xff\xd8\xff"
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    ):
        return "image"
    return None


def trust_anchors() -> bytes | None:
    if "pem" not in _anchors:
        _anchors["pem"] = c2pa_sign.trust_anchors_from_env()
    return _anchors["pem"]


def analyse(data: bytes, kind: str) -> tuple[invisible_mark.Detection, c2pa_sign.OriginCheck | None]:
    if kind == "image":
        frames = [invisible_mark.luma_from_image(data)]
    else:
        frames = invisible_mark.luma_frames_from_video(data)
    if not frames:
        raise ValueError("no frames")
    mark = invisible_mark.detect(frames)
    anchors = trust_anchors()
    origin = c2pa_sign.verify_origin(data, anchors) if kind == "video" and anchors else None
    return mark, origin


@router.post("/provenance/check", response_model=ProvenanceAnswer, response_model_exclude_none=True)
async def check_provenance(request: Request, address: str = Depends(anonymous)):
    """Was this clip (or a frame of it) made here? Multipart `file`: an MP4/MOV/WebM
    video (at most 30 MB) or a PNG/JPEG/WebP image. No account needed. `made_here` is true
    when a layer (signed C2PA manifest, invisible watermark) names a generation of this
    platform; `generation_id` and `post` are given only for clips published publicly."""
    g = gateway_of(request)
    await g.rate_limit(f"provenance:{address}", CHECK_LIMIT)
    _form, data, _content_type, _filename = await read_upload(request, "file")
    kind = sniff(data)
    if kind is None:
        raise ApiError(415, "unsupported_media_type", "send an MP4, MOV or WebM video, or a PNG, JPEG or WebP image")
    async with _slots:
        try:
            mark, origin = await asyncio.to_thread(analyse, data, kind)
        except Exception as exc:  # noqa: BLE001 - whatever the decoder says, the file is unusable
            raise ApiError(
                400, "undecodable_media", f"the {kind} could not be decoded (or its frames are over 4096x4096)"
            ) from exc
    media = request.app.state.media
    if media.generator is None or media.feed is None:
        raise ApiError(
            503, "provenance_unavailable", "the provenance check needs KINORA_INTERNAL_SECRET on the gateway"
        )

    layers, generation_id, gone = [], None, False
    if origin is not None and origin.generation_id:
        layers.append("c2pa")
        generation_id = origin.generation_id
    if mark.payload is not None:
        found = await media.generator.FindByWatermark(
            gpb.FindByWatermarkRequest(watermark_id=mark.payload), timeout=g.timeout
        )
        if found.found:
            layers.append("watermark")
            gone = found.deleted or found.taken_down
            if generation_id and generation_id != found.generation_id:
                log.warning("provenance layers disagree", extra={"c2pa": generation_id, "mark": found.generation_id})
            generation_id = generation_id or found.generation_id

    answer = ProvenanceAnswer(
        made_here=bool(layers),
        layers=layers,
        shared=False,
        c2pa=C2paLayer(state=origin.state) if origin is not None else None,
        watermark=WatermarkLayer(found="watermark" in layers, sync_score=round(mark.sync_score, 1)),
    )
    if generation_id and not gone:
        visible = await media.feed.CanViewGeneration(
            fpb.CanViewGenerationRequest(viewer_user_id=ANYONE, generation_id=generation_id), timeout=g.timeout
        )
        if visible.visible:
            answer.shared, answer.generation_id = True, generation_id
            answer.post = {"id": visible.post_id}
    return answer
