"""Characters in the Sora-compatible Videos API (`/v1/videos/characters…`).

A character is a cameo: a character proper (an animal, object or drawing, made from an upload
with no human face in it) or the caller's own person cameo, made from a liveness recording.
The SDK's `create_character` sends only `name` and `video`, so the upload decides: cameo
searches it for faces first; a readable upload with no face becomes a character, anything
else (a face, or no readable picture) goes the liveness way, as before.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from fastapi import APIRouter, Request

from kinora.cameo.v1 import cameo_pb2 as cpb
from kinora.identity.v1 import identity_pb2 as ipb
from kinora.runtime.convert import epoch_seconds
from kinora.runtime.errors import error_code_of
from services.gateway.character_routes import new_character
from services.gateway.core import gateway_of, require_scope
from services.gateway.errors import ApiError
from services.gateway.shared import Dev
from services.gateway.uploads import read_upload

router = APIRouter(prefix="/v1", tags=["videos (Sora-compatible)"])


@router.get("/videos/characters/{character_id}", summary="Get a character (cameo)")
async def get_character(character_id: str, request: Request, caller=Dev):
    require_scope(caller, "videos:read")
    g = gateway_of(request)
    cameo = (await g.cameo.GetCameo(cpb.GetCameoRequest(cameo_id=character_id), timeout=g.timeout)).cameo
    return _character_json(cameo)


def _character_json(cameo: cpb.Cameo, name: str = "") -> dict:
    return {
        "id": cameo.id,
        "object": "character",
        "name": cameo.display_name or name or cameo.owner_handle,
        "handle": cameo.handle,
        "kind": "character" if cameo.kind == cpb.CAMEO_KIND_CHARACTER else "person",
        "created_at": epoch_seconds(cameo.created_at),
    }


# Refusals after which the upload is taken for a person's recording (the liveness path answers then).
_NOT_A_CHARACTER = {"human_face_in_character", "invalid_character_media", "missing_character_media"}


async def _as_character(g, form, data: bytes, content_type: str, filename: str) -> cpb.Cameo | None:
    """The upload as a new character, or None when it is not one (a face in it, or unreadable)."""
    try:
        return await new_character(g, form, data, content_type, filename)
    except grpc.RpcError as err:
        if error_code_of(err) in _NOT_A_CHARACTER:
            return None
        raise


@router.post(
    "/videos/characters",
    summary="Create a character: an animal, object or drawing, or yourself",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "video"],
                        "properties": {
                            "name": {"type": "string"},
                            "video": {"type": "string", "format": "binary"},
                            "handle": {"type": "string"},
                            "description": {"type": "string"},
                            "verification_id": {"type": "string"},
                            "nonce": {"type": "string"},
                        },
                    }
                }
            }
        }
    },
)
async def create_character(request: Request, caller=Dev):
    """An upload (image or short video) with no human face in it becomes a character: an animal,
    object or drawing, with a handle derived from `name` (or `handle`, through the SDK's
    `extra_body`, with an optional `description`). Prompts mention it as `@handle`.

    An upload with a face is taken for the caller's own cameo, made from a liveness recording.
    The recording must answer a fresh challenge (digits read aloud, head turns). The SDK sends
    only `name` and `video`, so the challenge is bound to the caller: a call when they have no
    open challenge starts one and answers 412 with it; recorded, the same call again answers the
    caller's newest open challenge. `verification_id` with `nonce` (e.g. through the SDK's
    `extra_body`) names a challenge exactly instead.
    """
    require_scope(caller, "cameos:write")
    g = gateway_of(request)
    form, data, content_type, filename = await read_upload(request, "video")
    verification_id, nonce = str(form.get("verification_id") or ""), str(form.get("nonce") or "")
    if not (verification_id and nonce):
        character = await _as_character(g, form, data, content_type, filename)
        if character is not None:
            return _character_json(character)
    submit = ipb.SubmitVerificationRequest(
        video=data, content_type=content_type, filename=filename, cameo_display_name=str(form.get("name") or "")
    )
    if verification_id and nonce:
        submit.verification_id, submit.nonce = verification_id, nonce
    else:
        submit.latest_open_challenge = True
    try:
        result = (await g.identity.SubmitVerification(submit, timeout=max(g.timeout, 120))).verification
    except grpc.RpcError as err:
        if error_code_of(err) != "no_open_challenge":
            raise
        started = (await g.identity.StartVerification(ipb.StartVerificationRequest(), timeout=g.timeout)).verification
        turns = ", ".join(ipb.HeadTurn.Name(t).removeprefix("HEAD_TURN_").lower() for t in started.challenge.head_turns)
        raise ApiError(
            412,
            "liveness_challenge_required",
            f"record a video reading the digits '{started.challenge.digits}' aloud and turning your head "
            f"{turns}, then send it again within {epoch_seconds(started.challenge.expires_at) - int(time.time())} "
            f"s (verification_id={started.id}, nonce={started.challenge.nonce})",
        ) from None
    if result.status != ipb.VERIFICATION_STATUS_PASSED:
        failed = [c.reason for c in result.checks if c.evaluated and not c.passed]
        raise ApiError(
            422,
            "verification_failed",
            "the video did not pass the liveness check: "
            + ("; ".join(failed) or ipb.VerificationStatus.Name(result.status).lower()),
        )
    # The cameo is created by the cameo service from identity's event: wait briefly for it.
    for _ in range(50):
        try:
            cameo = (await g.cameo.GetCameo(cpb.GetCameoRequest(owner_user_id=caller.subject), timeout=g.timeout)).cameo
            return _character_json(cameo, str(form.get("name") or ""))
        except Exception:  # noqa: BLE001 - not there yet
            await asyncio.sleep(0.2)
    raise ApiError(503, "character_pending", f"verification {verification_id} passed; the character appears shortly")
