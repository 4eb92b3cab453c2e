"""LTX-2 full-size dry run: real architecture sizes, random weights, real memory and time.

Builds, on this machine's GPU and in bf16, every LTX-2 component at the released
checkpoint's size - the ~19B audio-video transformer (48 blocks, 32x128 heads), the video
and audio VAEs, the text connectors, the vocoder, and a Gemma 3 12B text encoder from its
published config - with random weights, then serves them through Kinora's own model code
(kinora.models.ltx2.Ltx2Model: the same schedules, tiling, offload, cancel points and
encoding a real store gets) and generates 720x1280 clips of 4 s and 10 s with the
standard and the distilled schedule. It prints load time, peak GPU memory per stage,
seconds per denoising step, decode time and the total, and one JSON line per clip.

The video is noise; the memory and the time are what the real weights would take (same
shapes, same kernels). Nothing is written to disk (a bf16 store is ~68 GB); nothing is
downloaded (the tokenizer is a small word-level one padded to the real 1024 tokens).

    python scripts/ltx2_fullsize.py                          # 4 s + 10 s, standard + distilled
    python scripts/ltx2_fullsize.py --seconds 10 --standard-steps 4 --offload text_encoder

The standard schedule's 40 steps at 10 s take minutes; --standard-steps N runs N of them
(the schedule is the 40-step one cut short) and projects 40 from the measured seconds per
step, saying so. On a machine without CUDA it refuses: the figures would mean nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Gemma 3 12B (google/gemma-3-12b-it config.json): the text encoder LTX-2 ships with.
GEMMA3_12B_TEXT = {
    "hidden_size": 3840,
    "intermediate_size": 15360,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "vocab_size": 262208,
    "sliding_window": 1024,
    "max_position_embeddings": 131072,
    "rope_theta": 1000000.0,
    "query_pre_attn_scalar": 256,
}
GEMMA3_12B_VISION = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "image_size": 896,
    "patch_size": 14,
}
STAGES = ("text_encoder", "connectors", "transformer", "vae", "audio_vae", "vocoder")
GIB = 1024**3


def refuse_without_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        sys.exit(
            "ltx2_fullsize: no CUDA GPU is visible. This dry run measures GPU memory and time at the real "
            "LTX-2 sizes (~34B parameters, ~68 GB in bf16); on a CPU it would take days and measure nothing "
            "useful. Run it on a GPU node (80 GB or more), e.g. the device machine described in docs/ltx2.md."
        )


def _tiny_store_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_tiny_ltx2_store", ROOT / "scripts" / "make_tiny_ltx2_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_pipeline(device: str, variant: str, smoke: bool = False):
    """Every component at the released size, random weights, created directly in bf16 on
    `device` (`smoke`: the tiny test components instead, to check this script on a CPU)."""
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder, LTX2VocoderWithBWE
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    tiny = _tiny_store_module()
    tokenizer, vocab_size = tiny.build_tokenizer(Path("/tmp/kinora-ltx2-fullsize-tokenizer"))
    if smoke:
        components = tiny.build_components(vocab_size)
        for module in components.values():
            if isinstance(module, torch.nn.Module):
                module.to(torch.bfloat16).eval().requires_grad_(False)
        return LTX2Pipeline(tokenizer=tokenizer, **components)
    tokenizer.model_max_length = 1024
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # parameters are born bf16: no float32 copy of 34B weights
    try:
        with torch.device(device), torch.no_grad():
            # diffusers' defaults for these classes are the released LTX-2 configuration.
            components = {
                "transformer": LTX2VideoTransformer3DModel(),
                "vae": AutoencoderKLLTX2Video(),
                "audio_vae": AutoencoderKLLTX2Audio(),
                "connectors": LTX2TextConnectors(),
                "vocoder": LTX2VocoderWithBWE() if variant == "ltx-2.3" else LTX2Vocoder(),
            }
            # Gemma is initialised on the GPU (fast); the text_encoder offload mode then
            # moves it to host memory before anything is measured.
            text_config = Gemma3Config(
                text_config=GEMMA3_12B_TEXT, vision_config=GEMMA3_12B_VISION, mm_tokens_per_image=256
            )
            components["text_encoder"] = Gemma3ForConditionalGeneration(text_config)
    finally:
        torch.set_default_dtype(previous)
    for module in components.values():
        module.eval().requires_grad_(False)
    scheduler = FlowMatchEulerDiscreteScheduler(**tiny.LTX2_SCHEDULER)
    return LTX2Pipeline(tokenizer=tokenizer, scheduler=scheduler, **components)


class Meter:
    """torch.cuda's memory counters, or zeros on a CPU (the smoke run)."""

    def __init__(self, cuda: bool):
        import torch

        self.cuda = cuda and torch.cuda.is_available()
        self._torch = torch

    def synchronize(self) -> None:
        if self.cuda:
            self._torch.cuda.synchronize()

    def reset_peak_memory_stats(self) -> None:
        if self.cuda:
            self._torch.cuda.reset_peak_memory_stats()

    def max_memory_allocated(self) -> int:
        return self._torch.cuda.max_memory_allocated() if self.cuda else 0

    def memory_allocated(self) -> int:
        return self._torch.cuda.memory_allocated() if self.cuda else 0

    def empty_cache(self) -> None:
        if self.cuda:
            self._torch.cuda.empty_cache()


