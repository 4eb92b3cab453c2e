"""Every allowed size x length x (standard, distilled) gets a sigma schedule that is finite,
strictly decreasing and never stuck, as the pipeline's own scheduler will run it.

The tiny store carries the released LTX-2 scheduler config (dynamic shift, terminal
stretch), so this plans full-size clips (resolution scale 1) against the real maths.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from diffusers.pipelines.ltx2.pipeline_ltx2 import calculate_shift, retrieve_timesteps
from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

from kinora.models.contract import ALLOWED_SECONDS, PRO_ONLY_SIZES, STANDARD_SIZES, ModelRequest

CASES = [(w, h, s, d) for w, h in STANDARD_SIZES + PRO_ONLY_SIZES for s in ALLOWED_SECONDS for d in (False, True)]


def _as_run(model, plan) -> np.ndarray:
    """What LTX2Pipeline.__call__ step 5 does with the plan: the sigmas its scheduler
    ends up stepping through (terminal 0 left off)."""
    pipe = model.t2v
    scheduler = copy.deepcopy(pipe.scheduler)
    spatial, temporal = pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio
    tokens = ((plan.num_frames - 1) // temporal + 1) * (plan.gen_height // spatial) * (plan.gen_width // spatial)
    sigmas = np.linspace(1.0, 1 / plan.steps, plan.steps) if plan.sigmas is None else plan.sigmas
    config = scheduler.config
    mu = calculate_shift(
        tokens,
        config.get("base_image_seq_len", 1024),
        config.get("max_image_seq_len", 4096),
        config.get("base_shift", 0.95),
        config.get("max_shift", 2.05),
    )
    retrieve_timesteps(scheduler, plan.steps, "cpu", None, sigmas=sigmas, mu=mu)
    return scheduler.sigmas[:-1].double().numpy()


@pytest.mark.parametrize(
    "width,height,seconds,distilled",
    CASES,
    ids=[f"{w}x{h}-{s}s-{'distilled' if d else 'standard'}" for w, h, s, d in CASES],
)
def test_schedule_is_finite_decreasing_and_not_stuck(ltx2_model, width, height, seconds, distilled):
    quality = "pro" if (width, height) in PRO_ONLY_SIZES else "standard"
    request = ModelRequest(prompt="a cat", seconds=seconds, width=width, height=height, quality=quality)
    ltx2_model_steps, ltx2_model.steps = ltx2_model.steps, 40  # the real model's default, not the tiny 2
    try:
        plan = ltx2_model.plan(request, resolution_scale=1.0, distilled=distilled)
    finally:
        ltx2_model.steps = ltx2_model_steps
    sigmas = _as_run(ltx2_model, plan)
    assert np.isfinite(sigmas).all(), sigmas
    assert sigmas[0] <= 1.0 and sigmas[-1] > 0
    assert (np.diff(sigmas) <= -1e-4).all(), f"stuck or rising: {sigmas[:6]}"
    if distilled:  # the distilled checkpoint's schedule runs exactly as trained
        assert np.allclose(sigmas, DISTILLED_SIGMA_VALUES, atol=1e-6), sigmas
    else:
        assert len(sigmas) == 40 and abs(sigmas[-1] - 0.1) < 1e-5  # the store's shift_terminal
