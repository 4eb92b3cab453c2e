"""Loading a store: the dtype the weights run in, one shared set of modules, VAE memory settings."""

from __future__ import annotations

import pytest
import torch

from kinora.models.ltx2_loading import _MODULES


def _dtypes(module: torch.nn.Module) -> set[torch.dtype]:
    # Weights only: rotary inverse-frequency buffers stay float32 by design.
    return {t.dtype for t in module.parameters() if t.is_floating_point()}


def test_bf16_store_loads_in_bf16_with_one_shared_set_of_modules(ltx2_model):
    # A bf16 store must stay bf16 in memory: diffusers' from_pipe() without a dtype
    # upcasts the whole shared pipeline to float32 (twice the memory of the real model).
    for name in _MODULES:
        for pipe in (ltx2_model.t2v, ltx2_model.i2v):
            module = getattr(pipe, name)
            assert _dtypes(module) == {torch.bfloat16}, (name, type(pipe).__name__, _dtypes(module))
        # image-to-video reuses text-to-video's objects: one copy of the weights.
        assert getattr(ltx2_model.i2v, name) is getattr(ltx2_model.t2v, name)
    assert ltx2_model.dtype_name == "bfloat16"
    assert set(ltx2_model.component_dtypes.values()) == {"bfloat16"}


def test_vae_decodes_in_tiles_and_frame_windows(ltx2_model):
    for pipe in (ltx2_model.t2v, ltx2_model.i2v):
        assert pipe.vae.use_tiling and pipe.vae.use_framewise_decoding
    assert ltx2_model.vae_decode["tiling"] and ltx2_model.vae_decode["framewise"]
    # Windowed decoding gives the full clip: 13 latent frames -> 97 frames, decoded
    # in windows (the tiny store's clips take that path on every test generation).
    vae = ltx2_model.t2v.vae
    latents = torch.randn(1, vae.config.latent_channels, 13, 5, 3, dtype=torch.bfloat16)
    with torch.inference_mode():
        video = vae.decode(latents, return_dict=False)[0]
    assert tuple(video.shape) == (1, 3, 97, 160, 96)
    assert torch.isfinite(video.float()).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_cuda_it_refuses_unless_cpu_is_asked_for(tiny_store):
    from kinora.models.ltx2 import load_from_env

    for env in ({}, {"KINORA_LTX2_DEVICE": "cuda"}, {"KINORA_LTX2_DEVICE": "cuda:1"}):
        with pytest.raises(ValueError, match="no CUDA device is visible.*set KINORA_LTX2_DEVICE=cpu"):
            load_from_env({"KINORA_MODEL_STORE": str(tiny_store), **env})