class StageMemory:
    """Peak GPU memory and time per pipeline stage, from forward hooks on each component."""

    def __init__(self, pipe, meter: Meter):
        self.meter = meter
        self.peaks: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._stage, self._since = None, 0.0
        for name in STAGES:
            module = getattr(pipe, name)
            # The pipeline calls vae.decode(), not forward(): hook the decoders themselves.
            module = getattr(module, "decoder", module) if name in ("vae", "audio_vae") else module
            module.register_forward_pre_hook(lambda _m, _a, name=name: self._enter(name))
        pipe.vocoder.register_forward_hook(lambda *_: self.close())  # the last stage; encoding is not the model's

    def _enter(self, name: str) -> None:
        if name == self._stage:
            return
        self.close()
        self._stage, self._since = name, time.perf_counter()
        self.meter.reset_peak_memory_stats()

    def close(self) -> None:
        if self._stage is None:
            return
        self.meter.synchronize()
        peak = self.meter.max_memory_allocated() / GIB
        self.peaks[self._stage] = round(max(self.peaks.get(self._stage, 0.0), peak), 2)
        self.seconds[self._stage] = round(self.seconds.get(self._stage, 0.0) + time.perf_counter() - self._since, 2)
        self._stage = None

    def reset(self) -> None:
        self.close()
        self.peaks, self.seconds = {}, {}


