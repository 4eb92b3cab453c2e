"""The Sora-compatible Videos API (`/v1/videos…`), so code written for the
official `openai` SDK works with only `base_url` and `api_key` changed.

Video ids are generation ids; `sora-2`/`sora-2-pro` are aliases of the
`standard`/`pro` models; seconds travel as strings, as Sora's do.
"""

from __future__ import annotations

import asyncio
import json
from typing import Literal

import grpc
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import generator_pb2 as gpb
from kinora.runtime.convert import epoch_seconds, seconds_or_none
from kinora.videospec import (
    ALLOWED_SECONDS,
    DEFAULT_MODEL,
    DEFAULT_SIZE,
    MODEL_ALIASES,
    MODELS,
    SORA_NAMES,
    canonical_model,
)
from services.gateway.core import gateway_of, require_scope
from services.gateway.errors import ApiError
from services.gateway.generations import create_request
from services.gateway.media import media_response
from services.gateway.shared import Dev
from services.gateway.uploads import is_multipart, read_upload, text_fields

router = APIRouter(prefix="/v1", tags=["videos (Sora-compatible)"])

STATUS = {
    gpb.GENERATION_STATUS_QUEUED: "queued",
    gpb.GENERATION_STATUS_IN_PROGRESS: "in_progress",
    gpb.GENERATION_STATUS_COMPLETED: "completed",
    gpb.GENERATION_STATUS_FAILED: "failed",
    gpb.GENERATION_STATUS_CANCELED: "failed",
}
SORA_DEFAULT_SECONDS = 4  # Sora's default; Kinora's own API defaults to 10


def video_object(gen: gpb.Generation) -> dict:
    error = None
    if gen.status == gpb.GENERATION_STATUS_CANCELED:
        error = {"code": gen.error.code or "canceled", "message": gen.error.message or "the video was canceled"}
    elif gen.status == gpb.GENERATION_STATUS_FAILED:
        error = {"code": gen.error.code or "generation_failed", "message": gen.error.message or "the video failed"}
    return {
        "id": gen.id,
        "object": "video",
        "created_at": epoch_seconds(gen.created_at),
        "completed_at": seconds_or_none(gen, "completed_at"),
        "expires_at": seconds_or_none(gen, "expires_at"),
        "status": STATUS.get(gen.status, "queued"),
        "progress": gen.progress,
        "model": SORA_NAMES.get(gen.model, gen.model),
        "prompt": gen.prompt,
        "seconds": str(gen.seconds),
        "size": gen.size,
        "remixed_from_video_id": gen.remix_of or None,
        "error": error,
    }


def _seconds(raw) -> int:
    if raw in (None, ""):
        return SORA_DEFAULT_SECONDS
    try:
        return int(str(raw))
    except ValueError:
        raise ApiError(400, "invalid_seconds", 'seconds must be a whole number such as "4" or "8"') from None


async def _body(request: Request, file_field: str | None) -> tuple[dict, bytes, str]:
    """Fields of a JSON or multipart body, plus the uploaded file when there is one."""
    if is_multipart(request):
        form, data, file_type, _ = await read_upload(request, file_field or "_none", required=False)
        return text_fields(form, "cameo_ids"), data, file_type
    try:
        fields = json.loads(await request.body() or b"{}")
    except ValueError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return fields, b"", ""


async def _create(
    request: Request, fields: dict, image: bytes, image_type: str, *, from_source: bool = False, **extra
) -> dict:
    """`from_source`: an extension or an edit, whose size and model (and an edit's length) are its
    source's: what the request leaves unset stays unset for the generator to take from the source."""
    g = gateway_of(request)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ApiError(400, "missing_prompt", "prompt is required")
    default_size, default_model = ("", "") if from_source else (DEFAULT_SIZE, DEFAULT_MODEL)
    seconds = fields.get("seconds")
    req = create_request(
        prompt=prompt,
        idempotency_key=request.headers.get("idempotency-key", ""),
        image=image,
        image_type=image_type,
        cameo_ids=[str(c) for c in fields.get("cameo_ids") or []],
        seconds=0 if from_source and seconds in (None, "") else _seconds(seconds),
        size=str(fields.get("size") or default_size),
        model=canonical_model(str(fields.get("model") or "")) or default_model,
        **extra,
    )
    reply = await g.generator.CreateGeneration(req, timeout=g.timeout)
    video = video_object(reply.generation)
    await request.app.state.webhooks.watch(request, video["id"])
    return video


