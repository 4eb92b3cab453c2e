"""The likeness guard on a generation's inputs: the faces in an input image
and the cameos of a remix or extension source join the request's cameos, so
each goes through the same consent check, appearance index and takedown as a
cameo named by the caller (docs/cameo.md). And on its output: the faces in
sampled frames of the clip the model made must belong to the job's consented
cameos or to nobody enrolled (`check_output`).

Faces are found and embedded here (kinora.ml.faces); whose they are is asked
of identity, which holds the enrolled faces (`FaceDirectory`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from kinora.media.thumbs import keyframes
from kinora.ml import faces, keyframe_faces
from kinora.models.contract import MAX_CAMEOS
from kinora.runtime.errors import InvalidArgument, PermissionDenied

# The output scan looks at keyframes (the encoder puts one every 2 s; the worker
# decodes them anyway, and decoding only those takes ~10 ms otherwise), one per
# SAMPLE_EVERY_S of clip, in the middle of each stretch: at 2 s and 6 s of a 10 s
# clip. Every stretch of SAMPLE_EVERY_S seconds holds a sampled frame, so a face on
# screen that long is looked at; a shorter appearance can fall between two samples
# (docs/identity.md, "The output scan"). Finding faces down to ~40 px costs ~50 ms of
# CPU a worldsim 720x1280 frame (only where a face can be is searched closely, see
# kinora/ml/regions.py), ~0.3 s a frame with detail everywhere; a later keyframe is searched
# only where it changed, and a face seen again unchanged is not embedded again
# (kinora/ml/keyframe_faces.py, benchmarks/output_scan_bench.py).
SAMPLE_EVERY_S = 4.0

POLICY = (
    "Kinora's likeness policy: a real person appears in a video only with their consent, "
    "given through their verified cameo"
)


# Why a face found in an input may not be used, without saying whose face it is.
UNNAMED_REASONS = {
    "DECISION_REASON_BLOCKED": "they don't allow you to use their likeness",
    "DECISION_REASON_RESTRICTION_CONFLICT": "this prompt conflicts with a restriction they set on their cameo",
    "DECISION_REASON_NOT_VERIFIED": "their verification was withdrawn, so nobody may use their likeness",
    "DECISION_REASON_CAMEO_NOT_FOUND": "their cameo was deleted, so nobody may use their likeness",
}


def unnamed_refusal(reason: str) -> str:
    """The refusal for a cameo found by face: names the policy, not the person.
    `reason` is a cameo.v1.DecisionReason name."""
    why = UNNAMED_REASONS.get(reason, "their cameo settings don't include you")
    return f"the input image shows a person with a verified cameo and {why} ({POLICY})"


class FaceDirectory(Protocol):
    async def owners(self, embeddings: list[bytes]) -> dict[int, str]:
        """face index -> user id of the verified person it matches (unmatched faces left out)."""
        ...

    async def cameo_of(self, user_id: str) -> str | None:
        """That person's cameo id (None when cameo has no profile for them)."""
        ...


@dataclass(frozen=True)
class FaceScan:
    faces: int = 0
    cameo_ids: tuple[str, ...] = ()  # cameos whose owners' faces are in the picture
    unmatched: int = 0  # faces of nobody enrolled
    without_cameo: int = 0  # faces of verified people that cameo has no profile for


@dataclass(frozen=True)
class OutputScan:
    frames: int = 0
    faces: int = 0
    cameo_ids: tuple[str, ...] = ()  # cameos whose owners' faces are in the clip
    unconsented: int = 0  # people in the clip who are not among the job's consented cameos

    @property
    def refusal(self) -> str | None:
        if not self.unconsented:
            return None
        return (
            "the generated video shows a person with a verified identity who is not one of this video's "
            f"cameos, so it can't be delivered ({POLICY}). Nothing was charged"
        )


def sample(frames: Sequence[tuple[float, object]], every_s: float | None = None) -> list:
    """The (time, frame) pairs the output scan looks at, from a clip's keyframes in time
    order: at every_s/2, 3*every_s/2, ... up to the last keyframe, the frame nearest that
    time (within every_s/2), each at most once. Any stretch of every_s seconds holds one
    of those times; with a keyframe at each of them (the encoder's one every 2 s, every_s
    a multiple of 4), a frame of that stretch is scanned. A clip too short for the first
    time gives its first frame."""
    if not frames:
        return []
    every_s = SAMPLE_EVERY_S if every_s is None else every_s
    picked, target = [], every_s / 2
    while target <= frames[-1][0] + 1e-6:
        best = min(frames, key=lambda item: abs(item[0] - target))
        if abs(best[0] - target) <= every_s / 2 and all(best is not p for p in picked):
            picked.append(best)
        target += every_s
    return picked or [frames[0]]


