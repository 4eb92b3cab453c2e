"""A run that goes wrong ends with its own error code, frees what it held, and the model
serves the next request: NaN latents or frames, out of GPU memory.

The worker turns a model error code X into the generation failure `model_X` and releases
the billing reservation (tests/generator/test_pipeline.py covers that path), so these
codes reach the person as `model_non_finite_output` / `model_out_of_memory`, uncharged.
"""

from __future__ import annotations

import threading

import pytest
import torch

from kinora.models.contract import ModelError, ModelOutOfMemory, ModelOutputError, ModelRequest
from services.generator.triton_runner import TritonRunner


def _nan_outputs(_module, _args, output):
    return tuple(torch.full_like(o, float("nan")) for o in output)


class _Spy:
    def __init__(self, wrapped):
        self.wrapped, self.calls = wrapped, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.wrapped(*args, **kwargs)


def test_nan_latents_fail_with_their_own_code(ltx2_model, triton_url, monkeypatch):
    spy = _Spy(ltx2_model.t2v.maybe_free_model_hooks)
    monkeypatch.setattr(ltx2_model.t2v, "maybe_free_model_hooks", spy)
    handle = ltx2_model.t2v.transformer.register_forward_hook(_nan_outputs)
    try:
        request = ModelRequest(prompt="a cat jumps over a fence", seconds=4, seed=5)
        with pytest.raises(ModelError) as caught:
            TritonRunner(triton_url).generate("ltx2", request, lambda p, s: None, threading.Event(), 120)
    finally:
        handle.remove()
    assert caught.value.code == "non_finite_output"
    assert "NaN or infinite at denoising step 1" in caught.value.message
    assert spy.calls == 1


def test_nan_frames_fail_instead_of_a_black_clip(ltx2_model):
    handle = ltx2_model.t2v.vae.decoder.register_forward_hook(lambda m, a, out: torch.full_like(out, float("nan")))
    try:
        with pytest.raises(ModelOutputError, match="decoded frames contain NaN"):
            ltx2_model.generate(
                ModelRequest(prompt="a cat jumps over a fence", seconds=4, seed=5), lambda p, s: None, lambda: False
            )
    finally:
        handle.remove()


def test_out_of_memory_has_its_own_code_and_frees_hooks_and_cache(ltx2_model, monkeypatch):
    def oom(*_):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    spy = _Spy(ltx2_model.t2v.maybe_free_model_hooks)
    monkeypatch.setattr(ltx2_model.t2v, "maybe_free_model_hooks", spy)
    handle = ltx2_model.t2v.transformer.register_forward_pre_hook(oom)
    try:
        with pytest.raises(ModelOutOfMemory) as caught:
            ltx2_model.generate(
                ModelRequest(prompt="a cat jumps over a fence", seconds=4, seed=5), lambda p, s: None, lambda: False
            )
    finally:
        handle.remove()
    assert caught.value.code == "out_of_memory"
    message = caught.value.message
    assert "ran out of memory for 720x1280, 4 s" in message and "KINORA_LTX2_CPU_OFFLOAD=model" in message
    assert spy.calls == 1  # hooks and cache freed in `finally`
    assert not ltx2_model._lock.locked()  # the next request is served
