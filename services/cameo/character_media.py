"""A character's upload: an image or a short video of an animal, an object or a drawing.

`read_character_media` decodes it (the bytes decide what it is, never its name or declared
type), searches every sampled frame for a human face with the face module
(kinora/ml/faces.py, the detector verification and the likeness guard use) and returns the
reference images the model is given. A face anywhere refuses the upload: people join as
cameos, through the liveness check, and a character must not become a way around it.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from PIL import Image, ImageOps

from kinora.ml import faces
from kinora.runtime.errors import InvalidArgument

MAX_BYTES = 30 * 1024 * 1024
MAX_DURATION_S = 20.0
MAX_DECODED_FRAMES = int(60 * (MAX_DURATION_S + 1))  # decoding stops there, whatever the header says
MIN_SIDE_PX, MAX_SIDE_PX = 64, 4096
SAMPLED_FRAMES = 8  # a video's frames searched for faces, spread over its length
REFERENCE_FRAMES = (0, SAMPLED_FRAMES // 2, SAMPLED_FRAMES - 1)  # of those, the ones kept as references
REFERENCE_SIDE_PX = 512  # references are scaled down to this longest side
IMAGE_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP"}
VIDEO_DEMUXERS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "WebM"}

Frame = np.ndarray[Any, np.dtype[np.uint8]]  # RGB, (height, width, 3)
HUMAN_FACE = "this looks like a person; people join as cameos with a liveness check"


@dataclass(frozen=True)
class ReferenceImage:
    png: bytes
    sha256: str


@dataclass(frozen=True)
class CharacterMedia:
    kind: str  # "image" | "video"
    references: list[ReferenceImage]
    frames_searched: int


def _refuse(message: str, code: str = "invalid_character_media") -> InvalidArgument:
    return InvalidArgument(message, code)


def _is_video(data: bytes) -> bool:
    head = data[:64]
    return head[4:8] == b"ftyp" or head[:4] == b"\x1aE\xdf\xa3"  # MP4/MOV, Matroska/WebM


def _check_size(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE_PX:
        raise _refuse(f"the picture is {width}x{height}; it must be at least {MIN_SIDE_PX} pixels on each side")
    if max(width, height) > MAX_SIDE_PX:
        raise _refuse(f"the picture is {width}x{height}; it may be at most {MAX_SIDE_PX} pixels on a side")


def _image_frames(data: bytes) -> list[Frame]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in IMAGE_FORMATS:
                    raise _refuse("send a PNG, JPEG or WebP image, or an MP4, MOV or WebM video")
                _check_size(*image.size)
                image.load()
                upright = ImageOps.exif_transpose(image)
                return [np.asarray(upright.convert("RGB"))]
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse("the file is not an image or a video we can read (PNG, JPEG, WebP, MP4, MOV, WebM)") from None


def _video_frames(data: bytes) -> list[Frame]:
    """SAMPLED_FRAMES frames spread evenly over the video (fewer if it has fewer)."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError):
        raise _refuse("the video file is damaged and could not be read") from None
    with container:
        if container.format.name not in VIDEO_DEMUXERS or not container.streams.video:
            raise _refuse("send an MP4, MOV or WebM video with a picture in it")
        stream = container.streams.video[0]
        _check_size(stream.codec_context.width, stream.codec_context.height)
        duration = (container.duration or 0) / av.time_base
        if not duration and stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        if duration > MAX_DURATION_S:
            raise _refuse(
                f"the video is {duration:.0f} s long; a character's video may be at most {MAX_DURATION_S:.0f} s"
            )
        targets = [duration * (i + 0.5) / SAMPLED_FRAMES for i in range(SAMPLED_FRAMES)] if duration else [0.0]
        picked: list[Frame] = []
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if decoded > MAX_DECODED_FRAMES:
                    raise _refuse(f"the video has more than {MAX_DECODED_FRAMES} frames; send a shorter one")
                at = float(frame.time) if frame.time is not None else 0.0
                if len(picked) < len(targets) and at >= targets[len(picked)] - 1e-6:
                    picked.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
                    while len(picked) < len(targets) and at >= targets[len(picked)]:
                        picked.append(picked[-1])  # a long frame covers several targets
        except av.FFmpegError:
            raise _refuse("the video file is damaged and could not be read") from None
        if not picked:
            raise _refuse("the video has no frames we could read")
        return picked


def _reference(rgb: Frame) -> ReferenceImage:
    image = Image.fromarray(rgb)
    image.thumbnail((REFERENCE_SIDE_PX, REFERENCE_SIDE_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    png = out.getvalue()
    return ReferenceImage(png, hashlib.sha256(png).hexdigest())


def read_character_media(data: bytes) -> CharacterMedia:
    """The upload's reference images, after every sampled frame was searched for a human face.
    Raises InvalidArgument: `human_face_in_character` for a face, `invalid_character_media`
    for anything not a readable image or short video."""
    if not data:
        raise _refuse("attach an image or a short video of the character", "missing_character_media")
    if len(data) > MAX_BYTES:
        raise _refuse(f"the file is {len(data) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
    video = _is_video(data)
    frames = _video_frames(data) if video else _image_frames(data)
    for rgb in {id(f): f for f in frames}.values():  # a long frame may stand for several samples
        if faces.find_faces(rgb):
            raise InvalidArgument(HUMAN_FACE, "human_face_in_character")
    keep = sorted({min(i, len(frames) - 1) for i in REFERENCE_FRAMES}) if video else [0]
    return CharacterMedia("video" if video else "image", [_reference(frames[i]) for i in keep], len(frames))