@router.post(
    "/videos",
    summary="Create a video",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["prompt"],
                        "properties": {
                            "prompt": {"type": "string"},
                            "input_reference": {"type": "string", "format": "binary"},
                            "model": {"type": "string", "enum": [*MODEL_ALIASES, *MODELS]},
                            "seconds": {"type": "string"},
                            "size": {"type": "string"},
                        },
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["prompt"],
                        "properties": {
                            "prompt": {"type": "string"},
                            "model": {"type": "string"},
                            "seconds": {"type": "string"},
                            "size": {"type": "string"},
                            "cameo_ids": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                },
            }
        }
    },
)
async def create_video(request: Request, caller=Dev):
    require_scope(caller, "videos:write")
    fields, image, image_type = await _body(request, "input_reference")
    return await _create(request, fields, image, image_type)


@router.get("/videos", summary="List videos")
async def list_videos(
    request: Request,
    caller=Dev,
    after: str = "",
    limit: int = Query(20, ge=1, le=100),
    order: Literal["asc", "desc"] = "desc",
):
    require_scope(caller, "videos:read")
    g = gateway_of(request)
    reply = await g.generator.ListGenerations(
        gpb.ListGenerationsRequest(
            page=common_pb2.PageRequest(page_size=limit),
            after_generation_id=after,
            order=common_pb2.SORT_ORDER_ASC if order == "asc" else common_pb2.SORT_ORDER_DESC,
        ),
        timeout=g.timeout,
    )
    data = [video_object(gen) for gen in reply.generations]
    return {
        "object": "list",
        "data": data,
        "has_more": reply.has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


@router.get("/videos/{video_id}", summary="Retrieve a video")
async def retrieve_video(video_id: str, request: Request, caller=Dev):
    require_scope(caller, "videos:read")
    g = gateway_of(request)
    gen = await g.generator.GetGeneration(gpb.GetGenerationRequest(generation_id=video_id), timeout=g.timeout)
    return video_object(gen.generation)


@router.delete("/videos/{video_id}", summary="Delete a video")
async def delete_video(video_id: str, request: Request, caller=Dev):
    require_scope(caller, "videos:write")
    g = gateway_of(request)
    await g.generator.DeleteGeneration(gpb.DeleteGenerationRequest(generation_id=video_id), timeout=g.timeout)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get(
    "/videos/{video_id}/content",
    summary="Download video content",
    responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}}}},
)
async def video_content(
    video_id: str, request: Request, caller=Dev, variant: Literal["video", "thumbnail", "spritesheet"] = "video"
):
    require_scope(caller, "videos:read")
    return await media_response(gateway_of(request), video_id, variant)


class RemixBody(BaseModel):
    prompt: str


@router.post("/videos/{video_id}/remix", summary="Remix a video")
async def remix_video(video_id: str, body: RemixBody, request: Request, caller=Dev):
    require_scope(caller, "videos:write")
    g = gateway_of(request)
    source = (
        await g.generator.GetGeneration(gpb.GetGenerationRequest(generation_id=video_id), timeout=g.timeout)
    ).generation
    # A remix is a clip of one of the lengths a clip may have: a storyboard's or an extension's
    # source of another length is remixed at the longest allowed length within it.
    seconds = max((s for s in ALLOWED_SECONDS if s <= source.seconds), default=min(ALLOWED_SECONDS))
    fields = {"prompt": body.prompt, "seconds": seconds, "size": source.size, "model": source.model}
    return await _create(request, fields, b"", "", remix_of=video_id)


