"""Generations (`/api/v1/generations…`): create (JSON or multipart with an image), list, follow
progress as Server-Sent Events, cancel, delete and download."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Annotated, Literal

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, model_validator

from kinora.common.v1 import common_pb2
from kinora.generator.v1 import generator_pb2 as gpb
from kinora.videospec import DEFAULT_SECONDS, EXTENSION_SECONDS, MAX_SHOT_SECONDS, MIN_SHOT_SECONDS
from services.gateway.core import Gateway
from services.gateway.media import media_response, signed
from services.gateway.mentions import cameo_ids_from_mentions, merge_cameo_ids
from services.gateway.shared import (
    API_PREFIX,
    ApiError,
    Caller,
    PageSize,
    as_json,
    caller_metadata,
    cameo_id_of,
    first_or_error,
    gw,
    page,
)
from services.gateway.uploads import is_multipart, read_upload, text_fields

Seconds = Annotated[int, Field(ge=0, le=60)]
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]

router = APIRouter(prefix=API_PREFIX)


TERMINAL = {gpb.GENERATION_STATUS_COMPLETED, gpb.GENERATION_STATUS_FAILED, gpb.GENERATION_STATUS_CANCELED}


Crossfade = Annotated[float, Field(ge=0.0, le=1.0)]
MAX_SHOTS_IN_BODY = 20  # the generator's rule is 6 (a 400 naming it); this only bounds the body's work


class ShotCreate(BaseModel):
    prompt: str = Field(description="what happens in this shot (may @mention cameos)")
    seconds: Annotated[int, Field(ge=0, le=60)] = Field(
        description=f"{MIN_SHOT_SECONDS} to {MAX_SHOT_SECONDS} whole seconds"
    )
    camera: str = Field(
        "",
        description="static, pan_left, pan_right, push_in, pull_out, tilt_up, tilt_down, or empty (the model chooses)",
    )
    image_b64: str = Field("", description="optional first frame of the shot: a PNG, JPEG or WebP, base64")

    def image(self, number: int) -> bytes:
        if not self.image_b64:
            return b""
        try:
            return base64.b64decode(self.image_b64, validate=True)
        except (ValueError, TypeError):
            raise ApiError(400, "invalid_image", f"shot {number}'s image_b64 is not valid base64") from None


class GenerationCreate(BaseModel):
    prompt: str = Field("", description="what to make; required unless stitch_of is set (then an optional title)")
    cameos: list[str] = Field(default_factory=list, description="handles of the people in the clip (at most 2)")
    seconds: Seconds = 0
    size: str = ""
    model: str = ""
    seed: Seed | None = None
    remix_of: str = ""
    extend_of: str = ""
    quote_id: str = ""
    stitch_of: list[str] = Field(
        default_factory=list,
        description=(
            "a stitch instead of a new clip: 2 to 10 ids of your own completed generations, joined in this order "
            "(free; nothing but prompt and crossfade_seconds may be set with it)"
        ),
    )
    crossfade_seconds: Crossfade = Field(0.0, description="with stitch_of: a 0 to 1 s crossfade at each join")
    shots: list[ShotCreate] = Field(
        default_factory=list,
        max_length=MAX_SHOTS_IN_BODY,
        description=(
            "a storyboard: 1 to 6 shots made as one clip, in order (JSON only); prompt is its title, seconds 0 or "
            "the shots' total (at most 15 s on standard, 25 s on pro); no image, remix_of, extend_of or edit_of"
        ),
    )
    edit_of: str = Field("", description="an edit of this completed generation: prompt says what to change")

    @model_validator(mode="before")
    @classmethod
    def _prompt_unless_stitch(cls, data):
        if isinstance(data, dict) and "prompt" not in data and not data.get("stitch_of"):
            raise ValueError("prompt: a prompt is required (or stitch_of, to stitch clips)")
        return data


def create_request(
    *,
    prompt: str,
    idempotency_key: str = "",
    image: bytes = b"",
    image_type: str = "",
    cameo_ids=(),
    seconds: int = 0,
    size: str = "",
    model: str = "",
    seed: int | None = None,
    remix_of: str = "",
    extend_of: str = "",
    quote_id: str = "",
    stitch_of=(),
    crossfade_seconds: float = 0.0,
    shots=(),
    edit_of: str = "",
) -> gpb.CreateGenerationRequest:
    """The generator's create request: the one place both APIs (and both body kinds) build it."""
    req = gpb.CreateGenerationRequest(
        idempotency_key=idempotency_key or uuid.uuid4().hex,
        prompt=prompt,
        input_image=image,
        input_image_content_type=image_type,
        cameo_ids=list(cameo_ids),
        seconds=seconds,
        size=size,
        model=model,
        remix_of=remix_of,
        extend_of=extend_of,
        quote_id=quote_id,
        stitch_of=list(stitch_of),
        crossfade_seconds=crossfade_seconds,
        shots=list(shots),
        edit_of=edit_of,
    )
    if seed is not None:
        req.seed = seed
    return req


