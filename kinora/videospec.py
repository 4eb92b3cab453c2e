"""What a video may be: model names (and their Sora aliases), sizes and lengths.

One table for every place that reads a create request or a quote (the
gateway, the generator, billing), so a model, size or length is accepted or
refused the same way, with the same code and sentence, wherever it is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kinora.models.contract import ALLOWED_SECONDS, PRO_ONLY_SIZES, QUALITIES, STANDARD_SIZES

MODEL_ALIASES = {"sora-2": "standard", "sora-2-pro": "pro"}  # the OpenAI SDK's names for Kinora's models
SORA_NAMES = {model: alias for alias, model in MODEL_ALIASES.items()}
MODELS = {quality: quality for quality in QUALITIES}  # model name -> quality, when nothing is configured
DEFAULT_MODEL = "standard"
DEFAULT_SECONDS = 10
DEFAULT_SIZE = "720x1280"
MAX_SECONDS = max(ALLOWED_SECONDS)

__all__ = ["ALLOWED_SECONDS", "DEFAULT_MODEL", "DEFAULT_SECONDS", "DEFAULT_SIZE", "MAX_SECONDS", "MODELS",
           "MODEL_ALIASES", "PRO_ONLY_SIZES", "SORA_NAMES", "STANDARD_SIZES", "SpecError", "VideoSpec",
           "canonical_model", "sizes_for", "validate"]


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


def validate(model: str = "", seconds: int = 0, size: str = "", *,
             models: Mapping[str, str] | None = None) -> VideoSpec:
    """The spec a request asks for, with defaults for what it leaves empty; raises SpecError.

    `models` maps each servable model name to its quality (the generator's configured
    routes); by default the built-in `standard` and `pro`."""
    models = MODELS if models is None else models
    name = canonical_model(model) or DEFAULT_MODEL
    quality = models.get(name)
    if quality is None:
        raise SpecError(f"unknown model {model!r}; use one of {', '.join(sorted(models))}", "invalid_model")

    seconds = seconds or DEFAULT_SECONDS
    if seconds not in ALLOWED_SECONDS:
        raise SpecError(f"seconds must be one of {', '.join(map(str, ALLOWED_SECONDS))}; got {seconds}",
                        "invalid_seconds")

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
