"""Checks on a create request, before anything is moderated, queued or charged.
Each refusal is an InvalidArgument with a stable code and a sentence."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from kinora import videospec
from kinora.models.contract import MAX_CAMEOS, MAX_PROMPT_CHARS, MAX_SOURCE_SECONDS
from kinora.runtime.errors import InvalidArgument
from services.generator.settings import ModelRoute

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 4096 * 4096  # ~64 MB decoded as RGBA; outputs are at most 1920x1080
MIN_IMAGE_SIDE = 16
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MAX_IDEMPOTENCY_KEY = 255
MAX_SEED = 2**32 - 1


@dataclass
class CreateRequest:
    user_id: str
    user_handle: str = ""
    prompt: str = ""
    idempotency_key: str = ""
    input_image: bytes = b""
    cameo_ids: list[str] = field(default_factory=list)
    seconds: int = 0
    size: str = ""
    model: str = ""
    seed: int | None = None
    remix_of: str = ""
    extend_of: str = ""
    quote_id: str = ""
    stitch_of: list[str] = field(default_factory=list)  # a stitch (services/generator/stitching.py)
    crossfade_seconds: float = 0.0
    shots: list[ShotInput] = field(default_factory=list)  # a storyboard
    edit_of: str = ""


@dataclass
class ShotInput:
    prompt: str = ""
    seconds: int = 0
    image: bytes = b""
    camera: str = ""


@dataclass(frozen=True)
class ValidShot:
    prompt: str
    seconds: int
    camera: str
    start: int  # seconds into the clip
    image: bytes  # empty when none
    image_type: str


@dataclass(frozen=True)
class ValidSpec:
    prompt: str
    route: ModelRoute
    seconds: int
    width: int
    height: int
    seed: int
    cameo_ids: tuple[str, ...]
    image: bytes  # empty when none
    image_type: str
    remix_of: str
    extend_of: str
    edit_of: str = ""
    shots: tuple[ValidShot, ...] = ()
    # What the model makes and the price counts (an extension: its new part); `seconds` is the clip's.
    model_seconds: int = 0

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def source_id(self) -> str:
        return self.remix_of or self.extend_of or self.edit_of

    @property
    def kind(self) -> str:
        return kind_of(self.remix_of, self.extend_of, self.edit_of, bool(self.shots), False)

    @property
    def billed_seconds(self) -> int:
        return self.model_seconds or self.seconds

    def texts(self) -> tuple[str, ...]:
        """The prompt and every shot's prompt: what moderation and cameo restrictions read."""
        return (self.prompt, *(shot.prompt for shot in self.shots))


def kind_of(remix_of: str, extend_of: str, edit_of: str, storyboard: bool, stitch: bool) -> str:
    """Generation.kind: clip | remix | storyboard | extension | edit | stitch."""
    if stitch:
        return "stitch"
    if storyboard:
        return "storyboard"
    return "extension" if extend_of else "edit" if edit_of else "remix" if remix_of else "clip"


