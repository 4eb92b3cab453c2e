"""The tiny LTX-2 store, served by real Triton, called by the generator worker's runner;
every clip is decoded back and judged on the media itself."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from kinora.media.probe import probe_mp4
from kinora.models.contract import Cameo, ModelCancelled, ModelInputError, ModelRequest
from services.generator.triton_runner import TritonRunner

_results: dict = {}


def _generate(triton_url, request: ModelRequest, key=None):
    """Run through Triton once per distinct key; returns (result, progress events)."""
    key = key or (request.prompt, request.seed, request.image is not None, len(request.cameos))
    if key not in _results:
        events: list = []
        result = TritonRunner(triton_url).generate(
            "ltx2", request, lambda p, s: events.append((p, s)), threading.Event(), 300
        )
        _results[key] = (result, events)
    return _results[key]


def _face_png() -> bytes:
    yy, xx = np.mgrid[0:96, 0:64]
    face = np.stack([200 - yy, 120 + xx, 90 + (xx + yy) // 2], axis=-1).clip(0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(face).save(out, format="PNG")
    return out.getvalue()


def test_text_to_video_mp4_has_the_asked_shape_and_audio(triton_url):
    request = ModelRequest(prompt="a robot dancing in the rain", seconds=4, seed=7, watermark="@kinora")
    result, events = _generate(triton_url, request)
    probe = probe_mp4(result.mp4, decode_frames=True, decode_audio=True, frame_step=24)
    assert (probe.width, probe.height) == (720, 1280)
    assert probe.fps == 24.0 and probe.frame_count == 96
    assert abs(probe.duration_s - 4.0) < 0.05
    assert probe.video_codec == "h264" and probe.pix_fmt == "yuv420p"
    assert probe.audio_codec == "aac" and probe.audio_rate == 48000 and probe.audio_channels == 2
    # The vocoder's sound survived resampling and AAC: not silence, about 4 s long.
    assert probe.audio.shape[1] >= 4 * 48000 - 2048 and float(np.abs(probe.audio).max()) > 1e-3
    # Random weights make noise-like pictures: frames differ over time, not a blank clip.
    assert float(np.abs(probe.frames[0].astype(int) - probe.frames[-1].astype(int)).mean()) > 1.0
    thumb = Image.open(io.BytesIO(result.thumbnail_jpeg))
    assert thumb.format == "JPEG" and max(thumb.size) == 640
    report = result.report
    assert report["pipeline"] == "text_to_video" and report["steps"] == 2 and report["seed"] == 7
    assert report["generated_size"] == [96, 160] and report["generated_frames"] == 97
    assert report["audio"]["source_rate"] == 16000
    # Progress streams from the denoising steps, in order, ending at 100.
    stages = [s for _, s in events]
    percents = [p for p, _ in events]
    assert "denoise" in stages and "decode" in stages and "encode" in stages
    assert percents == sorted(percents) and percents[-1] == 100.0


def test_same_seed_gives_same_bytes_and_another_seed_does_not(triton_url):
    request = ModelRequest(prompt="a robot dancing in the rain", seconds=4, seed=7, watermark="@kinora")
    first, _ = _generate(triton_url, request)
    again, _ = _generate(triton_url, request, key="again")
    assert again.mp4 == first.mp4
    other, _ = _generate(
        triton_url, ModelRequest(prompt="a robot dancing in the rain", seconds=4, seed=8, watermark="@kinora")
    )
    assert other.mp4 != first.mp4


def test_watermark_is_drawn_and_moves(ltx2_model):
    from kinora.models.ltx2 import _to_frames

    flat = np.full((3, 160, 96, 3), 0.25, dtype=np.float32)  # a plain grey clip at generation size
    plain = _to_frames(flat, 48, 720, 1280, "", 24)
    marked = _to_frames(flat, 48, 720, 1280, "@kinora", 24)
    changed = [np.argwhere(np.abs(m.astype(int) - p.astype(int)).sum(-1) > 60) for m, p in zip(marked, plain)]
    assert all(len(c) > 50 for c in changed)
    assert np.abs(changed[0].mean(0) - changed[-1].mean(0)).max() > 20  # it drifted across the frame


def test_cameo_face_conditions_image_to_video(triton_url):
    cameo = Cameo(name="Ana", face_pngs=[_face_png()])
    request = ModelRequest(prompt="a robot dancing in the rain", seconds=4, seed=7, watermark="@kinora", cameos=[cameo])
    result, _ = _generate(triton_url, request)
    probe = probe_mp4(result.mp4)
    assert (probe.width, probe.height, probe.frame_count, probe.has_audio) == (720, 1280, 96, True)
    conditioning = result.report["conditioning"]
    assert result.report["pipeline"] == "image_to_video"
    assert conditioning["start_image"] == "cameo 'Ana' face"
    assert conditioning["cameos"][0]["face_used"] is True and conditioning["cameos"][0]["voice_used"] is False
    text_only, _ = _generate(
        triton_url, ModelRequest(prompt="a robot dancing in the rain", seconds=4, seed=7, watermark="@kinora")
    )
    assert result.mp4 != text_only.mp4


def test_unreadable_image_is_refused_with_a_clear_message(triton_url):
    request = ModelRequest(prompt="a cat jumps", seconds=4, image=b"definitely not a png")
    with pytest.raises(ModelInputError, match="image is not a readable image"):
        TritonRunner(triton_url).generate("ltx2", request, lambda p, s: None, threading.Event(), 60)


def test_cancel_stops_between_steps(triton_url):
    cancel = threading.Event()
    seen: list = []

    def progress(percent, stage):
        seen.append(stage)
        if stage == "denoise":
            cancel.set()

    request = ModelRequest(prompt="a cat jumps over a fence", seconds=4, seed=99)
    with pytest.raises(ModelCancelled):
        TritonRunner(triton_url).generate("ltx2", request, progress, cancel, 120)
    assert "encode" not in seen
