"""Checks on a create request, before anything is moderated, queued or charged.
Each refusal is an InvalidArgument with a stable code and a sentence."""

from __future__ import annotations

import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass, field

from PIL import Image

from kinora import videospec
from kinora.models.contract import MAX_CAMEOS, MAX_PROMPT_CHARS
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

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


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
                    raise InvalidArgument(f"the input image is {kind or 'an unknown format'}; use PNG, JPEG or WebP",
                                          "unsupported_image_type")
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:  # checked before decoding: bounds memory
                    raise InvalidArgument(f"the input image is {width}x{height}; at most "
                                          f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels are accepted",
                                          "invalid_image_dimensions")
                if not (MIN_IMAGE_SIDE <= width <= MAX_IMAGE_SIDE and MIN_IMAGE_SIDE <= height <= MAX_IMAGE_SIDE):
                    raise InvalidArgument(f"the input image is {width}x{height}; each side must be "
                                          f"{MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE} pixels", "invalid_image_dimensions")
                image.load()  # a truncated or corrupt body fails here, not in the worker
    except InvalidArgument:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidArgument("the input image has too many pixels", "invalid_image_dimensions") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for bad data
        raise InvalidArgument("the input image could not be decoded; send a valid PNG, JPEG or WebP file",
                              "invalid_image") from None
    return IMAGE_FORMATS[kind]


def validate(request: CreateRequest, routes: dict[str, ModelRoute]) -> ValidSpec:
    prompt = (request.prompt or "").strip()
    if not prompt:
        raise InvalidArgument("a prompt is required: describe the video you want", "prompt_required")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidArgument(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}",
                              "prompt_too_long")
    if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument(f"the idempotency key is longer than {MAX_IDEMPOTENCY_KEY} characters",
                              "invalid_idempotency_key")

    try:  # model, length and size: the same rules as the gateway's and billing's (kinora/videospec.py)
        spec = videospec.validate(request.model, request.seconds, request.size,
                                  models={name: route.quality for name, route in routes.items()})
    except videospec.SpecError as err:
        raise InvalidArgument(err.message, err.code) from None
    route = routes[spec.model]

    cameos = [c.strip() for c in request.cameo_ids]
    if len(cameos) > MAX_CAMEOS:
        raise InvalidArgument(f"at most {MAX_CAMEOS} cameos per video; got {len(cameos)}", "too_many_cameos")
    if any(not c for c in cameos) or len(set(cameos)) != len(cameos):
        raise InvalidArgument("cameo ids must be non-empty and different from each other", "invalid_cameo")

    if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
        raise InvalidArgument(f"seed must be between 0 and {MAX_SEED}", "invalid_seed")
    seed = request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1)

    if request.remix_of and request.extend_of:
        raise InvalidArgument("set remix_of or extend_of, not both", "remix_and_extend")

    image_type = check_image(request.input_image) if request.input_image else ""
    return ValidSpec(prompt, route, spec.seconds, spec.width, spec.height, seed, tuple(cameos), request.input_image,
                     image_type, request.remix_of.strip(), request.extend_of.strip())


def request_fingerprint(request: CreateRequest) -> str:
    """What a retry must repeat for its idempotency key to be honoured (the seed
    counts only when given, since an unset seed is chosen by the server)."""
    parts = [request.prompt.strip(), request.model.strip(), str(request.seconds), request.size.strip(),
             ",".join(request.cameo_ids), "" if request.seed is None else str(request.seed),
             request.remix_of, request.extend_of, hashlib.sha256(request.input_image).hexdigest()]
    if request.stitch_of:  # only then, so the fingerprints of other requests are unchanged
        parts += [",".join(request.stitch_of), repr(float(request.crossfade_seconds))]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
