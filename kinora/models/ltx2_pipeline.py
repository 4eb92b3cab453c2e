"""ltx2_pipeline: one LTX-2 pipeline run for Ltx2Model (kinora.models.ltx2): the pipeline that
fits the run (text, image or frames as conditioning), the step callback (progress, cancel, NaN
check), an edit's source frames encoded to latents, and the clean-up after a run, however it ended."""

from __future__ import annotations

import numpy as np

from kinora.models.contract import ModelCancelled, ModelOutOfMemory, ModelOutputError, ModelRequest
from kinora.models.ltx2_frames import Plan, _start_frame


class _Stop(Exception):
    """Raised from the step callback to leave the pipeline at once on cancel."""


class PipelineRunMixin:
    """Ltx2Model's pipeline runs; the pipelines, manifest, device and offload are Ltx2Model's."""

    def _run_pipeline(
        self,
        request: ModelRequest,
        plan: Plan,
        image,
        progress,
        cancelled,
        *,
        prompt: str | None = None,
        context: np.ndarray | None = None,
        source: np.ndarray | None = None,
        span: tuple[float, float] = (2.0, 90.0),
        final: bool = True,
        seed: int | None = None,
    ):
        """One pipeline run. `image`: the first frame (image to video). `context`: frames
        (F, H, W, 3) uint8 at generation size that the run starts with and continues
        (condition pipeline, latent index 0, strength 1; `plan.context` of them). `source`:
        an edit's frames, VAE-encoded and noised to the plan's first sigma (video to
        video). Progress runs over `span`; the last step of the `final` run says "decode"."""
        import torch

        pipe = self.cond if context is not None or source is not None else self.i2v if image is not None else self.t2v
        if self.offload in ("model", "sequential") and self._offloaded is not pipe:
            # Offload hooks belong to one pipeline object; move them to the one in use.
            if self.offload == "model":
                pipe.enable_model_cpu_offload(device=self.device)
            else:
                pipe.enable_sequential_cpu_offload(device=self.device)
            self._offloaded = pipe
        generator_device = "cpu" if self.offload in ("model", "sequential") else self.device
        generator = torch.Generator(generator_device).manual_seed(request.seed if seed is None else seed)
        low, high = span

        def on_step(_pipe, step, _timestep, tensors):
            if self.check_finite and not bool(torch.isfinite(tensors["latents"]).all()):
                # A NaN never heals: stop now rather than decode a black clip as a success.
                raise ModelOutputError(
                    f"the video latents became NaN or infinite at denoising step {step + 1} of "
                    f"{plan.steps}; no clip was made"
                )
            progress(
                low + (high - low) * (step + 1) / plan.steps,
                "decode" if final and step + 1 == plan.steps else "denoise",
            )
            if cancelled():
                raise _Stop()
            return {}

        kwargs = dict(
            prompt=self._prompt(request) if prompt is None else prompt,
            negative_prompt=self.negative_prompt or None,
            width=plan.gen_width,
            height=plan.gen_height,
            num_frames=plan.num_frames,
            frame_rate=float(request.fps),
            num_inference_steps=plan.steps,
            sigmas=plan.sigmas,
            generator=generator,
            max_sequence_length=self.manifest.max_sequence_length,
            output_type="np",
            return_dict=False,
            callback_on_step_end=on_step,
            **self._pipeline_guidance(),
        )
        if image is not None:
            kwargs["image"] = _start_frame(image, plan)
            if self.manifest.image_crf is not None:
                kwargs["image_crf"] = self.manifest.image_crf
        if context is not None:
            from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition

            kwargs["conditions"] = [LTX2VideoCondition(frames=context, index=0, strength=1.0)]
        self._active_cancel = cancelled
        try:
            with torch.inference_mode():
                if source is not None:
                    kwargs["latents"] = self._encode_video(source)
                    kwargs["noise_scale"] = plan.sigmas[0]
                video, audio = pipe(**kwargs)
            video, audio = np.asarray(video[0], dtype=np.float32), audio[0].float().cpu().numpy()
        except _Stop:
            raise ModelCancelled() from None
        except torch.cuda.OutOfMemoryError as exc:
            raise ModelOutOfMemory(
                f"the GPU ran out of memory for {request.width}x{request.height}, {request.seconds} s "
                f"(generated at {plan.gen_width}x{plan.gen_height}, {plan.num_frames} frames); a shorter or smaller "
                f"clip may fit, or the operator can set KINORA_LTX2_CPU_OFFLOAD=model. "
                f"({str(exc).splitlines()[0] if str(exc) else 'CUDA out of memory'})"
            ) from None
        finally:
            self._active_cancel = None
            # A run that stopped part-way (cancel, OOM, NaN) skips the pipeline's own
            # clean-up: offload hooks would keep models on the GPU and the allocator
            # would keep the failed run's blocks, so the next request would fail too.
            self._release(pipe)
        if self.check_finite and not (np.isfinite(video).all() and np.isfinite(audio).all()):
            bad = "frames" if not np.isfinite(video).all() else "audio"
            raise ModelOutputError(f"the decoded {bad} contain NaN or infinite values; no clip was made")
        rate = int(pipe.vocoder.config.output_sampling_rate)
        return video, audio, rate

    def _encode_video(self, frames: np.ndarray):
        """(F, H, W, 3) uint8 frames -> the VAE's latents (B, C, F', H', W'), as the pipeline
        encodes a condition: pixels to [-1, 1], the distribution's mode, not yet normalized
        (the pipeline normalizes `latents` it is given). Tiled and in frame windows, as the
        decode is."""
        import torch

        vae = self.cond.vae
        # On the run's device whatever the offload: `encode` carries diffusers'
        # `apply_forward_hook`, so model offload brings the VAE over for it.
        # Filled 16 frames at a time: a 25 s 1080p source is 7.5 GB in bf16, and converting
        # it in one piece would hold the uint8 copy and a float temporary beside it.
        count, height, width, _ = frames.shape
        pixels = torch.empty((1, 3, count, height, width), dtype=vae.dtype, device=self.device)
        for first in range(0, count, 16):
            chunk = torch.from_numpy(frames[first : first + 16]).to(self.device).permute(3, 0, 1, 2)
            pixels[0, :, first : first + 16] = chunk.float() / 127.5 - 1.0  # rounded once, as the pipeline does
        latents = vae.encode(pixels).latent_dist.mode()
        del pixels
        return latents

    def _check_cancel(self, *_ignored) -> None:
        cancelled = self._active_cancel
        if cancelled is not None and cancelled():
            raise _Stop()

    def _release(self, pipe) -> None:
        import gc

        import torch

        pipe.maybe_free_model_hooks()
        gc.collect()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.empty_cache()
