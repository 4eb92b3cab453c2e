"""What a video may be: model names (and their Sora aliases), sizes and lengths.

One table for every place that reads a create request or a quote (the
gateway, the generator, billing), so a model, size or length is accepted or
refused the same way, with the same code and sentence, wherever it is checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kinora.models.contract import (
    ALLOWED_SECONDS,
    CAMERA_MOVES,
    MAX_PROMPT_CHARS,
    MAX_SHOT_SECONDS,
    MAX_SHOTS,
    MAX_SOURCE_SECONDS,
    MIN_SHOT_SECONDS,
    PRO_ONLY_SIZES,
    QUALITIES,
    STANDARD_SIZES,
    STORYBOARD_MAX_SECONDS,
)

MODEL_ALIASES = {"sora-2": "standard", "sora-2-pro": "pro"}  # the OpenAI SDK's names for Kinora's models
SORA_NAMES = {model: alias for alias, model in MODEL_ALIASES.items()}
MODELS = {quality: quality for quality in QUALITIES}  # model name -> quality, when nothing is configured
DEFAULT_MODEL = "standard"
DEFAULT_SECONDS = 10
DEFAULT_SIZE = "720x1280"
MAX_SECONDS = max(ALLOWED_SECONDS)
# An extension's new part: any length a single clip may have (4 to 20 s).
EXTENSION_SECONDS = ALLOWED_SECONDS
# The most seconds one request is priced for: a pro storyboard, or an edit of the longest
# clip an edit takes (a storyboard's or an extension's result).
MAX_BILLED_SECONDS = max(MAX_SOURCE_SECONDS, *STORYBOARD_MAX_SECONDS.values())

__all__ = [
    "ALLOWED_SECONDS",
    "CAMERA_MOVES",
    "DEFAULT_MODEL",
    "DEFAULT_SECONDS",
    "DEFAULT_SIZE",
    "EXTENSION_SECONDS",
    "MAX_BILLED_SECONDS",
    "MAX_SECONDS",
    "MAX_SHOTS",
    "MAX_SOURCE_SECONDS",
    "MODELS",
    "MODEL_ALIASES",
    "PRO_ONLY_SIZES",
    "SORA_NAMES",
    "STANDARD_SIZES",
    "STORYBOARD_MAX_SECONDS",
    "ShotSpec",
    "SpecError",
    "VideoSpec",
    "billed_seconds",
    "canonical_model",
    "extension_seconds",
    "sizes_for",
    "storyboard",
    "validate",
]


class SpecError(ValueError):
    """A refused model, size or length: a stable `code` and a sentence saying what is allowed."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class VideoSpec:
    model: str  # the canonical name (aliases resolved)
    quality: str  # "standard" or "pro"
    seconds: int
    width: int
    height: int

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def canonical_model(name: str) -> str:
    """`sora-2` -> `standard`, `sora-2-pro` -> `pro`; any other name as given (trimmed)."""
    name = (name or "").strip()
    return MODEL_ALIASES.get(name, name)


def sizes_for(quality: str) -> list[tuple[int, int]]:
    return list(STANDARD_SIZES) + (list(PRO_ONLY_SIZES) if quality == "pro" else [])


def validate(
    model: str = "",
    seconds: int = 0,
    size: str = "",
    *,
    models: Mapping[str, str] | None = None,
    any_seconds: bool = False,
) -> VideoSpec:
    """The spec a request asks for, with defaults for what it leaves empty; raises SpecError.

    `models` maps each servable model name to its quality (the generator's configured
    routes); by default the built-in `standard` and `pro`. `any_seconds`: the length was
    checked by another rule (a storyboard's shots, an edit's source) and is kept as given."""
    models = MODELS if models is None else models
    name = canonical_model(model) or DEFAULT_MODEL
    quality = models.get(name)
    if quality is None:
        raise SpecError(f"unknown model {model!r}; use one of {', '.join(sorted(models))}", "invalid_model")

    seconds = seconds or DEFAULT_SECONDS
    if not any_seconds and seconds not in ALLOWED_SECONDS:
        raise SpecError(
            f"seconds must be one of {', '.join(map(str, ALLOWED_SECONDS))}; got {seconds}", "invalid_seconds"
        )

    size = (size or "").strip() or DEFAULT_SIZE
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise SpecError(f"size must look like 720x1280; got {size!r}", "invalid_size")
    dims = (int(width), int(height))
    if dims not in sizes_for(quality):
        if dims in PRO_ONLY_SIZES:
            raise SpecError(f"size {size} needs the pro model", "size_requires_pro")
        allowed = ", ".join(f"{w}x{h}" for w, h in sizes_for(quality))
        raise SpecError(f"size {size} is not available for {name}; use one of {allowed}", "invalid_size")
    return VideoSpec(name, quality, seconds, dims[0], dims[1])


