"""Extensions and edits on the tiny LTX-2 store, from a real source MP4 (made here with the
platform encoder, decoded back by the model with PyAV): an extension is conditioned on
the source's last frames; an edit noises the source's own latents to its strength and
denoises them with the instruction, keeping the source's length and sound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ltx2_spies import Spies, encode_like_the_pipeline
from PIL import Image

from kinora.media.encode import encode_mp4
from kinora.media.probe import probe_mp4
from kinora.models.contract import ModelInputError, ModelRequest, SourceClip
from kinora.models.ltx2_schedule import EDIT_STRENGTH
from kinora.models.ltx2_shots import fit_frames


def _source(frames: int, audio: bool = True) -> bytes:
    """A 720x1280 clip: a gradient sliding right, a 440 Hz tone."""
    yy, xx = np.mgrid[0:1280, 0:720]
    pictures = [
        np.stack([(xx // 3 + 6 * i) % 256, (yy // 5) % 256, np.full_like(xx, 180)], -1).astype(np.uint8)
        for i in range(frames)
    ]
    samples = round(frames / 24 * 48000)
    tone = np.stack([0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)] * 2).astype(np.float32)
    return encode_mp4(pictures, 720, 1280, 24, tone if audio else None)


@pytest.fixture(scope="module")
def source() -> bytes:
    return _source(24)


def test_extend_is_conditioned_on_the_sources_last_frames(ltx2_model, source):
    request = ModelRequest(
        prompt="a cat jumps over a fence", seconds=4, seed=21, source=SourceClip("extend", video=source)
    )
    with Spies(ltx2_model) as spies:
        result = ltx2_model.generate(request, lambda p, s: None, lambda: False)
    probe = probe_mp4(result.mp4, decode_frames=True, decode_audio=True, frame_step=24)
    assert (probe.width, probe.height, probe.frame_count) == (720, 1280, 96) and abs(probe.duration_s - 4.0) < 0.05
    assert probe.audio.shape[1] >= 4 * 48000 - 2048 and float(np.abs(probe.audio).max()) > 1e-3
    report = result.report
    assert report["pipeline"] == "extend" and report["generated_frames"] == 105  # 9 context + 96
    assert "last 9 frames" in report["conditioning"]["source"]
    # What the pipeline was given: the source's own last 9 frames, at generation size.
    context = spies.runs[0][0]["context"]
    last = probe_mp4(source, decode_frames=True).frames[-9:]
    plan = ltx2_model.plan(request, context=9)
    assert np.array_equal(context, fit_frames(last, plan))
    small = np.asarray(Image.fromarray(last[-1]).resize((plan.crop_width, plan.crop_height), Image.BICUBIC))
    left = (plan.gen_width - plan.crop_width) // 2
    assert float(np.abs(context[-1, :, left : left + plan.crop_width].astype(int) - small.astype(int)).mean()) < 3
    # The first two latent frames of the run are those frames' encoding, held clean to the end.
    _, (_, mask, clean, _) = spies.prepared[0]
    conditioned = 2 * (160 // 32) * (96 // 32)
    assert bool((mask[0, :conditioned] == 1).all()) and bool((mask[0, conditioned:] == 0).all())
    assert torch.allclose(clean[:, :conditioned].cpu(), encode_like_the_pipeline(ltx2_model.cond, context), atol=1e-2)
    assert torch.equal(spies.final[-1][:, :conditioned].cpu(), clean[:, :conditioned].cpu())


@pytest.fixture(scope="module")
def edits(ltx2_model, source):
    def edit(seed):
        request = ModelRequest(
            prompt="the same clip",
            seconds=1,
            seed=seed,
            source=SourceClip("edit", video=source, instruction="make it night"),
        )
        with Spies(ltx2_model) as spies:
            return ltx2_model.generate(request, lambda p, s: None, lambda: False), spies, request

    return edit(31), edit(31), edit(32)


def test_edit_keeps_the_length_and_the_sound_and_changes_the_picture(edits, source):
    (result, _, _), _, _ = edits
    probe = probe_mp4(result.mp4, decode_frames=True, decode_audio=True)
    original = probe_mp4(source, decode_frames=True, decode_audio=True)
    assert (probe.width, probe.height, probe.frame_count) == (720, 1280, 24) and abs(probe.duration_s - 1.0) < 0.05
    assert float(np.abs(probe.frames[12].astype(int) - original.frames[12].astype(int)).mean()) > 10
    # The source's tone is kept as the edit's sound (LTX-2's sound of a partial run is not).
    n = min(probe.audio.shape[1], original.audio.shape[1]) - 4800
    a, b = probe.audio[0, 2400:n], original.audio[0, 2400:n]
    assert float(np.corrcoef(a, b)[0, 1]) > 0.95
    report = result.report
    assert report["pipeline"] == "edit" and report["prompt"] == "make it night"
    assert report["sigmas"][0] == pytest.approx(EDIT_STRENGTH) and report["conditioning"]["strength"] == EDIT_STRENGTH
    assert report["audio"]["kept"] == "the source clip's sound"


def test_edit_starts_from_the_sources_latents_noised_to_the_strength(ltx2_model, edits, source):
    (_, spies, request), _, _ = edits
    kwargs, (latents, mask, _, _) = spies.prepared[0]
    pipe = ltx2_model.cond
    plan = ltx2_model.plan(request)
    frames = probe_mp4(source, decode_frames=True).frames
    expected = encode_like_the_pipeline(pipe, fit_frames(frames + [frames[-1]], plan))  # 25 = 8k+1 frames
    given = pipe._normalize_latents(
        kwargs["latents"].float(), pipe.vae.latents_mean.float(), pipe.vae.latents_std.float()
    )
    given = pipe._pack_latents(given, 1, 1).cpu()
    # bf16 latents, normalized in another order here than in the pipeline: equal to bf16 rounding.
    assert float((given - expected).abs().max()) < 0.05 and float((given - expected).abs().mean()) < 0.01
    assert kwargs["noise_scale"] == pytest.approx(EDIT_STRENGTH)
    assert bool((mask == 0).all())  # every token is denoised
    # Flow matching at sigma s: x = s * noise + (1 - s) * x0; what is left over is unit noise times s.
    residual = (latents.cpu() - (1 - EDIT_STRENGTH) * expected) / EDIT_STRENGTH
    assert 0.8 < float(residual.std()) < 1.2 and abs(float(residual.mean())) < 0.2


def test_edit_is_deterministic_per_seed(edits):
    (first, _, _), (again, _, _), (other, _, _) = edits
    assert again.mp4 == first.mp4 and other.mp4 != first.mp4


@pytest.mark.parametrize(
    "kind,video,seconds,message",
    [
        ("extend", b"not an mp4 at all", 4, "the source video of this extension is not a readable MP4"),
        ("edit", b"not an mp4 at all", 1, "the source video of this edit is not a readable MP4"),
        ("extend", "five frames", 4, "too short to extend: it has 5 frame(s), LTX-2 conditions on its last 9"),
        ("edit", "one second", 4, "too short for a 4 s edit: it has 24 frame(s)"),
        ("extend", None, 4, "needs the source clip's video"),
    ],
)
def test_bad_sources_are_refused_before_anything_runs(ltx2_model, source, kind, video, seconds, message):
    video = {"five frames": _source(5, audio=False), "one second": source}.get(video, video)
    clip = SourceClip(kind, video=video, instruction="make it night", plan=None if video else {"scene": "x"})
    request = ModelRequest(prompt="a cat", seconds=seconds, seed=1, source=clip)
    with Spies(ltx2_model) as spies, pytest.raises(ModelInputError) as caught:
        ltx2_model.generate(request, lambda p, s: None, lambda: False)
    assert message in caught.value.message
    assert not spies.runs and not ltx2_model._lock.locked()


def test_the_condition_pipeline_shares_the_one_set_of_weights(ltx2_model):
    for name in ("transformer", "vae", "audio_vae", "connectors", "vocoder", "text_encoder"):
        assert getattr(ltx2_model.cond, name) is getattr(ltx2_model.t2v, name)
    assert ltx2_model.cond.scheduler is ltx2_model.t2v.scheduler  # Kinora's sigmas-as-given scheduler
