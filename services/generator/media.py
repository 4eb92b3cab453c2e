"""What the worker does with a model's MP4: check it, sign it, make stills, store it.

The clip is decoded once (`decode_clip`): one pass reads its stream facts,
hands every sampled frame to the perceptual fingerprint and keeps the
keyframes for the spritesheet (and for the likeness scan, when it runs). The
thumbnail is the one the model returned with the clip; only when it has none
is it made from a keyframe."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import av
import numpy as np
from PIL import Image

from kinora.generator.v1 import generator_pb2 as pb
from kinora.media import fingerprint, thumbs
from kinora.media.c2pa_sign import ProvenanceSigner
from services.generator.blobs import BlobStore


class BadModelOutput(Exception):
    pass


@dataclass
class StoredMedia:
    records: list[dict]
    frame_hashes: list[int] = field(default_factory=list)  # the clip's perceptual fingerprint

    def refs(self) -> list[pb.MediaRef]:
        return [
            pb.MediaRef(
                variant=r["variant"],
                content_type=r["content_type"],
                size_bytes=r["size_bytes"],
                sha256=r["sha256"],
                width=r["width"],
                height=r["height"],
                duration_ms=r.get("duration_ms", 0),
            )
            for r in self.records
        ]


def _record(key: str, variant: int, content_type: str, data: bytes, width: int, height: int, **extra) -> dict:
    return {
        "key": key,
        "variant": variant,
        "content_type": content_type,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": width,
        "height": height,
        **extra,
    }


@dataclass
class DecodedClip:
    width: int
    height: int
    video_codec: str
    has_audio: bool
    duration_s: float
    keyframes: list[tuple[float, np.ndarray]]  # (seconds, HxWx3 uint8), up to KEYFRAMES
    frame_hashes: list[int]  # the clip's perceptual fingerprint


KEYFRAMES = 16  # the spritesheet's tiles; the likeness scan looks at the first 12


def decode_clip(mp4: bytes) -> DecodedClip:
    """Stream facts, keyframes and fingerprint of a clip in one decoding pass."""
    sampler = fingerprint.FrameSampler()
    found: list[tuple[float, np.ndarray]] = []
    try:
        with av.open(io.BytesIO(mp4)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            duration = float(container.duration / av.time_base) if container.duration else 0.0
            facts = (
                stream.codec_context.width,
                stream.codec_context.height,
                stream.codec_context.name,
                bool(container.streams.audio),
                duration,
            )
            for frame in container.decode(stream):
                t = float(frame.time or 0.0)
                if sampler.wants(t):
                    sampler.add(t, frame.to_ndarray(format="gray"))
                if frame.key_frame and len(found) < KEYFRAMES:
                    found.append((t, frame.to_ndarray(format="rgb24")))
    except Exception as exc:  # noqa: BLE001 - any decode failure means unusable output
        raise BadModelOutput(f"the model returned a video that can't be decoded: {exc}") from exc
    if not found:
        raise BadModelOutput("the model returned a video that can't be decoded: it has no decodable frames")
    return DecodedClip(*facts, keyframes=found, frame_hashes=sampler.hashes)


def _model_thumbnail(jpeg: bytes | None) -> thumbs.Still | None:
    """The model's own thumbnail, if it sent a readable JPEG (only its header is read)."""
    if not jpeg:
        return None
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.format != "JPEG":
                return None
            return thumbs.Still(jpeg, image.width, image.height)
    except Exception:  # noqa: BLE001 - not an image: make one from the clip instead
        return None


def finish_media(
    mp4: bytes,
    *,
    generation_id: str,
    attempt: int,
    model: str,
    creator_handle: str,
    expected: tuple[int, int],
    signer: ProvenanceSigner | None,
    blobs: BlobStore,
    decoded: DecodedClip | None = None,
    thumbnail_jpeg: bytes | None = None,
    ingredients: tuple[tuple[str, bytes], ...] = (),
) -> StoredMedia:
    """Check the clip (the model must deliver what was asked), add provenance,
    store it with its thumbnail (the model's, else one from a keyframe) and
    spritesheet. `decoded` is the clip's `decode_clip` when the caller already
    has it; `ingredients` (generation id, MP4) are the clips a stitch is made of,
    listed in its manifest. Keys carry the attempt so a late duplicate worker never overwrites
    the winner's files."""
    clip = decoded or decode_clip(mp4)
    if (clip.width, clip.height) != expected or clip.video_codec != "h264" or not clip.has_audio:
        raise BadModelOutput(
            f"the model returned {clip.width}x{clip.height} {clip.video_codec} "
            f"{'with' if clip.has_audio else 'without'} audio; expected {expected[0]}x{expected[1]} "
            "h264 with audio"
        )
    signed = (
        signer.sign_mp4(
            mp4, model=model, generation_id=generation_id, creator_handle=creator_handle, ingredients=ingredients
        )
        if signer
        else mp4
    )
    thumbnail = _model_thumbnail(thumbnail_jpeg) or thumbs.thumbnail(clip.keyframes)
    sheet = thumbs.spritesheet(clip.keyframes)
    prefix = f"{generation_id}/a{attempt}"
    records = [
        _record(
            f"{prefix}/video.mp4",
            pb.MEDIA_VARIANT_VIDEO,
            "video/mp4",
            signed,
            clip.width,
            clip.height,
            duration_ms=int(round(clip.duration_s * 1000)),
        ),
        _record(
            f"{prefix}/thumbnail.jpg",
            pb.MEDIA_VARIANT_THUMBNAIL,
            "image/jpeg",
            thumbnail.jpeg,
            thumbnail.width,
            thumbnail.height,
        ),
        _record(
            f"{prefix}/spritesheet.jpg",
            pb.MEDIA_VARIANT_SPRITESHEET,
            "image/jpeg",
            sheet.jpeg,
            sheet.width,
            sheet.height,
        ),
    ]
    for record, data in zip(records, (signed, thumbnail.jpeg, sheet.jpeg)):
        blobs.put(record["key"], data)
    return StoredMedia(records, clip.frame_hashes)