async def _source_id(request: Request, fields: dict, file: bytes, what: str) -> str:
    """The `video` of an edit or an extension: {"id": ...} as JSON, `video[id]` as a form field, or
    the Kinora video itself uploaded as `video` (what the openai SDK sends for a file): its
    generation is found by its invisible watermark, as the provenance check finds it. Either way
    the generator then applies the usual rules (your own video, or one you may remix)."""
    if file:
        return await _generation_of_upload(request, file, what)
    source = fields.get("video")
    source_id = source.get("id") if isinstance(source, dict) else fields.get("video[id]")
    if not source_id or not isinstance(source_id, str):
        raise ApiError(400, "missing_video", f'give the video to {what} as {{"video": {{"id": "..."}}}}')
    return source_id


async def _generation_of_upload(request: Request, data: bytes, what: str) -> str:
    from services.gateway import provenance  # noqa: PLC0415 - its analysis slots are shared with the check

    not_ours = ApiError(
        400,
        "unsupported_video_upload",
        f'you can only {what} a video made on Kinora: upload it as downloaded, or give it as video={{"id": "..."}}',
    )
    if provenance.sniff(data) != "video":
        raise not_ours
    async with provenance._slots:
        try:
            mark, _ = await asyncio.to_thread(provenance.analyse, data, "video")
        except Exception:  # noqa: BLE001 - whatever the decoder says, the file is unusable
            raise not_ours from None
    media = request.app.state.media
    if mark.payload is None or media.generator is None:
        raise not_ours
    g = gateway_of(request)
    found = await media.generator.FindByWatermark(
        gpb.FindByWatermarkRequest(watermark_id=mark.payload), timeout=g.timeout
    )
    if not found.found:
        raise not_ours
    return found.generation_id


def _source_schema(*extra: str) -> dict:
    """The request body of an edit or an extension: the source as a reference or as the uploaded video."""
    props = {"prompt": {"type": "string"}, **{name: {"type": "string"} for name in extra}}
    return {
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["prompt", *extra],
                        "properties": {
                            **props,
                            "video[id]": {"type": "string"},
                            "video": {
                                "type": "string",
                                "format": "binary",
                                "description": "the Kinora video itself, as downloaded (instead of video[id])",
                            },
                        },
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["prompt", *extra, "video"],
                        "properties": {**props, "video": {"type": "object", "properties": {"id": {"type": "string"}}}},
                    }
                },
            }
        }
    }


async def _create_from_source(request: Request, fields: dict, file: bytes, what: str) -> dict:
    source_id = await _source_id(request, fields, file, what)
    key = "edit_of" if what == "edit" else "extend_of"
    # Only these: an edit's or an extension's size and model are its source's.
    given = {"prompt": fields.get("prompt"), **({"seconds": fields.get("seconds")} if what == "extend" else {})}
    try:
        return await _create(request, given, b"", "", from_source=True, **{key: source_id})
    except grpc.RpcError as err:
        if file and err.code() == grpc.StatusCode.NOT_FOUND:  # the upload's id is not the caller's to learn
            raise ApiError(
                404, "generation_not_found", "the uploaded video is not yours or one you may remix"
            ) from None
        raise


@router.post("/videos/edits", summary="Edit a completed video", openapi_extra=_source_schema())
async def edit_video(request: Request, caller=Dev):
    """A new video made from a completed one, changed as `prompt` says ("make it night"): same length,
    size, model and cameos (each one's consent checked again). Your own video, or one you may remix."""
    require_scope(caller, "videos:write")
    fields, file, _ = await _body(request, "video")
    return await _create_from_source(request, fields, file, "edit")


@router.post("/videos/extensions", summary="Extend a completed video", openapi_extra=_source_schema("seconds"))
async def extend_video(request: Request, caller=Dev):
    """The video continued by `seconds` ("4", "8", "12", "16", "20"; also 10 and 15): the result is
    the whole longer video, its `seconds` the stitched total. Same size, model and cameos."""
    require_scope(caller, "videos:write")
    fields, file, _ = await _body(request, "video")
    return await _create_from_source(request, fields, file, "extend")