def check_image(data: bytes) -> str:
    """Decode the image fully; return its content type."""
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidArgument(f"the input image is {len(data) / 1e6:.1f} MB; the limit is 10 MB", "image_too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                if kind not in IMAGE_FORMATS:
                    raise InvalidArgument(
                        f"the input image is {kind or 'an unknown format'}; use PNG, JPEG or WebP",
                        "unsupported_image_type",
                    )
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:  # checked before decoding: bounds memory
                    raise InvalidArgument(
                        f"the input image is {width}x{height}; at most "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted",
                        "invalid_image_dimensions",
                    )
                if not (MIN_IMAGE_SIDE <= width <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE):
                    raise InvalidArgument(
                        f"the input image is {width}x{height}; each side must be "
                        f"{MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} pixels",
                        "invalid_image_dimensions",
                    )
                image.load()  # a truncated or corrupt body fails here, not in the worker
    except InvalidArgument:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidArgument("the input image has too many pixels", "invalid_image_dimensions") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad data
        raise InvalidArgument(
            "the input image could not be decoded; send a valid PNG, JPEG or WebP file", "invalid_image"
        ) from None
    return IMAGE_FORMATS[kind]


def validate(request: CreateRequest, routes: dict[str, ModelRoute]) -> ValidSpec:
    """Everything that can be checked without reading another generation. An extension's or
    an edit's length, size and model are its source's: `fit_source` completes its spec."""
    prompt = (request.prompt or "").strip()
    if not prompt:
        raise InvalidArgument(
            "a prompt is required: describe the video you want"
            + (" (an edit's prompt says what to change)" if request.edit_of else ""),
            "prompt_required",
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidArgument(
            f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}", "prompt_too_long"
        )
    if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument(
            f"the idempotency key is longer than {MAX_IDEMPOTENCY_KEY} characters", "invalid_idempotency_key"
        )
    sources = [
        name
        for name, value in (
            ("remix_of", request.remix_of),
            ("extend_of", request.extend_of),
            ("edit_of", request.edit_of),
        )
        if value.strip()
    ]
    if len(sources) > 1:
        raise InvalidArgument(
            f"set one of remix_of, extend_of and edit_of, not {' and '.join(sources)}", "remix_and_extend"
        )
    if request.shots and (sources or request.input_image):
        given = [*sources, *(["input_image"] if request.input_image else [])]
        raise InvalidArgument(
            f"a storyboard takes no {', '.join(given)}: give each shot its own image", "storyboard_exclusive"
        )
    if request.edit_of and request.input_image:
        raise InvalidArgument("an edit takes no input_image: it changes its source clip", "edit_exclusive")

    from_source = bool(request.extend_of.strip() or request.edit_of.strip())
    try:  # model, length and size: the same rules as the gateway's and billing's (kinora/videospec.py)
        # An extension's or an edit's size is compared with its source's (fit_source), not checked here.
        spec = videospec.validate(
            request.model,
            request.seconds,
            "" if from_source else request.size,
            models={name: route.quality for name, route in routes.items()},
            any_seconds=bool(request.shots) or from_source,
        )
        shots = (
            videospec.storyboard(
                [(s.prompt, s.seconds, s.camera) for s in request.shots], spec.quality, request.seconds
            )
            if request.shots
            else []
        )
        extension = (
            videospec.extension_seconds(request.seconds or videospec.DEFAULT_SECONDS)
            if request.extend_of.strip()
            else 0
        )
    except videospec.SpecError as err:
        raise InvalidArgument(err.message, err.code) from None
    route = routes[spec.model]
    seconds = sum(s.seconds for s in shots) if shots else spec.seconds

    cameos = [c.strip() for c in request.cameo_ids]
    if len(cameos) > MAX_CAMEOS:
        raise InvalidArgument(f"at most {MAX_CAMEOS} cameos per video; got {len(cameos)}", "too_many_cameos")
    if any(not c for c in cameos) or len(set(cameos)) != len(cameos):
        raise InvalidArgument("cameo ids must be non-empty and different from each other", "invalid_cameo")

    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidArgument(f"seed must be between 0 and {MAX_SEED}", "invalid_seed")
    seed = request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1)

    image_type = check_image(request.input_image) if request.input_image else ""
    valid_shots = []
    for number, (shot, given) in enumerate(zip(shots, request.shots, strict=True), 1):
        try:
            shot_type = check_image(given.image) if given.image else ""
        except InvalidArgument as err:
            raise InvalidArgument(f"shot {number}: {err.message}", err.code) from None
        valid_shots.append(ValidShot(shot.prompt, shot.seconds, shot.camera, shot.start, given.image, shot_type))
    return ValidSpec(
        prompt,
        route,
        seconds,
        spec.width,
        spec.height,
        seed,
        tuple(cameos),
        request.input_image,
        image_type,
        request.remix_of.strip(),
        request.extend_of.strip(),
        request.edit_of.strip(),
        tuple(valid_shots),
        extension,
    )


def fit_source(request: CreateRequest, spec: ValidSpec, source: Any, routes: dict[str, ModelRoute]) -> ValidSpec:
    """An extension or an edit made from `source` (its generation row): the source's size and
    model (a request that names others is refused), an edit the source's length (at most
    MAX_SOURCE_SECONDS), an extension the source's length plus its new part."""
    if not (spec.extend_of or spec.edit_of):
        return spec
    what, code = ("an extension", "extend_source_invalid") if spec.extend_of else ("an edit", "edit_source_invalid")
    size = f"{source.width}x{source.height}"
    if request.size.strip() and request.size.strip().lower() != size:
        raise InvalidArgument(f"{what} keeps its source's size ({size}); leave size unset", "invalid_size")
    model = videospec.canonical_model(request.model)
    if model and model != source.model:
        raise InvalidArgument(
            f"{what} is made by its source's model ({source.model}); leave model unset", "invalid_model"
        )
    route = routes.get(source.model)
    if route is None:
        raise InvalidArgument(f"{what} of {source.id} needs the {source.model} model, which is no longer served", code)
    if json.loads(source.stitch_of):
        raise InvalidArgument(f"{what} can't be made from a stitch; use one of the clips it joins", code)
    if spec.edit_of:
        if request.seconds and request.seconds != source.seconds:
            raise InvalidArgument(
                f"an edit keeps its source's length ({source.seconds} s); leave seconds unset", "invalid_seconds"
            )
        if source.seconds > MAX_SOURCE_SECONDS:
            raise InvalidArgument(
                f"{source.id} runs {source.seconds} s; an edit takes a clip of at most {MAX_SOURCE_SECONDS} s",
                "edit_source_too_long",
            )
        return replace(spec, route=route, width=source.width, height=source.height, seconds=source.seconds)
    return replace(
        spec, route=route, width=source.width, height=source.height, seconds=source.seconds + spec.model_seconds
    )


def request_fingerprint(request: CreateRequest) -> str:
    """What a retry must repeat for its idempotency key to be honoured (the seed
    counts only when given, since an unset seed is chosen by the server)."""
    parts = [
        request.prompt.strip(),
        request.model.strip(),
        str(request.seconds),
        request.size.strip(),
        ",".join(request.cameo_ids),
        "" if request.seed is None else str(request.seed),
        request.remix_of,
        request.extend_of,
        hashlib.sha256(request.input_image).hexdigest(),
    ]
    if request.stitch_of:  # only then, so the fingerprints of other requests are unchanged
        parts += [",".join(request.stitch_of), repr(float(request.crossfade_seconds))]
    if request.shots or request.edit_of:  # likewise
        parts += [request.edit_of] + [
            f"{s.prompt.strip()}|{s.seconds}|{s.camera.strip()}|{hashlib.sha256(s.image).hexdigest()}"
            for s in request.shots
        ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
