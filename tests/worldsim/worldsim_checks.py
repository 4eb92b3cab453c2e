"""Measurements on decoded audio shared by the worldsim tests."""

from __future__ import annotations

import numpy as np


def onset_time(audio: np.ndarray, rate: int, around: float, search: float, floor_window: float = 0.15) -> float | None:
    """First instant near `around` where the (high-passed) sound energy jumps well
    above the level just before the search window. 1 ms hops."""
    mono = audio.mean(0)
    hp = np.diff(mono, prepend=mono[0])  # emphasise clicks over ambience and pads
    hop = rate // 1000
    lo = int((around - search) * rate)
    hi = int((around + search) * rate)
    base_lo = max(int((around - search - floor_window) * rate), 0)
    if lo <= base_lo or hi >= len(hp):
        return None
    energy = lambda a, b: np.sqrt(np.mean(hp[a:b] ** 2) + 1e-12)  # noqa: E731
    floor = max(np.percentile([energy(i, i + hop) for i in range(base_lo, lo, hop)], 90), 1e-5)
    for i in range(lo, hi, hop):
        if energy(i, i + hop) > 4 * floor:
            return i / rate
    return None