async def generation_request(
    g: Gateway, body: GenerationCreate, image: bytes, image_type: str, idempotency_key: str
) -> gpb.CreateGenerationRequest:
    """`body`'s request, its cameo handles resolved to cameo ids, with the cameos `@mentioned` in
    the prompt and in every shot's prompt (services/gateway/mentions.py). A storyboard's cameos
    apply to the whole clip; each goes through the generator's consent check."""
    listed = await asyncio.gather(*(cameo_id_of(g, h) for h in body.cameos)) if body.cameos else []
    # A stitch's prompt is a title: its cameos are its sources'.
    mentioned = (
        [] if body.stitch_of else await cameo_ids_from_mentions(g, [body.prompt, *(shot.prompt for shot in body.shots)])
    )
    cameo_ids = merge_cameo_ids(listed, mentioned)
    shots = [
        gpb.Shot(prompt=shot.prompt, seconds=shot.seconds, camera=shot.camera, image=shot.image(number))
        for number, shot in enumerate(body.shots, 1)
    ]
    return create_request(
        **body.model_dump(exclude={"cameos", "shots"}),
        cameo_ids=cameo_ids,
        image=image,
        image_type=image_type,
        idempotency_key=idempotency_key,
        shots=shots,
    )


async def read_generation_create(request: Request) -> tuple[GenerationCreate, bytes, str]:
    """A create body, JSON or multipart (the same fields as text, plus an `image` file), checked as one model."""
    image, image_type = b"", ""
    if is_multipart(request):
        form, image, image_type, _ = await read_upload(request, "image", required=False)
        # An empty form field is an unset one (the prompt stays, so a missing prompt is the generator's refusal).
        fields = {k: v for k, v in text_fields(form, "cameos").items() if v != "" or k == "prompt"}
        fields.setdefault("prompt", "")
        if "shots" in fields:
            fields["shots"] = await _form_shots(form, fields["shots"])
    else:
        try:
            fields = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ApiError(400, "invalid_request", f"the body is not a valid generation request: {exc}"[:300]) from None
    try:
        return GenerationCreate.model_validate(fields), image, image_type
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "invalid_request", f"the body is not a valid generation request: {exc}"[:300]) from None


async def _form_shots(form, text: str) -> list:
    """A multipart storyboard: `shots` is the shots' JSON list, and shot N's image the file `shot_image_N`."""
    try:
        shots = json.loads(text)
    except ValueError:
        raise ApiError(400, "invalid_request", "shots must be a JSON list of shots") from None
    if not isinstance(shots, list) or not all(isinstance(shot, dict) for shot in shots):
        raise ApiError(400, "invalid_request", "shots must be a JSON list of shots")
    for number, shot in enumerate(shots[:MAX_SHOTS_IN_BODY], 1):
        upload = form.get(f"shot_image_{number}")
        if upload is not None and not isinstance(upload, str):
            shot["image_b64"] = base64.b64encode(await upload.read()).decode("ascii")
    return shots


@router.post(
    "/generations",
    status_code=201,
    tags=["generations"],
    openapi_extra={
        "requestBody": {
            "content": {
                # Inline: the body is read by hand (JSON or multipart), so FastAPI registers no component for it.
                "application/json": {"schema": GenerationCreate.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "prompt": {"type": "string"},
                            "image": {"type": "string", "format": "binary"},
                            "cameos": {"type": "array", "items": {"type": "string"}},
                            "seconds": {"type": "integer"},
                            "size": {"type": "string"},
                            "model": {"type": "string"},
                            "seed": {"type": "integer"},
                            "remix_of": {"type": "string"},
                            "extend_of": {"type": "string"},
                            "edit_of": {"type": "string"},
                            "quote_id": {"type": "string"},
                            "shots": {
                                "type": "string",
                                "description": "a storyboard's shots as a JSON list; shot N's "
                                "image as the file shot_image_N",
                            },
                        },
                        "patternProperties": {"^shot_image_[1-6]$": {"type": "string", "format": "binary"}},
                        "required": ["prompt"],
                    }
                },
            }
        }
    },
)
# A stitch (`stitch_of`, `crossfade_seconds`) is JSON only. A storyboard is JSON (images as base64, the whole body
# within the JSON cap) or multipart (`shots` as JSON text, images as files, within the image cap).
async def create_generation(request: Request, caller=Caller):
    """JSON, or multipart with an `image` file to animate. Send `Idempotency-Key` to make retries safe."""
    g = gw(request)
    body, image, image_type = await read_generation_create(request)
    req = await generation_request(g, body, image, image_type, request.headers.get("idempotency-key", ""))
    return signed(request, caller, as_json(await g.generator.CreateGeneration(req, timeout=g.timeout)))