@dataclass(frozen=True)
class ShotSpec:
    """One checked shot of a storyboard."""

    prompt: str
    seconds: int
    camera: str
    start: int  # where it starts in the clip, in seconds


def storyboard(shots: Sequence[tuple[str, int, str]], quality: str, seconds: int = 0) -> list[ShotSpec]:
    """Check a storyboard's shots, given as (prompt, seconds, camera), for a model of
    `quality`; `seconds` is the request's own length (0, or the shots' total).
    Raises SpecError: `invalid_shots` (count, prompt, a shot's length, a wrong total),
    `invalid_camera`, `storyboard_too_long`."""
    if not 1 <= len(shots) <= MAX_SHOTS:
        raise SpecError(f"a storyboard has 1 to {MAX_SHOTS} shots; got {len(shots)}", "invalid_shots")
    checked, start = [], 0
    for number, (prompt, length, camera) in enumerate(shots, 1):
        prompt = (prompt or "").strip()
        if not prompt:
            raise SpecError(f"shot {number} needs a prompt: describe what happens in it", "invalid_shots")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise SpecError(
                f"shot {number}'s prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}", "invalid_shots"
            )
        if not MIN_SHOT_SECONDS <= length <= MAX_SHOT_SECONDS:
            raise SpecError(
                f"shot {number} lasts {length} s; a shot lasts {MIN_SHOT_SECONDS} to {MAX_SHOT_SECONDS} whole seconds",
                "invalid_shots",
            )
        camera = (camera or "").strip()
        if camera not in CAMERA_MOVES:
            raise SpecError(
                f"shot {number}'s camera {camera!r} is not one of "
                f"{', '.join(c for c in CAMERA_MOVES if c)} (or empty: the model chooses)",
                "invalid_camera",
            )
        checked.append(ShotSpec(prompt, length, camera, start))
        start += length
    if seconds and seconds != start:
        raise SpecError(f"seconds ({seconds}) must be the shots' total ({start}) or left unset", "invalid_shots")
    limit = STORYBOARD_MAX_SECONDS.get(quality, STORYBOARD_MAX_SECONDS["standard"])
    if start > limit:
        longest = max(STORYBOARD_MAX_SECONDS.values())
        hint = f" (pro storyboards run up to {longest} s)" if quality != "pro" and start <= longest else ""
        raise SpecError(
            f"this storyboard runs {start} s; a {quality} storyboard runs at most {limit} s{hint}",
            "storyboard_too_long",
        )
    return checked


def extension_seconds(seconds: int) -> int:
    """The length of an extension's new part; raises SpecError `invalid_seconds`."""
    if seconds not in EXTENSION_SECONDS:
        raise SpecError(
            f"an extension adds {', '.join(map(str, EXTENSION_SECONDS))} seconds; got {seconds}", "invalid_seconds"
        )
    return seconds


def billed_seconds(seconds: int) -> int:
    """The seconds a quote or a reservation may price: a clip, a storyboard's total, an
    extension's new part or an edit's source length (billing's rule, kept here with the
    others). Raises SpecError `invalid_seconds`."""
    if not 0 < seconds <= MAX_BILLED_SECONDS:
        raise SpecError(f"seconds must be 1 to {MAX_BILLED_SECONDS}; got {seconds}", "invalid_seconds")
    return seconds
