"""What the worker does with a model's MP4: check it, sign it, make stills, store it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from kinora.generator.v1 import generator_pb2 as pb
from kinora.media import fingerprint, thumbs
from kinora.media.c2pa_sign import ProvenanceSigner
from kinora.media.probe import probe_mp4
from services.generator.blobs import BlobStore


class BadModelOutput(Exception):
    pass


@dataclass
class StoredMedia:
    records: list[dict]
    frame_hashes: list[int] = field(default_factory=list)  # the clip's perceptual fingerprint

    def refs(self) -> list[pb.MediaRef]:
        return [pb.MediaRef(variant=r["variant"], content_type=r["content_type"], size_bytes=r["size_bytes"],
                            sha256=r["sha256"], width=r["width"], height=r["height"],
                            duration_ms=r.get("duration_ms", 0)) for r in self.records]


def _record(key: str, variant: int, content_type: str, data: bytes, width: int, height: int, **extra) -> dict:
    return {"key": key, "variant": variant, "content_type": content_type, "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "width": width, "height": height, **extra}


def finish_media(mp4: bytes, *, generation_id: str, attempt: int, model: str, creator_handle: str,
                 expected: tuple[int, int], signer: ProvenanceSigner | None, blobs: BlobStore) -> StoredMedia:
    """Probe the clip (the model must deliver what was asked), add provenance,
    make thumbnail and spritesheet, and store all three. Keys carry the attempt
    so a late duplicate worker never overwrites the winner's files."""
    try:
        facts = probe_mp4(mp4)
    except Exception as exc:  # noqa: BLE001 - any decode failure means unusable output
        raise BadModelOutput(f"the model returned a video that can't be decoded: {exc}") from exc
    if (facts.width, facts.height) != expected or facts.video_codec != "h264" or not facts.has_audio:
        raise BadModelOutput(f"the model returned {facts.width}x{facts.height} {facts.video_codec} "
                             f"{'with' if facts.has_audio else 'without'} audio; expected {expected[0]}x{expected[1]} "
                             "h264 with audio")
    signed = signer.sign_mp4(mp4, model=model, generation_id=generation_id,
                             creator_handle=creator_handle) if signer else mp4
    sampler = fingerprint.FrameSampler()
    thumbnail, sheet = thumbs.stills(mp4, sampler)
    prefix = f"{generation_id}/a{attempt}"
    records = [
        _record(f"{prefix}/video.mp4", pb.MEDIA_VARIANT_VIDEO, "video/mp4", signed, facts.width, facts.height,
                duration_ms=int(round(facts.duration_s * 1000))),
        _record(f"{prefix}/thumbnail.jpg", pb.MEDIA_VARIANT_THUMBNAIL, "image/jpeg", thumbnail.jpeg,
                thumbnail.width, thumbnail.height),
        _record(f"{prefix}/spritesheet.jpg", pb.MEDIA_VARIANT_SPRITESHEET, "image/jpeg", sheet.jpeg,
                sheet.width, sheet.height),
    ]
    for record, data in zip(records, (signed, thumbnail.jpeg, sheet.jpeg)):
        blobs.put(record["key"], data)
    return StoredMedia(records, sampler.hashes)
