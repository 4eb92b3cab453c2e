"""The contract every Kinora video model implements (worldsim, ltx2, ...).

The generator's worker builds a `ModelRequest`, the model server hands it to a
`VideoModel`, and the model returns encoded media plus a JSON report. The same
request travels over Triton as JSON (`request_to_json` / `request_from_json`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

ALLOWED_SECONDS = (4, 8, 10, 12, 15, 16, 20)
# A storyboard (several shots made as one clip) may run to 15 s on standard and 25 s on pro.
STORYBOARD_MAX_SECONDS = {"standard": 15, "pro": 25}
MAX_SHOTS = 6
MIN_SHOT_SECONDS = 2
MAX_SHOT_SECONDS = 20
# Camera hints a shot may carry; "" lets the model choose.
CAMERA_MOVES = ("", "static", "pan_left", "pan_right", "push_in", "pull_out", "tilt_up", "tilt_down")
# What a request made from an existing clip does with it (remix keeps using `remix_plan`).
SOURCE_KINDS = ("extend", "edit")
# An edited clip keeps its source's length, which a storyboard or an extension may have made any
# whole number of seconds up to this.
MAX_SOURCE_SECONDS = 25
STANDARD_SIZES = ((720, 1280), (1280, 720), (1024, 1792), (1792, 1024))
PRO_ONLY_SIZES = ((1080, 1920), (1920, 1080))
QUALITIES = ("standard", "pro")
MAX_CAMEOS = 2
MAX_PROMPT_CHARS = 2000


class ModelError(Exception):
    """Base for errors a model reports back to the caller with a code."""

    code = "internal"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ModelInputError(ModelError):
    """The request cannot be served as given (bad size, unreadable image...)."""

    code = "invalid_argument"


class ModelCancelled(ModelError):
    """The caller cancelled the request while the model was working."""

    code = "cancelled"

    def __init__(self, message: str = "generation was cancelled"):
        super().__init__(message)


class ModelOutputError(ModelError):
    """The model made no usable clip (NaN or infinite values in its latents or frames).
    The generation fails with `model_non_finite_output` and nothing is charged."""

    code = "non_finite_output"


class ModelOutOfMemory(ModelError):
    """The accelerator ran out of memory for this request (fails as `model_out_of_memory`)."""

    code = "out_of_memory"


@dataclass
class VoiceProfile:
    pitch_hz: float
    envelope: list[float] = field(default_factory=list)


CAMEO_KINDS = ("person", "character")  # a verified person, or a non-human character (pet, toy, drawing)


@dataclass
class Cameo:
    name: str
    # A person's face crops; a character's reference images (the animal, object or drawing).
    face_pngs: list[bytes] = field(default_factory=list)
    voice: VoiceProfile | None = None
    kind: str = "person"  # one of CAMEO_KINDS
    description: str = ""  # a character's words for itself ("a corgi", "a red plush robot")


@dataclass
class Shot:
    """One shot of a storyboard: made in turn, inside one world, cut on its boundary."""

    prompt: str
    seconds: int
    image: bytes | None = None  # optional first frame for this shot (PNG/JPEG/WebP)
    camera: str = ""  # one of CAMERA_MOVES


@dataclass
class SourceClip:
    """The finished clip an extension continues or an edit changes.

    `plan` and `state` come from the source's report (`report["plan"]`, `report["state"]`):
    worldsim's scene plan and its simulation state at the last frame, which an extension
    resumes. `video` is the source's MP4: LTX-2 conditions on its last frames (extend) or
    on all of them (edit)."""

    kind: str  # one of SOURCE_KINDS
    plan: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    video: bytes | None = None
    instruction: str = ""  # for "edit": what to change ("make it night", "add rain")


@dataclass
class ModelRequest:
    prompt: str
    seconds: int = 10
    width: int = 720
    height: int = 1280
    fps: int = 24
    seed: int = 0
    quality: str = "standard"
    watermark: str = ""
    # The invisible mark's payload (kinora/media/invisible_mark.py): the generation's
    # 48-bit watermark id, drawn into every frame; None draws no invisible mark.
    watermark_id: int | None = None
    cameos: list[Cameo] = field(default_factory=list)
    image: bytes | None = None
    remix_plan: dict[str, Any] | None = None
    # A storyboard: the clip is these shots in order (`seconds` is their sum, `prompt` a title).
    shots: list[Shot] = field(default_factory=list)
    # An extension (`seconds` is the new part only) or an edit (`seconds` is the source's length).
    source: SourceClip | None = None

    def validate(self) -> None:
        """Raise ModelInputError with a readable message when the request is unusable."""
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ModelInputError("prompt must be a non-empty text")
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise ModelInputError(f"prompt is longer than {MAX_PROMPT_CHARS} characters")
        if self.quality not in QUALITIES:
            raise ModelInputError(f"quality must be 'standard' or 'pro', got {self.quality!r}")
        if self.shots:
            self._validate_shots()
        elif self.source is not None and self.source.kind == "edit":
            if not 1 <= self.seconds <= MAX_SOURCE_SECONDS:
                raise ModelInputError(
                    f"an edit keeps its source's length, 1 to {MAX_SOURCE_SECONDS} s; got {self.seconds}"
                )
        elif self.seconds not in ALLOWED_SECONDS:
            raise ModelInputError(f"seconds must be one of {list(ALLOWED_SECONDS)}, got {self.seconds}")
        if self.source is not None:
            self._validate_source()
        size = (self.width, self.height)
        allowed = STANDARD_SIZES + (PRO_ONLY_SIZES if self.quality == "pro" else ())
        if size not in allowed:
            names = ", ".join(f"{w}x{h}" for w, h in allowed)
            raise ModelInputError(
                f"size {self.width}x{self.height} is not allowed for {self.quality}; use one of {names}"
            )
        if self.fps != 24:
            raise ModelInputError(f"fps must be 24, got {self.fps}")
        if self.watermark_id is not None and not 0 <= self.watermark_id < 2**48:
            raise ModelInputError("watermark_id must be a 48-bit unsigned integer")
        if len(self.cameos) > MAX_CAMEOS:
            raise ModelInputError(f"at most {MAX_CAMEOS} cameos per clip, got {len(self.cameos)}")
        for cameo in self.cameos:
            if not cameo.name.strip():
                raise ModelInputError("every cameo needs a name")
            if cameo.kind not in CAMEO_KINDS:
                raise ModelInputError(f"cameo {cameo.name!r} kind must be person or character, got {cameo.kind!r}")
            if cameo.voice is not None and not (40.0 <= cameo.voice.pitch_hz <= 600.0):
                raise ModelInputError(f"cameo {cameo.name!r} voice pitch must be within 40..600 Hz")

    def _validate_shots(self) -> None:
        if not 1 <= len(self.shots) <= MAX_SHOTS:
            raise ModelInputError(f"a storyboard has 1 to {MAX_SHOTS} shots, got {len(self.shots)}")
        if self.source is not None or self.remix_plan is not None or self.image is not None:
            raise ModelInputError(
                "a storyboard takes no remix, source clip or request image (give each shot its own image)"
            )
        for number, shot in enumerate(self.shots, 1):
            if not isinstance(shot.prompt, str) or not shot.prompt.strip():
                raise ModelInputError(f"shot {number} needs a prompt")
            if len(shot.prompt) > MAX_PROMPT_CHARS:
                raise ModelInputError(f"shot {number}'s prompt is longer than {MAX_PROMPT_CHARS} characters")
            if not MIN_SHOT_SECONDS <= shot.seconds <= MAX_SHOT_SECONDS:
                raise ModelInputError(
                    f"shot {number} must last {MIN_SHOT_SECONDS} to {MAX_SHOT_SECONDS} s, got {shot.seconds}"
                )
            if shot.camera not in CAMERA_MOVES:
                raise ModelInputError(
                    f"shot {number}'s camera must be one of "
                    f"{', '.join(c for c in CAMERA_MOVES if c)} (or empty), got {shot.camera!r}"
                )
        total = sum(shot.seconds for shot in self.shots)
        if total != self.seconds:
            raise ModelInputError(f"seconds ({self.seconds}) must be the shots' total ({total})")
        limit = STORYBOARD_MAX_SECONDS[self.quality]
        if total > limit:
            raise ModelInputError(f"a {self.quality} storyboard runs at most {limit} s, got {total}")

    def _validate_source(self) -> None:
        source = self.source
        assert source is not None
        if source.kind not in SOURCE_KINDS:
            raise ModelInputError(f"source kind must be one of {', '.join(SOURCE_KINDS)}, got {source.kind!r}")
        if self.remix_plan is not None or self.image is not None:
            raise ModelInputError(f"an {source.kind} takes no remix plan or request image")
        if source.plan is None and source.video is None:
            raise ModelInputError(f"an {source.kind} needs its source's plan or video")
        if source.kind == "edit" and not source.instruction.strip():
            raise ModelInputError("an edit needs an instruction (what to change)")


@dataclass
class ModelResult:
    mp4: bytes
    thumbnail_jpeg: bytes
    report: dict[str, Any]


ProgressFn = Callable[[float, str], None]  # (percent 0..100, stage name)
CancelledFn = Callable[[], bool]


class VideoModel(Protocol):
    name: str

    def generate(self, request: ModelRequest, progress: ProgressFn, cancelled: CancelledFn) -> ModelResult:
        """Make one clip. Raise ModelCancelled when `cancelled()` turns true,
        ModelInputError for a request the model cannot serve."""
        ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ModelInputError(f"{what} is not valid base64") from exc


def request_to_dict(request: ModelRequest) -> dict[str, Any]:
    return {
        "prompt": request.prompt,
        "seconds": request.seconds,
        "width": request.width,
        "height": request.height,
        "fps": request.fps,
        "seed": request.seed,
        "quality": request.quality,
        "watermark": request.watermark,
        "watermark_id": request.watermark_id,
        "cameos": [
            {
                "name": c.name,
                "face_pngs": [_b64(p) for p in c.face_pngs],
                "voice": (
                    None if c.voice is None else {"pitch_hz": c.voice.pitch_hz, "envelope": list(c.voice.envelope)}
                ),
                "kind": c.kind,
                "description": c.description,
            }
            for c in request.cameos
        ],
        "image": None if request.image is None else _b64(request.image),
        "remix_plan": request.remix_plan,
        "shots": [
            {
                "prompt": shot.prompt,
                "seconds": shot.seconds,
                "image": None if shot.image is None else _b64(shot.image),
                "camera": shot.camera,
            }
            for shot in request.shots
        ],
        "source": None
        if request.source is None
        else {
            "kind": request.source.kind,
            "plan": request.source.plan,
            "state": request.source.state,
            "video": None if request.source.video is None else _b64(request.source.video),
            "instruction": request.source.instruction,
        },
    }


def request_to_json(request: ModelRequest) -> str:
    """JSON text for the Triton `request` input; binary fields are base64."""
    return json.dumps(request_to_dict(request))


def request_from_json(text: str | bytes) -> ModelRequest:
    """Parse and type-check a request; raises ModelInputError with what is wrong."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelInputError(f"request is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelInputError("request must be a JSON object")

    def typed(key: str, kind: type | tuple, default: Any = ...) -> Any:
        if key not in data or data[key] is None:
            if default is ...:
                raise ModelInputError(f"request field {key!r} is missing")
            return default
        value = data[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ModelInputError(f"request field {key!r} has the wrong type")
        return value

    cameos = []
    for index, raw in enumerate(typed("cameos", list, [])):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise ModelInputError(f"cameo #{index + 1} needs a name")
        faces = raw.get("face_pngs") or []
        if not isinstance(faces, list) or not all(isinstance(f, str) for f in faces):
            raise ModelInputError(f"cameo {raw['name']!r} face_pngs must be a list of base64 strings")
        voice = raw.get("voice")
        profile = None
        if voice is not None:
            if not isinstance(voice, dict) or not isinstance(voice.get("pitch_hz"), (int, float)):
                raise ModelInputError(f"cameo {raw['name']!r} voice needs a numeric pitch_hz")
            envelope = voice.get("envelope") or []
            if not isinstance(envelope, list) or not all(isinstance(v, (int, float)) for v in envelope):
                raise ModelInputError(f"cameo {raw['name']!r} voice envelope must be a list of numbers")
            profile = VoiceProfile(float(voice["pitch_hz"]), [float(v) for v in envelope])
        kind, description = raw.get("kind", "person"), raw.get("description", "")
        if not isinstance(kind, str) or not isinstance(description, str):
            raise ModelInputError(f"cameo {raw['name']!r} kind and description must be text")
        cameos.append(
            Cameo(raw["name"], [_unb64(f, f"cameo {raw['name']!r} face") for f in faces], profile, kind, description)
        )

    image = typed("image", str, None)
    remix_plan = typed("remix_plan", dict, None)
    shots = [_shot_from(raw, number) for number, raw in enumerate(typed("shots", list, []), 1)]
    source = _source_from(typed("source", dict, None))
    return ModelRequest(
        prompt=typed("prompt", str),
        seconds=typed("seconds", int, 10),
        width=typed("width", int, 720),
        height=typed("height", int, 1280),
        fps=typed("fps", int, 24),
        seed=typed("seed", int, 0),
        quality=typed("quality", str, "standard"),
        watermark=typed("watermark", str, ""),
        watermark_id=typed("watermark_id", int, None),
        cameos=cameos,
        image=None if image is None else _unb64(image, "image"),
        remix_plan=remix_plan,
        shots=shots,
        source=source,
    )


def _shot_from(raw: Any, number: int) -> Shot:
    if not isinstance(raw, dict):
        raise ModelInputError(f"shot {number} must be a JSON object")
    prompt, seconds, image, camera = raw.get("prompt"), raw.get("seconds"), raw.get("image"), raw.get("camera", "")
    if not isinstance(prompt, str):
        raise ModelInputError(f"shot {number} needs a prompt")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ModelInputError(f"shot {number}'s seconds must be a whole number")
    if image is not None and not isinstance(image, str):
        raise ModelInputError(f"shot {number}'s image must be base64 text")
    if not isinstance(camera, str):
        raise ModelInputError(f"shot {number}'s camera must be text")
    return Shot(prompt, seconds, None if image is None else _unb64(image, f"shot {number}'s image"), camera)


def _source_from(raw: dict[str, Any] | None) -> SourceClip | None:
    if raw is None:
        return None
    kind, plan, state = raw.get("kind"), raw.get("plan"), raw.get("state")
    video, instruction = raw.get("video"), raw.get("instruction", "")
    if not isinstance(kind, str):
        raise ModelInputError("source needs a kind")
    if plan is not None and not isinstance(plan, dict) or state is not None and not isinstance(state, dict):
        raise ModelInputError("source plan and state must be JSON objects")
    if video is not None and not isinstance(video, str):
        raise ModelInputError("source video must be base64 text")
    if not isinstance(instruction, str):
        raise ModelInputError("source instruction must be text")
    return SourceClip(kind, plan, state, None if video is None else _unb64(video, "source video"), instruction)
