"""ltx2_settings: the operator settings of the LTX-2 model (kinora.models.ltx2) and the
device they resolve to."""

from __future__ import annotations

from dataclasses import dataclass

from kinora.runtime.settings import boolean, setting

OFFLOAD_MODES = ("none", "text_encoder", "model", "sequential")


def _dtype_name(raw: str) -> str:
    value = raw.strip().lower()
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}
    value = aliases.get(value, value)
    if value not in ("bfloat16", "float16", "float32"):
        raise ValueError("expected bfloat16, float16 or float32")
    return value


def _offload(raw: str) -> str:
    value = raw.strip().lower()
    aliases = {"true": "model", "1": "model", "yes": "model", "false": "none", "0": "none", "no": "none"}
    value = aliases.get(value, value)
    if value not in OFFLOAD_MODES:
        raise ValueError("expected none, text_encoder, model or sequential")
    return value


def _steps(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 200:
        raise ValueError("expected a number of steps between 1 and 200")
    return value


def _device(raw: str) -> str:
    value = raw.strip().lower()
    if value != "cpu" and not value.startswith("cuda"):
        raise ValueError("expected cpu, cuda or cuda:N")
    return value


def _scale(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 1:
        raise ValueError("expected a number in (0, 1]")
    return value


@dataclass(frozen=True)
class Ltx2Settings:
    """Operator settings; unset ones fall back to the store's manifest, then to defaults."""

    store: str = setting("KINORA_MODEL_STORE", str, help="folder of the LTX-2 model store (docs/ltx2.md)")
    dtype: str | None = setting("KINORA_LTX2_DTYPE", _dtype_name, None)
    device: str | None = setting("KINORA_LTX2_DEVICE", _device, None)
    steps: int | None = setting("KINORA_LTX2_STEPS", _steps, None)
    cpu_offload: str = setting("KINORA_LTX2_CPU_OFFLOAD", _offload, "none")
    distilled: bool | None = setting("KINORA_LTX2_DISTILLED", boolean, None)
    resolution_scale: float | None = setting("KINORA_LTX2_RESOLUTION_SCALE", _scale, None)


def _resolve_device(asked: str | None) -> str:
    """The device to run on; without a visible GPU, only an explicit KINORA_LTX2_DEVICE=cpu
    runs (tests, tiny stores): the real model on a CPU would take days per clip."""
    import torch

    if asked == "cpu":
        return "cpu"
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ValueError(
            f"no CUDA device is visible{f' (KINORA_LTX2_DEVICE={asked})' if asked else ''}: LTX-2 needs a "
            "GPU. Check the GPU runtime (nvidia-smi, CUDA_VISIBLE_DEVICES, the pod's nvidia.com/gpu "
            "limit), or set KINORA_LTX2_DEVICE=cpu to run on the CPU anyway (tiny test stores only)"
        )
    if asked and ":" in asked and int(asked.split(":", 1)[1]) >= count:
        raise ValueError(f"KINORA_LTX2_DEVICE={asked} but only {count} CUDA device(s) are visible")
    return asked or "cuda"
