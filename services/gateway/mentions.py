"""`@handle` mentions in prompts: which cameos (people and characters) a request names.

A create path resolves the mentions in its texts (prompt, shot prompts) to cameo ids with
`cameo_ids_from_mentions`, then merges them with the ids the request lists with
`merge_cameo_ids`, which is where the two-cameos-a-clip rule is enforced for both together.
The merged ids then go through the same consent check (cameo's CheckUse) as listed ids:
a mention grants nothing by itself.

A person is mentioned by their own handle, a character by its handle; when identity has
since given a character's handle to a person, the person is meant (cameo's `by_handle`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

import grpc

from kinora.cameo.v1 import cameo_pb2 as cpb
from services.gateway.errors import ApiError

MAX_CAMEOS_PER_CLIP = 2  # as cameo's CheckUse allows
# A handle after '@' that does not continue a word or an address (bob@example.com is no mention).
# People's handles may hold dots, so a sentence's final dot is trimmed off.
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9_.]{1,40})")
_HANDLE = re.compile(r"[a-z0-9_.]{3,30}")


def mentioned_handles(texts: Iterable[str]) -> list[str]:
    """The handles mentioned in the texts, lowercased, in first-mention order, each once."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in _MENTION.finditer(text or ""):
            handle = match.group(1).rstrip(".").lower()
            if handle:
                seen.setdefault(handle, None)
    return list(seen)


async def _resolve(g, handle: str) -> str:
    if not _HANDLE.fullmatch(handle):
        raise ApiError(
            400,
            "unknown_handle",
            f"@{handle} is not a handle: handles are 3 to 30 letters, digits, underscores or dots",
        )
    try:
        reply = await g.cameo.GetCameo(cpb.GetCameoRequest(handle=handle), timeout=g.timeout)
    except grpc.RpcError as err:
        if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise ApiError(
                400, "unknown_handle", f"the prompt mentions @{handle}, but no cameo or character has that handle"
            ) from None
        raise
    return reply.cameo.id


async def cameo_ids_from_mentions(g, texts: list[str]) -> list[str]:
    """The cameo ids of the `@handle`s mentioned in `texts`, in first-mention order, each once.
    An unknown handle is a 400 (`unknown_handle`); more than two different handles a 400
    (`too_many_cameos`) before any is looked up. Consent is not checked here."""
    handles = mentioned_handles(texts)
    if len(handles) > MAX_CAMEOS_PER_CLIP:
        raise ApiError(
            400,
            "too_many_cameos",
            f"a clip can have at most {MAX_CAMEOS_PER_CLIP} cameos or characters; "
            f"the request mentions {len(handles)}: " + ", ".join(f"@{h}" for h in handles),
        )
    ids = await asyncio.gather(*(_resolve(g, h) for h in handles))
    return list(dict.fromkeys(ids))


def merge_cameo_ids(listed: Iterable[str], mentioned: Iterable[str]) -> list[str]:
    """The request's cameo ids followed by the mentioned ones, each once; more than two in all
    is a 400 (`too_many_cameos`). This is where the rule holds for listed and mentioned together."""
    merged = list(dict.fromkeys([*listed, *mentioned]))
    if len(merged) > MAX_CAMEOS_PER_CLIP:
        raise ApiError(
            400,
            "too_many_cameos",
            f"a clip can have at most {MAX_CAMEOS_PER_CLIP} cameos or characters; "
            f"this request names {len(merged)} (listed and @mentioned together)",
        )
    return merged