def _source_mp4(seconds: float) -> bytes:
    """A plain 720x1280 source clip (a moving gradient and a tone) for extend / edit runs."""
    import numpy as np

    from kinora.media.encode import encode_mp4

    frames = round(seconds * 24)
    yy, xx = np.mgrid[0:1280, 0:720]
    pictures = [
        np.stack([(xx // 3 + 6 * i) % 256, (yy // 5) % 256, np.full_like(xx, 180)], -1).astype(np.uint8)
        for i in range(frames)
    ]
    tone = np.sin(2 * np.pi * 440 * np.arange(round(seconds * 48000)) / 48000) * 0.3
    return encode_mp4(pictures, 720, 1280, 24, np.stack([tone, tone]).astype(np.float32))


def _request(kind: str, seconds: int):
    """The request of one measured run: a plain clip, a two-shot storyboard of the same
    length, an extension of a 1 s source, or an edit of a source of that length."""
    from kinora.models.contract import ModelRequest, Shot, SourceClip

    prompt = "a robot dancing in the rain at night"
    if kind == "storyboard":
        half = seconds // 2
        shots = [Shot(prompt, half), Shot("the robot bows to the crowd", seconds - half, camera="push_in")]
        return ModelRequest(prompt=prompt, seconds=seconds, seed=1, quality="pro", shots=shots)
    if kind == "extend":
        return ModelRequest(prompt=prompt, seconds=seconds, seed=1, source=SourceClip("extend", video=_source_mp4(1)))
    if kind == "edit":
        return ModelRequest(
            prompt=prompt,
            seconds=seconds,
            seed=1,
            source=SourceClip("edit", video=_source_mp4(seconds), instruction="make it snow"),
        )
    return ModelRequest(prompt=prompt, seconds=seconds, seed=1)


def run_clip(
    model,
    stages: StageMemory,
    meter: Meter,
    seconds: int,
    distilled: bool,
    standard_steps: int | None,
    kind: str = "clip",
) -> dict:
    request = _request(kind, seconds)
    model.distilled = distilled
    full_steps = model.steps
    cut = None if distilled or not standard_steps or standard_steps >= full_steps else standard_steps
    if kind == "edit":
        # An edit runs ceil(steps x strength) steps of its own schedule: cut through model.steps.
        full_steps = math.ceil(model.steps * model.edit_strength)
        cut = None if distilled or not standard_steps or standard_steps >= full_steps else standard_steps
    plan_fn, steps_setting = model.plan, model.steps
    if cut and kind == "edit":
        model.steps = cut
    elif cut:
        # The 40-step schedule, run for its first `cut` steps only (time per step is what counts).
        def plan_cut(req, **kwargs):
            plan = plan_fn(req, **kwargs)
            return type(plan)(**{**plan.__dict__, "steps": cut, "sigmas": plan.sigmas[:cut]})

        model.plan = plan_cut
    step_times: list[float] = []

    def progress(_percent: float, stage: str) -> None:
        if stage in ("denoise", "decode"):
            meter.synchronize()
            step_times.append(time.perf_counter())

    stages.reset()
    meter.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        result = model.generate(request, progress, lambda: False)
    finally:
        model.plan, model.steps = plan_fn, steps_setting
        stages.close()
    total = time.perf_counter() - started
    per_step = [b - a for a, b in zip(step_times, step_times[1:])]
    spstep = sum(per_step) / len(per_step) if per_step else float("nan")  # step ends to step ends
    steps_run = len(step_times)
    out = {
        "clip": f"720x1280 {seconds}s",
        "kind": kind,
        "schedule": "distilled" if distilled else "standard",
        "steps_run": steps_run,
        "steps_full": full_steps if cut else result.report["steps"],
        "seconds_per_step": round(spstep, 2),
        "decode_s": round(sum(stages.seconds.get(stage, 0.0) for stage in ("vae", "audio_vae", "vocoder")), 2),
        "total_s": round(total, 1),
        "peak_gib": max(stages.peaks.values(), default=0.0),
        "peak_gib_by_stage": stages.peaks,
        "seconds_by_stage": stages.seconds,
        "mp4_bytes": len(result.mp4),
        "guidance": result.report["guidance"],
    }
    if kind == "storyboard":
        out["note_storyboard"] = (
            "2 shots run one after the other: seconds_per_step includes the gap between "
            "the shots (shot 1's decode); total_s_projected_full counts steps of both shots"
        )
    if cut:
        out["total_s_projected_full"] = round(total + (full_steps - steps_run) * spstep, 1)
        out["note"] = (
            f"ran {steps_run} of {full_steps} steps; total_s_projected_full adds the rest at the measured s/step"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[4, 10], choices=(4, 8, 10, 12, 16, 20))
    parser.add_argument("--schedules", nargs="+", default=["distilled", "standard"], choices=("standard", "distilled"))
    parser.add_argument("--standard-steps", type=int, default=4, help="standard steps actually run (0: all 40)")
    parser.add_argument("--offload", default="text_encoder", choices=("none", "text_encoder", "model"))
    parser.add_argument("--variant", default="ltx-2", choices=("ltx-2", "ltx-2.3"))
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=["clip"],
        choices=("clip", "storyboard", "extend", "edit"),
        help="what to make: a plain clip, a 2-shot storyboard, an extension, an edit (same length)",
    )
    # tiny components on a CPU: tests this script
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.smoke:
        refuse_without_cuda()
    import torch

    from kinora.models.ltx2 import Ltx2Model, Ltx2Settings
    from kinora.models.ltx2_store import Manifest, read_manifest
    from kinora.runtime.settings import load_settings

    device = "cpu" if args.smoke else "cuda"
    meter = Meter(cuda=not args.smoke)
    if not args.smoke:
        memory_gib = torch.cuda.get_device_properties(0).total_memory / GIB
        print(f"device: {torch.cuda.get_device_name(0)}, {memory_gib:.1f} GiB", flush=True)
    else:
        args.offload, args.seconds = "none", [4]
    started = time.perf_counter()
    pipe = build_pipeline(device, args.variant, smoke=args.smoke)
    built_s = time.perf_counter() - started
    params = {name: round(sum(p.numel() for p in getattr(pipe, name).parameters()) / 1e9, 3) for name in STAGES}
    print(f"built random bf16 components in {built_s:.1f} s; parameters (billions): {json.dumps(params)}", flush=True)

    folder = Path("/tmp/kinora-ltx2-fullsize-manifest")
    folder.mkdir(exist_ok=True)
    manifest_json = {"variant": args.variant, **({"stg_blocks": [1]} if args.smoke else {})}
    (folder / "kinora-ltx2.json").write_text(json.dumps(manifest_json))
    manifest, _ = read_manifest(folder)
    settings = load_settings(
        Ltx2Settings,
        {"KINORA_MODEL_STORE": "(in memory)", "KINORA_LTX2_DEVICE": device, "KINORA_LTX2_CPU_OFFLOAD": args.offload},
    )
    started = time.perf_counter()
    model = Ltx2Model(settings, pipeline=pipe, manifest=manifest if isinstance(manifest, Manifest) else None)
    model.check_finite = False  # random weights: overflow is possible and says nothing about the real model
    if args.smoke:
        model.resolution_scale = 0.125
    meter.synchronize()
    print(
        f"model ready (placement, hooks) in {time.perf_counter() - started:.1f} s; resident "
        f"{meter.memory_allocated() / GIB:.1f} GiB on the GPU (offload {args.offload})",
        flush=True,
    )
    stages = StageMemory(model.t2v, meter)
    started = time.perf_counter()
    model.warm_up()
    print(f"warm-up {time.perf_counter() - started:.1f} s", flush=True)
    for kind in args.kinds:
        for seconds in args.seconds:
            for schedule in args.schedules:
                label = {"clip": f"720x1280 {seconds}s", "schedule": schedule}
                if kind != "clip":
                    label["kind"] = kind
                try:
                    result = run_clip(model, stages, meter, seconds, schedule == "distilled", args.standard_steps, kind)
                except torch.cuda.OutOfMemoryError as exc:
                    meter.empty_cache()
                    result = {**label, "error": f"out of memory: {exc}".splitlines()[0]}
                except Exception as exc:  # noqa: BLE001 - report and go on to the next clip
                    result = {**label, "error": f"{type(exc).__name__}: {exc}"}
                print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
