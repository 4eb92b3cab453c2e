"""The LTX-2 model store: its layout, its manifest, and a validator.

A store is a diffusers `LTX2Pipeline` folder (what `save_pretrained` writes and what
the Lightricks/LTX-2 repository holds) plus a small Kinora manifest,
`kinora-ltx2.json`, saying how to run it (dtype, steps, distilled schedule,
generation scale). docs/ltx2.md describes it for operators.

`check_store` reads only configs and safetensors headers (never the weights), builds
each component on the meta device from its config, and compares names, shapes and
dtypes, so checking a 40 GB store takes seconds and needs no GPU.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "kinora-ltx2.json"
MANIFEST_FORMAT = "kinora-ltx2/1"
PIPELINE_CLASSES = ("LTX2Pipeline", "LTX2ImageToVideoPipeline")
DTYPES = ("float32", "bfloat16", "float16")
# component -> (library, class names accepted, weight file stem)
COMPONENTS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "transformer": ("diffusers", ("LTX2VideoTransformer3DModel",), "diffusion_pytorch_model"),
    "vae": ("diffusers", ("AutoencoderKLLTX2Video",), "diffusion_pytorch_model"),
    "audio_vae": ("diffusers", ("AutoencoderKLLTX2Audio",), "diffusion_pytorch_model"),
    "connectors": ("diffusers", ("LTX2TextConnectors",), "diffusion_pytorch_model"),
    "vocoder": ("diffusers", ("LTX2Vocoder", "LTX2VocoderWithBWE"), "diffusion_pytorch_model"),
    "text_encoder": ("transformers", ("Gemma3ForConditionalGeneration",), "model"),
    "tokenizer": ("transformers", ("GemmaTokenizer", "GemmaTokenizerFast"), None),
    "scheduler": ("diffusers", ("FlowMatchEulerDiscreteScheduler",), None),
}
_SAFETENSORS_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}
GUIDANCE_KEYS = (
    "guidance_scale",
    "audio_guidance_scale",
    "stg_scale",
    "audio_stg_scale",
    "modality_scale",
    "audio_modality_scale",
    "guidance_rescale",
    "audio_guidance_rescale",
)
_MANIFEST_KEYS = {
    "format",
    "variant",
    "pipeline",
    "dtype",
    "resolution_scale",
    "steps",
    "distilled",
    "negative_prompt",
    "max_sequence_length",
    "image_crf",
    "use_cross_timestep",
    "stg_blocks",
    *GUIDANCE_KEYS,
}

# What differs between the released checkpoints, applied by `variant` (manifest keys win).
# From diffusers 0.42's LTX2Pipeline documentation: LTX-2.0 computes cross-modal
# attention modulation from its own timestep (use_cross_timestep false) and takes STG at
# block 29; LTX-2.3 uses the other modality's sigma, STG at block 28, and is tuned for
# CFG 3 (video) / 7 (audio), STG 1, modality guidance 3 and rescale 0.7. LTX-2.0's
# guidance is left at the pipeline's defaults (the same values), its vocoder makes 24 kHz,
# LTX-2.3's (with bandwidth extension) 48 kHz.
VARIANTS: dict[str, dict[str, Any]] = {
    "ltx-2": {"use_cross_timestep": False, "stg_blocks": (29,)},
    "ltx-2.3": {
        "use_cross_timestep": True,
        "stg_blocks": (28,),
        "guidance": {
            "guidance_scale": 3.0,
            "audio_guidance_scale": 7.0,
            "stg_scale": 1.0,
            "audio_stg_scale": 1.0,
            "modality_scale": 3.0,
            "audio_modality_scale": 3.0,
            "guidance_rescale": 0.7,
            "audio_guidance_rescale": 0.7,
        },
    },
}


class StoreError(Exception):
    """The model store cannot be used; `problems` lists every reason found."""

    def __init__(self, folder: Path, problems: list[str]):
        self.problems = problems
        super().__init__(f"model store {folder} is not usable:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Manifest:
    """How to run the checkpoint; every field has a default fit for the full LTX-2 model."""

    dtype: str = "bfloat16"
    variant: str = "ltx-2"
    resolution_scale: float = 1.0
    steps: int = 40
    distilled: bool = False
    max_sequence_length: int = 1024
    # None: LTX-2's reference negative prompt (diffusers DEFAULT_NEGATIVE_PROMPT); "" for none.
    negative_prompt: str | None = None
    image_crf: int | None = None
    # Guidance the manifest sets itself (guidance_scale, stg_scale, ...), passed as given.
    guidance: dict[str, float] = field(default_factory=dict)
    # The variant's preset guidance (VARIANTS), used under `guidance` for the full model
    # only (the distilled checkpoint runs one pass per step, guidance off).
    preset_guidance: dict[str, float] = field(default_factory=dict)
    # None: the pipeline's default (True, LTX-2.3 behaviour) when the variant has no preset.
    use_cross_timestep: bool | None = None
    stg_blocks: tuple[int, ...] | None = None  # None: the pipeline's default, [28]


@dataclass
class CheckReport:
    folder: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # facts worth printing: sizes, dtypes, params

    @property
    def ok(self) -> bool:
        return not self.problems


def read_manifest(folder: Path) -> tuple[Manifest, list[str]]:
    """The store's manifest (defaults when absent) and the problems found in it."""
    path = folder / MANIFEST
    if not path.is_file():
        return Manifest(), []
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return Manifest(), [f"{MANIFEST} is not valid JSON: {exc}"]
    if not isinstance(raw, dict):
        return Manifest(), [f"{MANIFEST} must be a JSON object"]
    problems = [f"{MANIFEST}: unknown key {key!r}" for key in sorted(set(raw) - _MANIFEST_KEYS)]
    if raw.get("format", MANIFEST_FORMAT) != MANIFEST_FORMAT:
        problems.append(f"{MANIFEST}: format {raw.get('format')!r} is not {MANIFEST_FORMAT!r}")
    if raw.get("dtype", "bfloat16") not in DTYPES:
        problems.append(f"{MANIFEST}: dtype {raw.get('dtype')!r} must be one of {', '.join(DTYPES)}")
    checks = {
        "resolution_scale": lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
        "steps": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 200,
        "distilled": lambda v: isinstance(v, bool),
        "max_sequence_length": lambda v: isinstance(v, int) and v > 0,
        "negative_prompt": lambda v: v is None or isinstance(v, str),
        "image_crf": lambda v: v is None or isinstance(v, int) and 0 <= v <= 51,
        "use_cross_timestep": lambda v: isinstance(v, bool),
        "stg_blocks": lambda v: (
            isinstance(v, list) and all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in v)
        ),
    }
    for key, valid in checks.items():
        if key in raw and not valid(raw[key]):
            problems.append(f"{MANIFEST}: {key}={raw[key]!r} is not valid")
    guidance = {k: raw[k] for k in GUIDANCE_KEYS if k in raw}
    for key, value in guidance.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            problems.append(f"{MANIFEST}: {key}={value!r} must be a number >= 0")
    if problems:
        return Manifest(), problems
    defaults = Manifest()
    variant = str(raw.get("variant", defaults.variant))
    preset = VARIANTS.get(variant, {})
    blocks = raw.get("stg_blocks", preset.get("stg_blocks"))
    return Manifest(
        dtype=raw.get("dtype", defaults.dtype),
        variant=variant,
        use_cross_timestep=raw.get("use_cross_timestep", preset.get("use_cross_timestep")),
        stg_blocks=None if blocks is None else tuple(blocks),
        preset_guidance=dict(preset.get("guidance", {})),
        resolution_scale=float(raw.get("resolution_scale", defaults.resolution_scale)),
        steps=raw.get("steps", defaults.steps),
        distilled=raw.get("distilled", defaults.distilled),
        max_sequence_length=raw.get("max_sequence_length", defaults.max_sequence_length),
        negative_prompt=raw.get("negative_prompt", defaults.negative_prompt),
        image_crf=raw.get("image_crf"),
        guidance={k: float(v) for k, v in guidance.items()},
    ), []


def safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} read from the file header alone."""
    with open(path, "rb") as handle:
        raw_len = handle.read(8)
        if len(raw_len) != 8:
            raise ValueError("file is shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw_len)
        if length > 100_000_000:
            raise ValueError("safetensors header length is implausible")
        header = json.loads(handle.read(length))
    return {
        name: (_SAFETENSORS_DTYPES.get(info["dtype"], info["dtype"]), tuple(info["shape"]))
        for name, info in header.items()
        if name != "__metadata__"
    }


def _weight_files(folder: Path, stem: str) -> list[Path] | str:
    single = folder / f"{stem}.safetensors"
    index = folder / f"{stem}.safetensors.index.json"
    if single.is_file():
        return [single]
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            return f"{index.name} is not a valid shard index: {exc}"
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            return f"shards listed in {index.name} are missing: {', '.join(missing)}"
        return [folder / n for n in names]
    if (folder / f"{stem}.bin").is_file() or list(folder.glob("*.bin")):
        return "weights are in pickle .bin format; convert them to .safetensors (pickles can run code on load)"
    return f"no weights: expected {stem}.safetensors or {stem}.safetensors.index.json"


def _meta_model(library: str, class_name: str, folder: Path):
    """The component built from its config on the meta device (no memory, no weights)."""
    import torch

    if library == "diffusers":
        import diffusers
        from diffusers.pipelines.ltx2 import vocoder as ltx2_vocoder
        from diffusers.pipelines.ltx2.connectors import LTX2TextConnectors

        cls = (
            {"LTX2TextConnectors": LTX2TextConnectors}.get(class_name)
            or getattr(diffusers, class_name, None)
            or getattr(ltx2_vocoder, class_name)
        )
        config = cls.load_config(folder)
        with torch.device("meta"):
            return cls.from_config(config)
    import transformers

    cls = getattr(transformers, class_name)
    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    with torch.device("meta"):
        return cls(config)


def _tied_keys(model) -> set[str]:
    # Tied weights (Gemma's lm_head shares the embedding) are not saved.
    tied = getattr(model, "all_tied_weights_keys", None) or getattr(model, "_tied_weights_keys", None) or {}
    return set(tied if not isinstance(tied, dict) else tied.keys())


def _canonical(key: str) -> str:
    # transformers renames Gemma3 checkpoint keys at load time ("language_model.model.x"
    # on disk is "model.language_model.x" in memory); compare without those wrappers.
    return ".".join(part for part in key.split(".") if part not in ("model", "language_model"))


def _check_weights(name: str, model, files: list[Path], dtype: str, report: CheckReport, rename: bool) -> None:
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for path in files:
        try:
            found.update(safetensors_header(path))
        except (OSError, ValueError) as exc:
            report.problems.append(f"{name}: {path.name} is not a readable safetensors file ({exc})")
            return
    key = _canonical if rename else (lambda k: k)
    found = {key(k): v for k, v in found.items()}
    expected = {key(k): tuple(value.shape) for k, value in model.state_dict().items()}
    missing = sorted(set(expected) - set(found) - {key(k) for k in _tied_keys(model)})
    unexpected = sorted(set(found) - set(expected))
    if missing:
        report.problems.append(
            f"{name}: {len(missing)} tensors missing from the weights, e.g. {', '.join(missing[:3])}"
        )
    if unexpected:
        report.problems.append(
            f"{name}: {len(unexpected)} tensors the config does not define, e.g. {', '.join(unexpected[:3])}"
        )
    wrong = [(k, found[k][1], shape) for k, shape in expected.items() if k in found and found[k][1] != shape]
    for key, got, want in wrong[:5]:
        report.problems.append(f"{name}: tensor {key} has shape {list(got)}, the config needs {list(want)}")
    if len(wrong) > 5:
        report.problems.append(f"{name}: {len(wrong) - 5} more tensors have the wrong shape")
    dtypes = sorted({found[k][0] for k in found if found[k][0] in ("float32", "bfloat16", "float16", "float64")})
    others = sorted({found[k][0] for k in found} - set(dtypes) - {"I64", "I32", "BOOL"})
    if others:
        report.problems.append(
            f"{name}: weights are stored as {'/'.join(others)}, which is not a float dtype diffusers loads"
        )
    params = sum(_numel(shape) for _, shape in found.values())
    # The manifest's dtype is the compute dtype: weights stored in another float dtype are
    # cast once at load (e.g. float32 files run as bfloat16), which is not a problem.
    cast = f", cast to {dtype} at load" if dtypes and dtypes != [dtype] else ""
    report.notes.append(f"{name}: {params / 1e6:.2f} M parameters, stored as {'/'.join(dtypes) or 'no float'}{cast}")


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def check_store(folder: str | Path, *, weights: bool = True) -> CheckReport:
    """Validate a model store; returns every problem found (never raises for bad stores)."""
    folder = Path(folder)
    report = CheckReport(folder)
    if not folder.is_dir():
        report.problems.append(f"{folder} is not a folder")
        return report
    manifest, problems = read_manifest(folder)
    report.problems += problems
    if not (folder / MANIFEST).is_file():
        report.notes.append(f"no {MANIFEST}: using defaults for the full LTX-2 model (dtype bfloat16, 40 steps)")
    index_path = folder / "model_index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        report.problems.append("model_index.json is missing (is this a diffusers pipeline folder?)")
        return report
    except (OSError, ValueError) as exc:
        report.problems.append(f"model_index.json is not valid JSON: {exc}")
        return report
    if index.get("_class_name") not in PIPELINE_CLASSES:
        report.problems.append(
            f"model_index.json names pipeline {index.get('_class_name')!r}; "
            f"expected one of {', '.join(PIPELINE_CLASSES)}"
        )
    models: dict[str, Any] = {}
    for name, (library, classes, stem) in COMPONENTS.items():
        entry = index.get(name)
        if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
            report.problems.append(f"{name}: not listed in model_index.json")
            continue
        if entry[1] not in classes:
            report.problems.append(f"{name}: class {entry[1]!r} is not supported; expected {' or '.join(classes)}")
            continue
        sub = folder / name
        if not sub.is_dir():
            report.problems.append(f"{name}: folder {name}/ is missing")
            continue
        if name == "tokenizer":
            if not ((sub / "tokenizer.json").is_file() or (sub / "tokenizer.model").is_file()):
                report.problems.append("tokenizer: neither tokenizer.json nor tokenizer.model is present")
            continue
        config_name = "scheduler_config.json" if name == "scheduler" else "config.json"
        if not (sub / config_name).is_file():
            report.problems.append(f"{name}: {name}/{config_name} is missing")
            continue
        if stem is None:
            continue
        files = _weight_files(sub, stem)
        if isinstance(files, str):
            report.problems.append(f"{name}: {files}")
            continue
        try:
            models[name] = _meta_model(library, entry[1], sub)
        except Exception as exc:  # a config that its class rejects
            report.problems.append(f"{name}: config.json cannot build {entry[1]}: {type(exc).__name__}: {exc}")
            continue
        if weights:
            _check_weights(name, models[name], files, manifest.dtype, report, rename=library == "transformers")
    _check_consistency(models, report, None if problems else manifest)
    return report


def _check_consistency(models: dict[str, Any], report: CheckReport, manifest: Manifest | None = None) -> None:
    """Components must fit each other; a mixed-up store otherwise fails deep inside a run."""
    parts = ("transformer", "text_encoder", "connectors", "vae", "audio_vae", "vocoder")
    t, te, con, vae, avae, voc = (models.get(k) for k in parts)

    def expect(ok: bool, message: str) -> None:
        if not ok:
            report.problems.append(message)

    if te is not None:
        text = te.config.get_text_config()
        if con is not None:
            expect(
                con.config.caption_channels == text.hidden_size,
                f"connectors: caption_channels {con.config.caption_channels} "
                f"!= text encoder hidden size {text.hidden_size}",
            )
            expect(
                con.config.text_proj_in_factor == text.num_hidden_layers + 1,
                f"connectors: text_proj_in_factor {con.config.text_proj_in_factor} "
                f"!= text encoder layers + 1 ({text.num_hidden_layers + 1})",
            )
    if t is not None and manifest is not None:
        blocks = manifest.stg_blocks or (28,)  # the pipeline's default
        expect(
            max(blocks) < t.config.num_layers,
            f"kinora-ltx2.json: stg_blocks {list(blocks)} (variant {manifest.variant!r}) "
            "name a block the transformer's "
            f"{t.config.num_layers} layers do not have",
        )
    if t is not None and vae is not None:
        want = vae.config.latent_channels * t.config.patch_size**2 * t.config.patch_size_t
        expect(
            t.config.in_channels == want,
            f"transformer: in_channels {t.config.in_channels} does not fit the video VAE latents ({want})",
        )
    if t is not None and avae is not None:
        want = avae.config.latent_channels * (avae.config.mel_bins // avae.mel_compression_ratio)
        expect(
            t.config.audio_in_channels == want,
            f"transformer: audio_in_channels {t.config.audio_in_channels} does not fit the audio VAE latents ({want})",
        )
    if voc is not None and avae is not None:
        want = avae.config.output_channels * avae.config.mel_bins
        expect(
            voc.config.in_channels == want,
            f"vocoder: in_channels {voc.config.in_channels} != audio VAE mel output ({want})",
        )


def require_usable(folder: str | Path) -> Manifest:
    """The manifest of a store that passes `check_store`; raises StoreError otherwise."""
    report = check_store(folder)
    if not report.ok:
        raise StoreError(Path(folder), report.problems)
    return read_manifest(Path(folder))[0]