@router.get("/generations", tags=["generations"])
async def list_generations(
    request: Request,
    caller=Caller,
    page_size: PageSize = 0,
    page_token: str = "",
    order: Literal["asc", "desc"] = "desc",
):
    g = gw(request)
    return signed(
        request,
        caller,
        as_json(
            await g.generator.ListGenerations(
                gpb.ListGenerationsRequest(
                    page=page(page_size, page_token),
                    order=common_pb2.SORT_ORDER_ASC if order == "asc" else common_pb2.SORT_ORDER_DESC,
                ),
                timeout=g.timeout,
            )
        ),
    )


@router.get("/generations/{generation_id}", tags=["generations"])
async def get_generation(generation_id: str, request: Request, caller=Caller):
    g = gw(request)
    return signed(
        request,
        caller,
        as_json(
            await g.generator.GetGeneration(gpb.GetGenerationRequest(generation_id=generation_id), timeout=g.timeout)
        ),
    )


@router.post("/generations/{generation_id}/cancel", tags=["generations"])
async def cancel_generation(generation_id: str, request: Request, caller=Caller):
    g = gw(request)
    return as_json(
        await g.generator.CancelGeneration(gpb.CancelGenerationRequest(generation_id=generation_id), timeout=g.timeout)
    )


@router.delete("/generations/{generation_id}", tags=["generations"])
async def delete_generation(generation_id: str, request: Request, caller=Caller):
    g = gw(request)
    await g.generator.DeleteGeneration(gpb.DeleteGenerationRequest(generation_id=generation_id), timeout=g.timeout)
    return {"id": generation_id, "deleted": True}


@router.get(
    "/generations/{generation_id}/events", tags=["generations"], responses={200: {"content": {"text/event-stream": {}}}}
)
async def generation_events(generation_id: str, request: Request, caller=Caller):
    """Server-Sent Events: one `generation` event per change, ending at a terminal status."""
    g = gw(request)
    stream = g.streaming_generator.StreamGeneration(
        gpb.StreamGenerationRequest(generation_id=generation_id), metadata=caller_metadata()
    )
    first = await first_or_error(stream)

    async def events():
        try:
            item = first
            while item is not None:
                yield f"event: generation\ndata: {json.dumps(signed(request, caller, as_json(item.generation)))}\n\n"
                if item.generation.status in TERMINAL:
                    break
                item = await stream.read()
                if item is grpc.aio.EOF:
                    break
        finally:
            stream.cancel()
        yield "event: end\ndata: {}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/generations/{generation_id}/content",
    tags=["generations"],
    responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}}}},
)
async def download_generation(
    generation_id: str,
    request: Request,
    caller=Caller,
    variant: str = Query("video", description="video, thumbnail or spritesheet"),
):
    return await media_response(gw(request), generation_id, variant)


async def mentioned_in(g: Gateway, prompt: str) -> list[str]:
    """The cameos an edit's or an extension's prompt `@mentions` (besides the source's, which it keeps)."""
    return merge_cameo_ids([], await cameo_ids_from_mentions(g, [prompt]))


class EditCreate(BaseModel):
    prompt: str = Field(description='what to change, e.g. "make it night"')


class ExtensionCreate(BaseModel):
    prompt: str = Field(description="what happens next")
    seconds: Seconds = Field(
        0,
        description=f"the new part's length: {', '.join(map(str, EXTENSION_SECONDS[:-1]))} or {EXTENSION_SECONDS[-1]}"
        f" (0: {DEFAULT_SECONDS})",
    )


@router.post("/generations/{generation_id}/edits", status_code=201, tags=["generations"])
async def edit_generation(generation_id: str, body: EditCreate, request: Request, caller=Caller):
    """A new clip made from this completed one, changed as the prompt says: same length, size and model,
    the same cameos (each one's consent checked again). Priced by the source's seconds."""
    g = gw(request)
    req = create_request(
        prompt=body.prompt,
        edit_of=generation_id,
        cameo_ids=await mentioned_in(g, body.prompt),
        idempotency_key=request.headers.get("idempotency-key", ""),
    )
    return signed(request, caller, as_json(await g.generator.CreateGeneration(req, timeout=g.timeout)))


@router.post("/generations/{generation_id}/extensions", status_code=201, tags=["generations"])
async def extend_generation(generation_id: str, body: ExtensionCreate, request: Request, caller=Caller):
    """This completed clip continued by `seconds`: the result is the whole longer clip (source + new part),
    same size, model and cameos. Priced by the new part's seconds."""
    g = gw(request)
    req = create_request(
        prompt=body.prompt,
        extend_of=generation_id,
        seconds=body.seconds,
        cameo_ids=await mentioned_in(g, body.prompt),
        idempotency_key=request.headers.get("idempotency-key", ""),
    )
    return signed(request, caller, as_json(await g.generator.CreateGeneration(req, timeout=g.timeout)))
