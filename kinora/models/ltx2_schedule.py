"""ltx2_schedule: the sigma schedule the LTX-2 denoising loop runs (kinora.models.ltx2),
computed in float64 and checked before a generation starts."""

from __future__ import annotations

import math

import numpy as np

from kinora.models.contract import ModelInputError


class ScheduleError(ModelInputError):
    """No usable sigma schedule for this size and length."""


MIN_SIGMA_STEP = 1e-4  # consecutive sigmas closer than this: the model repeats the same step


def sigma_schedule(config: dict, tokens: int, steps: int, distilled: bool) -> list[float]:
    """The sigmas the denoising loop runs, computed in float64 from the store's
    FlowMatchEulerDiscreteScheduler config; checked finite, strictly decreasing in the
    float32 the scheduler keeps them in, and never stuck.

    Same formula as diffusers' LTX-2 pipeline + scheduler (resolution-dependent
    exponential shift, then the stretch to `shift_terminal`), with two differences:
    float64 (in float32 the shifted sigmas round to 1.0, then 0/0 gives NaN), and the
    shift `mu` stops at the config's `max_shift` instead of growing linearly past
    `max_image_seq_len` (4096 tokens; a 10 s 720p clip has ~27 000, where the
    extrapolated shift is ~10: e^10 = 22 000x toward noise, every step but the last
    few near sigma = 1). The distilled schedule runs exactly as trained."""
    if distilled:
        from diffusers.pipelines.ltx2.utils import DISTILLED_SIGMA_VALUES

        sigmas = np.array(DISTILLED_SIGMA_VALUES, dtype=np.float64)
    else:
        t = np.linspace(1.0, 1.0 / steps, steps, dtype=np.float64)
        if config.get("use_dynamic_shifting"):
            base_len = float(config.get("base_image_seq_len", 1024))
            max_len = float(config.get("max_image_seq_len", 4096))
            base_shift, max_shift = float(config.get("base_shift", 0.95)), float(config.get("max_shift", 2.05))
            mu = base_shift + (max_shift - base_shift) * (min(tokens, max_len) - base_len) / (max_len - base_len)
            with np.errstate(divide="ignore"):
                odds = 1.0 / t - 1.0
            if config.get("time_shift_type", "exponential") == "exponential":
                sigmas = math.exp(mu) / (math.exp(mu) + odds)
            else:
                sigmas = mu / (mu + odds)
        else:
            shift = float(config.get("shift", 1.0))
            sigmas = shift * t / (1.0 + (shift - 1.0) * t)
        terminal = config.get("shift_terminal")
        if terminal and len(sigmas) > 1:
            one_minus = 1.0 - sigmas
            sigmas = 1.0 - one_minus / (one_minus[-1] / (1.0 - float(terminal)))
    as_run = sigmas.astype(np.float32)
    if not (np.isfinite(as_run).all() and (as_run > 0).all() and (as_run <= 1).all()):
        raise ScheduleError(f"the sigma schedule for {tokens} tokens is not finite or leaves (0, 1]")
    steps_down = -np.diff(as_run.astype(np.float64))
    if len(steps_down) and steps_down.min() < MIN_SIGMA_STEP:
        raise ScheduleError(f"the sigma schedule for {tokens} tokens is stuck (two steps {steps_down.min():.1e} apart)")
    return [float(x) for x in sigmas]


EDIT_STRENGTH = 0.6  # how far toward noise an edit takes its source (0 keeps it, 1 ignores it)


def edit_sigmas(config: dict, tokens: int, steps: int, distilled: bool, strength: float = EDIT_STRENGTH) -> list[float]:
    """The sigmas of a video-to-video edit: the source's latents are noised to `strength`
    (the first sigma) and denoised from there.

    Standard schedules: the generation's own schedule, computed for ceil(steps x strength)
    steps, scaled so it starts at `strength` (the same shape at lower noise, fewer steps).
    Distilled: the trained sigmas at or below `strength` (0.6 -> the one step at 0.421875),
    since the distilled checkpoint only knows its own eight values."""
    if not 0.0 < strength <= 1.0:
        raise ScheduleError(f"edit strength must be in (0, 1], got {strength}")
    if distilled:
        sigmas = [s for s in sigma_schedule(config, tokens, steps, True) if s <= strength + 1e-9]
        if not sigmas:
            raise ScheduleError(f"the distilled schedule has no step at or below the edit strength {strength}")
        return sigmas
    full = sigma_schedule(config, tokens, max(1, math.ceil(steps * strength)), False)
    scaled = [s * strength / full[0] for s in full]
    as_run = np.asarray(scaled, dtype=np.float32).astype(np.float64)
    if len(as_run) > 1 and (-np.diff(as_run)).min() < MIN_SIGMA_STEP:
        raise ScheduleError(f"the edit schedule for {tokens} tokens is stuck")
    return scaled
