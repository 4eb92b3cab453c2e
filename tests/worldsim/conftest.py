"""Shared fixtures: one warm WorldSim per session and a cache of generated clips,
each decoded back from its MP4 (the tests judge decoded media, not internal state)."""

from __future__ import annotations

import pytest

from kinora.media.probe import probe_mp4
from kinora.models.contract import ModelRequest
from worldsim.model import WorldSim


class Clip:
    def __init__(self, request: ModelRequest, result, progress):
        self.request, self.result, self.progress = request, result, progress
        self.report = result.report
        self.probe = probe_mp4(result.mp4, decode_frames=True, decode_audio=True)
        self.frames = self.probe.frames
        self.audio = self.probe.audio

    def to_pixels(self, k: int, x: float, y: float) -> tuple[float, float, float]:
        """World metres -> decoded-frame pixels using the reported camera."""
        cx, cy, vh = self.report["tracks"]["camera"][k]
        s = self.request.height / vh
        return (x - cx) * s + self.request.width / 2, (cy - y) * s + self.request.height / 2, s


@pytest.fixture(scope="session")
def worldsim():
    model = WorldSim()
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def make_clip(worldsim):
    cache: dict = {}

    def make(prompt: str, seed: int = 1, seconds: int = 4, width: int = 720, height: int = 1280, **extra) -> Clip:
        key = (prompt, seed, seconds, width, height, repr(sorted(extra.items())))
        if key not in cache:
            request = ModelRequest(
                prompt=prompt,
                seconds=seconds,
                width=width,
                height=height,
                seed=seed,
                quality="pro" if width * height > 2_000_000 else "standard",
                **extra,
            )
            progress: list = []
            result = worldsim.generate(request, lambda p, s: progress.append((p, s)), lambda: False)
            cache[key] = Clip(request, result, progress)
        return cache[key]

    return make
