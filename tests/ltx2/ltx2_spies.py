"""Spies on the LTX-2 model's pipeline runs for the shot / extend / edit tests (imported
by basename: tests/ltx2 has no __init__.py)."""

from __future__ import annotations

import numpy as np
import torch


class Spies:
    """Records every pipeline run (its arguments and frames out), what the condition
    pipeline prepared (mask, clean latents) and the final latents before the decode."""

    def __init__(self, model):
        self.model, self.runs, self.prepared, self.final = model, [], [], []
        self.on_prepare = None

    def __enter__(self):
        model, cls = self.model, type(self.model.cond)
        self._run, self._prepare = model._run_pipeline, cls.prepare_latents
        self._unpack = cls.__dict__["_unpack_latents"]
        run, prepare, unpack = self._run, self._prepare, self._unpack.__func__

        def run_spy(*args, **kwargs):
            video, audio, rate = run(*args, **kwargs)
            self.runs.append((kwargs, video))
            return video, audio, rate

        def prepare_spy(pipe, *args, **kwargs):
            out = prepare(pipe, *args, **kwargs)
            self.prepared.append((kwargs, [t.clone() if isinstance(t, torch.Tensor) else t for t in out]))
            if self.on_prepare:
                self.on_prepare()
            return out

        def unpack_spy(latents, *args, **kwargs):
            self.final.append(latents.clone())
            return unpack(latents, *args, **kwargs)

        model._run_pipeline = run_spy
        cls.prepare_latents = prepare_spy
        cls._unpack_latents = staticmethod(unpack_spy)
        return self

    def __exit__(self, *_):
        del self.model._run_pipeline  # back to the class's method
        cls = type(self.model.cond)
        cls.prepare_latents, cls._unpack_latents = self._prepare, self._unpack


def encode_like_the_pipeline(pipe, frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 frames -> packed, normalized latents, as LTX2ConditionPipeline
    encodes a condition (pixels to [-1, 1], the distribution's mode)."""
    device = next(pipe.vae.parameters()).device
    pixels = torch.from_numpy(frames).to(device).permute(3, 0, 1, 2)[None].float() / 127.5 - 1.0
    with torch.inference_mode():
        encoded = pipe.vae.encode(pixels.to(pipe.vae.dtype)).latent_dist.mode()
        encoded = pipe._normalize_latents(encoded, pipe.vae.latents_mean, pipe.vae.latents_std).float()
        return pipe._pack_latents(encoded, 1, 1).cpu()
