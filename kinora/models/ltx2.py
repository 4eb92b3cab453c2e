"""ltx2: the production GPU model, LTX-2 joint audio-video diffusion (diffusers).

`Ltx2Model` implements the Kinora model contract (kinora.models.contract) on top of
diffusers' `LTX2Pipeline` (text to video), `LTX2ImageToVideoPipeline` (image to
video) and `LTX2ConditionPipeline` (frames as conditioning: a storyboard's later shots,
extensions, video-to-video edits), all sharing one set of weights loaded from a model
store folder (kinora.models.ltx2_store, docs/ltx2.md). Video and audio come out of one denoising
run; the clip is watermarked, resized to the asked size and encoded once with the
platform encoder (H.264 + AAC 48 kHz stereo).

Serve it with `python -m kinora.models.serve --model ltx2`; `load_from_env()` is the
factory that reads its settings (kinora.models.ltx2_settings). The sigma schedule is in
kinora.models.ltx2_schedule; the request plan and the frame and audio conversion are in
kinora.models.ltx2_frames; shots and extensions in kinora.models.ltx2_shots; reading a
source clip in kinora.models.ltx2_source. This module loads the model, plans a request and
makes a clip from one run; the pipelines built over the loaded components are in
kinora.models.ltx2_loading; one pipeline run in kinora.models.ltx2_pipeline; storyboards,
extensions and edits in kinora.models.ltx2_conditioned.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

from kinora.media.encode import AUDIO_RATE, encode_mp4, thumbnail_jpeg
from kinora.models.contract import ModelCancelled, ModelRequest, ModelResult
from kinora.models.ltx2_conditioned import ConditionedClipsMixin
from kinora.models.ltx2_frames import Plan, _decode_image, _to_48k_stereo, _to_frames
from kinora.models.ltx2_loading import _component_dtypes, _install_cancel_points, _share
from kinora.models.ltx2_pipeline import PipelineRunMixin
from kinora.models.ltx2_schedule import EDIT_STRENGTH, ScheduleError, sigma_schedule
from kinora.models.ltx2_settings import Ltx2Settings, _resolve_device
from kinora.models.ltx2_store import Manifest, require_usable
from kinora.runtime.settings import load_settings


class Ltx2Model(ConditionedClipsMixin, PipelineRunMixin):
    """Kinora's LTX-2 model. Thread-safe: one generation at a time per process."""

    name = "ltx2"

    def __init__(self, settings: Ltx2Settings, pipeline=None, manifest: Manifest | None = None):
        """Load the store `settings.store`; or, for scripts/ltx2_fullsize.py, serve an
        already built `pipeline` (with its `manifest`) instead of loading one."""
        import torch
        from diffusers import DiffusionPipeline, LTX2ConditionPipeline, LTX2ImageToVideoPipeline, LTX2Pipeline

        self.store = Path(settings.store)
        self.manifest: Manifest = (
            manifest
            if pipeline is not None and manifest is not None
            else (Manifest() if pipeline is not None else require_usable(self.store))
        )
        self.dtype_name = settings.dtype or self.manifest.dtype
        self.device = _resolve_device(settings.device)
        self.offload = settings.cpu_offload
        if self.offload != "none" and not self.device.startswith("cuda"):
            raise ValueError(f"KINORA_LTX2_CPU_OFFLOAD={self.offload} needs a CUDA device, not {self.device}")
        self.distilled = self.manifest.distilled if settings.distilled is None else settings.distilled
        self.steps = settings.steps or self.manifest.steps
        self.resolution_scale = settings.resolution_scale or self.manifest.resolution_scale
        dtype = getattr(torch, self.dtype_name)
        started = time.monotonic()
        pipe = pipeline or DiffusionPipeline.from_pretrained(self.store, dtype=dtype, local_files_only=True)
        if not isinstance(pipe, (LTX2Pipeline, LTX2ImageToVideoPipeline)):
            raise ValueError(f"{self.store} holds a {type(pipe).__name__}, not an LTX-2 pipeline")
        # Both pipelines are built on the very same modules. Not `from_pipe`: it ends with
        # `.to(dtype or float32)`, which would upcast the whole shared bf16 model to float32
        # (~2x the memory: ~130-145 GB for the real checkpoint instead of ~65).
        # Kinora computes each schedule itself (`sigma_schedule`, float64) from the store's
        # scheduler config, and hands it to a scheduler that uses sigmas as given: the
        # store's scheduler would reshape them again in float32 (shift, terminal stretch),
        # which collapses at large sizes and bends the distilled schedule.
        self.schedule_config = dict(pipe.scheduler.config)
        plain = type(pipe.scheduler).from_config(
            pipe.scheduler.config,
            use_dynamic_shifting=False,
            shift=1.0,
            shift_terminal=None,
            invert_sigmas=False,
            use_karras_sigmas=False,
            use_exponential_sigmas=False,
            use_beta_sigmas=False,
        )
        self.t2v = _share(LTX2Pipeline, pipe, scheduler=plain)
        self.i2v = _share(LTX2ImageToVideoPipeline, pipe, scheduler=plain)
        # Frames as conditioning at latent index 0 (a shot continuing the previous one, an
        # extension continuing its source) and noised source latents (an edit).
        self.cond = _share(LTX2ConditionPipeline, pipe, scheduler=plain)
        self.edit_strength = EDIT_STRENGTH
        for p in (self.t2v, self.i2v, self.cond):
            p.set_progress_bar_config(disable=True)
        self.component_dtypes = _component_dtypes(self.t2v)
        wrong = {name: d for name, d in self.component_dtypes.items() if d != self.dtype_name}
        if wrong:
            raise ValueError(
                f"components did not load as {self.dtype_name}: "
                + ", ".join(f"{name} is {d}" for name, d in sorted(wrong.items()))
            )
        # Decode in tiles (512 px, overlapping) and in windows of 16 frames: a 10 s 720x1280
        # clip decoded in one piece needs tens of GB on top of the ~65 GB the models hold.
        vae = self.t2v.vae
        vae.enable_tiling()
        vae.use_framewise_decoding = True
        self.vae_decode = {
            "tiling": vae.use_tiling,
            "framewise": vae.use_framewise_decoding,
            "tile_px": [vae.tile_sample_min_width, vae.tile_sample_min_height],
            "tile_frames": vae.tile_sample_min_num_frames,
        }
        # Off only in scripts/ltx2_fullsize.py, whose random full-size weights may overflow.
        self.check_finite = True
        self._active_cancel = None  # the running request's cancelled(), read by the stage hooks
        self.cancel_points = _install_cancel_points(self.t2v, self._check_cancel)
        if self.offload == "none":
            self.t2v.to(self.device)
        elif self.offload == "text_encoder":
            # The 12B Gemma text encoder (~24 GB in bf16) lives in host memory and visits the
            # GPU for the prompt only (~1-2 s each way over PCIe): what lets the ~19B
            # transformer, the VAEs and a 10 s 720p clip's activations fit on an 80 GB card.
            for name, component in self.t2v.components.items():
                if isinstance(component, torch.nn.Module) and name != "text_encoder":
                    component.to(self.device)
            encoder = self.t2v.text_encoder.to("cpu")

            def to_gpu(module, _args) -> None:  # a pre-hook that returned something would replace the inputs
                module.to(self.device)

            def back_to_host(module, _args, _output) -> None:
                module.to("cpu")
                torch.cuda.empty_cache()

            encoder.register_forward_pre_hook(to_gpu)
            encoder.register_forward_hook(back_to_host)
        self._offloaded = None  # which pipeline currently owns the offload hooks
        self.load_seconds = time.monotonic() - started
        self.warm_up_seconds: float | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """One short text-to-video run through every component (text encoder, transformer,
        VAE decode, audio decoder, vocoder) before the server answers: CUDA context,
        kernels and allocator are set up, and a store that loads but cannot run fails here,
        not on a person's first clip. `kinora.models.serve` calls it before Triton starts,
        so Triton's /v2/health/ready, the model pool's startup probe, waits for it."""
        spatial = self.t2v.vae_spatial_compression_ratio
        temporal = self.t2v.vae_temporal_compression_ratio
        started = time.monotonic()
        sigmas = sigma_schedule(self.schedule_config, 4 * 4 * 2, 2, False)
        plan = Plan(4 * spatial, 4 * spatial, temporal + 1, temporal + 1, 4 * spatial, 4 * spatial, len(sigmas), sigmas)
        request = ModelRequest(prompt="A calm lake at dawn.", seconds=4, width=plan.gen_width, height=plan.gen_height)
        with self._lock:
            self._run_pipeline(request, plan, None, lambda *_: None, lambda: False)
        self.warm_up_seconds = round(time.monotonic() - started, 3)

    # ------------------------------------------------------------------ planning
    def plan(
        self,
        request: ModelRequest,
        resolution_scale: float | None = None,
        distilled: bool | None = None,
        *,
        frames: int | None = None,
        context: int = 0,
    ) -> Plan:
        """Sizes, frames and the sigma schedule for a request (the arguments override the
        model's settings; the schedule tests plan full-size clips on the tiny store).
        `frames` (default: the request's length) are the frames the run keeps; `context`
        frames of conditioning come before them in the run (shots, extensions)."""
        spatial = self.t2v.vae_spatial_compression_ratio
        temporal = self.t2v.vae_temporal_compression_ratio
        scale = resolution_scale or self.resolution_scale
        distilled = self.distilled if distilled is None else distilled

        # The VAE works on a grid of `spatial` (32) pixels: generate the smallest grid size
        # covering the asked one (720 -> 736) and centre-crop, never stretch (a stretched
        # clip no longer starts on its input image, and faces come out squeezed).
        crop_width, crop_height = max(1, round(request.width * scale)), max(1, round(request.height * scale))
        width, height = (math.ceil(crop_width / spatial) * spatial, math.ceil(crop_height / spatial) * spatial)
        frames = request.seconds * request.fps if frames is None else frames
        num_frames = math.ceil((context + frames - 1) / temporal) * temporal + 1
        tokens = self._tokens(width, height, num_frames)
        try:
            sigmas = sigma_schedule(self.schedule_config, tokens, self.steps, distilled)
        except ScheduleError as exc:
            raise ScheduleError(
                f"{request.width}x{request.height} for {request.seconds} s can't be generated by "
                f"{self.manifest.variant}: {exc}"
            ) from None
        return Plan(width, height, num_frames, frames, crop_width, crop_height, len(sigmas), sigmas, context)

    def _tokens(self, width: int, height: int, num_frames: int) -> int:
        spatial = self.t2v.vae_spatial_compression_ratio
        temporal = self.t2v.vae_temporal_compression_ratio
        patch, patch_t = self.t2v.transformer_spatial_patch_size, self.t2v.transformer_temporal_patch_size
        return (
            ((num_frames - 1) // temporal + 1) // patch_t * (height // spatial // patch) * (width // spatial // patch)
        )

    def _guidance(self) -> dict[str, float]:
        """Guidance as configured (the report shows these)."""
        if self.distilled:
            # The distilled checkpoint is trained for one model pass per step.
            return {
                "guidance_scale": 1.0,
                "audio_guidance_scale": 1.0,
                "stg_scale": 0.0,
                "audio_stg_scale": 0.0,
                "modality_scale": 1.0,
                "audio_modality_scale": 1.0,
                **self.manifest.guidance,
            }
        return {**self.manifest.preset_guidance, **self.manifest.guidance}

    def _pipeline_guidance(self) -> dict:
        """Guidance as the pipeline must receive it. LTX2Pipeline reads each audio value as
        `audio_x or x`, so an audio value of 0 would silently become the video one (audio
        STG on although the manifest turned it off); a value of 1e-30 is 0 in effect
        (the term it weights is O(1), far below float32 resolution) and survives the `or`."""
        kwargs: dict = dict(self._guidance())
        for key in ("audio_guidance_scale", "audio_stg_scale", "audio_modality_scale", "audio_guidance_rescale"):
            if key in kwargs and kwargs[key] == 0:
                kwargs[key] = _EFFECTIVELY_ZERO
        if self.manifest.use_cross_timestep is not None:
            kwargs["use_cross_timestep"] = self.manifest.use_cross_timestep
        if self.manifest.stg_blocks is not None:
            kwargs["spatio_temporal_guidance_blocks"] = list(self.manifest.stg_blocks)
        return kwargs

    @property
    def negative_prompt(self) -> str:
        if self.manifest.negative_prompt is not None:
            return self.manifest.negative_prompt
        from diffusers.pipelines.ltx2.utils import DEFAULT_NEGATIVE_PROMPT

        return DEFAULT_NEGATIVE_PROMPT

    # ------------------------------------------------------------------ generate
    def generate(self, request: ModelRequest, progress, cancelled) -> ModelResult:
        request.validate()
        if request.shots:
            return self._storyboard(request, progress, cancelled)
        if request.source is not None:
            return self._from_source(request, progress, cancelled)
        start_image, conditioning = self._start_image(request)
        plan = self.plan(request)
        with self._lock:
            if cancelled():
                raise ModelCancelled()
            progress(1.0, "prepare")
            started = time.monotonic()
            video, audio, source_rate = self._run_pipeline(request, plan, start_image, progress, cancelled)
            denoise_s = time.monotonic() - started
        pcm = _to_48k_stereo(audio, source_rate, request.seconds)
        pipeline = "image_to_video" if start_image is not None else "text_to_video"
        return self._finish(
            request,
            plan,
            video,
            pcm,
            progress,
            cancelled,
            denoise_s,
            self._report(
                request,
                plan,
                pipeline,
                conditioning,
                {"source_rate": source_rate, "output_rate": AUDIO_RATE, "channels": 2},
            ),
        )

    def _finish(
        self, request: ModelRequest, plan: Plan, video, pcm, progress, cancelled, pipeline_s: float, report: dict
    ) -> ModelResult:
        """Frames (crop, resize, watermarks) and sound -> the encoded clip, its thumbnail and report."""
        if cancelled():
            raise ModelCancelled()
        progress(92.0, "encode")
        encode_started = time.monotonic()
        frames = _to_frames(
            video,
            request.seconds * request.fps,
            request.width,
            request.height,
            request.watermark,
            request.fps,
            request.watermark_id,
            crop=(plan.crop_width, plan.crop_height),
        )
        mp4 = encode_mp4(frames, request.width, request.height, request.fps, pcm)
        thumb = thumbnail_jpeg(frames[min(len(frames) - 1, request.fps)])
        progress(100.0, "done")
        report["timings_s"] = {"pipeline": round(pipeline_s, 3), "encode": round(time.monotonic() - encode_started, 3)}
        return ModelResult(mp4=mp4, thumbnail_jpeg=thumb, report=report)

    def _report(self, request: ModelRequest, plan: Plan, pipeline: str, conditioning: dict, audio: dict) -> dict:
        return {
            "model": self.name,
            "variant": self.manifest.variant,
            "pipeline": pipeline,
            "seed": request.seed,
            "steps": plan.steps,
            "distilled": self.distilled,
            "sigmas": plan.sigmas,
            "guidance": self._guidance(),
            "use_cross_timestep": self.manifest.use_cross_timestep,
            "stg_blocks": None if self.manifest.stg_blocks is None else list(self.manifest.stg_blocks),
            "negative_prompt": "reference default"
            if self.manifest.negative_prompt is None
            else ("manifest" if self.manifest.negative_prompt else "none"),
            "generated_size": [plan.gen_width, plan.gen_height],
            "output_size": [request.width, request.height],
            "generated_frames": plan.num_frames,
            "frames": request.seconds * request.fps,
            "fps": request.fps,
            "seconds": request.seconds,
            "audio": audio,
            "conditioning": conditioning,
            "watermark": bool(request.watermark),
            "device": self.device,
            "dtype": self.dtype_name,
            "component_dtypes": self.component_dtypes,
            "cpu_offload": self.offload,
            "vae_decode": self.vae_decode,
            "warm_up_s": self.warm_up_seconds,
        }

    def _start_image(self, request: ModelRequest):
        """The first-frame image, and a plain account of what conditions the clip."""
        conditioning = {"prompt": True, "start_image": None, "cameos": []}
        image = None
        if request.image is not None:
            image = _decode_image(request.image, "image")
            conditioning["start_image"] = "request image"
        for cameo in request.cameos:
            entry = {
                "name": cameo.name,
                "face_used": False,
                "voice_used": False,
                "reason": "LTX-2 has no identity or voice conditioning; the name is added to the prompt",
            }
            if image is None and cameo.face_pngs:
                image = _decode_image(cameo.face_pngs[0], f"cameo {cameo.name!r} face")
                conditioning["start_image"] = f"cameo {cameo.name!r} face"
                entry.update(face_used=True, reason="first face image is the clip's first frame (image-to-video)")
            elif cameo.face_pngs:
                entry["reason"] = "the pipeline takes one start image and it is already used"
            conditioning["cameos"].append(entry)
        return image, conditioning

    def _prompt(self, request: ModelRequest) -> str:
        if not request.cameos:
            return request.prompt
        names = " and ".join(c.name for c in request.cameos)
        return f"{request.prompt.strip()} Featuring {names}."


_EFFECTIVELY_ZERO = 1e-30


def load_from_env(env=None) -> Ltx2Model:
    """The factory `kinora.models.serve --model ltx2` uses: settings from the environment."""
    return Ltx2Model(load_settings(Ltx2Settings, env))