@dataclass(frozen=True)
class RequestCameos:
    """Every cameo a generation will contain, and which of them the caller did not name."""

    cameo_ids: tuple[str, ...]
    from_image: frozenset[str] = field(default_factory=frozenset)
    from_source: frozenset[str] = field(default_factory=frozenset)


class LikenessGuard:
    def __init__(self, directory: FaceDirectory | None, allow_unknown_faces: bool = False):
        self.directory = directory
        self.allow_unknown_faces = allow_unknown_faces

    async def _people(self, found: list) -> tuple[int, list[str | None]]:
        """How many of the faces match someone enrolled, and each such person's cameo id once
        (None: a verified person cameo has no profile for). One MatchFaces call for all faces."""
        owners = await self.directory.owners([faces.to_bytes(f.embedding) for f in found])
        return len(owners), [await self.directory.cameo_of(u) for u in dict.fromkeys(owners.values())]

    async def scan(self, image: bytes) -> FaceScan:
        found = await asyncio.to_thread(lambda: faces.find_faces(faces.decode(image)))
        if not found:
            return FaceScan()
        matched, people = await self._people(found) if self.directory is not None else (0, [])
        cameo_ids = tuple(dict.fromkeys(c for c in people if c is not None))
        return FaceScan(len(found), cameo_ids, len(found) - matched, people.count(None))

    async def check_output(self, mp4: bytes, consented: Sequence[str], frames=None) -> OutputScan:
        """Who is in a finished clip. A face of an enrolled person whose cameo
        is not in `consented` (or who has no cameo to consent with) counts as
        unconsented; a face of nobody enrolled is the model's invention and
        passes. One MatchFaces call for every face of every sampled frame.
        `frames`: the clip's (time, rgb) keyframes when the caller decoded it already."""
        if frames is None:
            frames = await asyncio.to_thread(keyframes, mp4, 1000)
        picked = sample(frames)
        # Each place of each frame searched once and each face embedded once (kinora/ml/keyframe_faces.py).
        seen = await asyncio.to_thread(keyframe_faces.find_in_keyframes, [rgb for _, rgb in picked])
        count, total = len(picked), sum(len(frame) for frame in seen.per_frame)
        if not seen.distinct or self.directory is None:
            return OutputScan(count, total)
        _, people = await self._people(seen.distinct)
        unconsented = sum(1 for c in people if c is None or c not in consented)
        return OutputScan(count, total, tuple(dict.fromkeys(c for c in people if c is not None)), unconsented)

    async def request_cameos(
        self, named: tuple[str, ...], image: bytes, source, shot_images: Sequence[bytes] = ()
    ) -> RequestCameos:
        """The request's cameos after scanning the image (and a storyboard's shot images) and
        reading the source. Refuses (PermissionDenied) a face that no consent can be checked for."""
        from_image: tuple[str, ...] = ()
        for picture in (image, *shot_images):
            if not picture:
                continue
            scan = await self.scan(picture)
            if scan.without_cameo:
                raise PermissionDenied(
                    "the input image shows a person whose cameo can't be checked right now, so it can't be used "
                    f"({POLICY})",
                    "likeness_consent_denied",
                )
            if scan.unmatched and not self.allow_unknown_faces:
                raise PermissionDenied(
                    "the input image shows a real person's face that matches no verified cameo, so it can't be "
                    f"animated ({POLICY}). Use a picture without people, or of someone whose cameo you may use",
                    "likeness_unknown_face",
                )
            from_image = tuple(dict.fromkeys([*from_image, *scan.cameo_ids]))
        from_source = tuple(json.loads(source.cameo_ids)) if source is not None else ()
        merged = tuple(dict.fromkeys([*named, *from_image, *from_source]))
        if len(merged) > MAX_CAMEOS:
            raise InvalidArgument(
                f"at most {MAX_CAMEOS} cameos per video; with the people in the input image and the source clip "
                f"this one would have {len(merged)}",
                "too_many_cameos",
            )
        return RequestCameos(merged, frozenset(from_image) - set(named), frozenset(from_source) - set(named))
