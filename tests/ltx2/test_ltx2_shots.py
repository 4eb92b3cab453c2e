"""Storyboards on the tiny LTX-2 store: shot by shot, each later shot conditioned on the
previous shot's last frames, joined at exact boundaries into one clip with one sound
track (no click at a cut), progress and cancel across shots. The clip is decoded back."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from ltx2_spies import Spies, encode_like_the_pipeline
from PIL import Image

from kinora.media.probe import probe_mp4
from kinora.models.contract import ModelCancelled, ModelInputError, ModelRequest, Shot
from kinora.models.ltx2_frames import _to_frames
from kinora.models.ltx2_shots import CROSSFADE_SAMPLES, Piece, join_audio, to_uint8

SHOTS = [Shot("a cat jumps over a fence", 2), Shot("a robot dancing in the rain", 2, camera="pan_left")]


@pytest.fixture(scope="module")
def storyboard(ltx2_model):
    events: list = []
    request = ModelRequest(prompt="two shots", seconds=4, seed=11, watermark="@kinora", shots=SHOTS)
    with Spies(ltx2_model) as spies:
        result = ltx2_model.generate(request, lambda p, s: events.append((p, s)), lambda: False)
    return request, result, events, spies


def test_shots_make_one_clip_of_the_total_length(storyboard):
    _, result, events, spies = storyboard
    probe = probe_mp4(result.mp4, decode_frames=True, decode_audio=True)
    assert (probe.width, probe.height, probe.fps, probe.frame_count) == (720, 1280, 24.0, 96)
    assert abs(probe.duration_s - 4.0) < 0.05 and probe.audio_rate == 48000
    assert probe.audio.shape[1] >= 4 * 48000 - 2048 and float(np.abs(probe.audio).max()) > 1e-3
    report = result.report
    assert report["pipeline"] == "storyboard" and report["frames"] == 96 and report["seconds"] == 4
    assert [(s["shot"], s["start_s"], s["end_s"]) for s in report["shots"]] == [(1, 0, 2), (2, 2, 4)]
    assert report["shots"][0]["prompt"] == "a cat jumps over a fence"
    assert report["shots"][1]["prompt"] == "a robot dancing in the rain The camera pans left."  # camera in words
    assert report["shots"][0]["pipeline"] == "text_to_video" and report["shots"][1]["pipeline"] == "condition"
    assert report["shots"][1]["conditioning"] == "previous shot's last 9 frames"
    assert [s["generated_frames"] for s in report["shots"]] == [49, 57]  # 48 + 1 to the 8k+1 grid; 9 + 48
    # Progress across both shots: in order, one "decode" (the last shot's last step), ending at 100.
    percents, stages = [p for p, _ in events], [s for _, s in events]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert stages.count("decode") == 1 and stages.count("denoise") == 3 and stages[-2:] == ["encode", "done"]
    assert len(spies.runs) == 2


def test_the_cut_is_exactly_at_the_shot_boundary(ltx2_model, storyboard):
    request, result, _, spies = storyboard
    (_, first), (_, second) = spies.runs
    plan = ltx2_model.plan(request)
    crop = (plan.crop_width, plan.crop_height)
    frames = _to_frames(
        np.concatenate([to_uint8(first[:48]), to_uint8(second[9:57])]), 96, 720, 1280, "@kinora", 24, crop=crop
    )
    decoded = probe_mp4(result.mp4, decode_frames=True).frames

    def diff(a, b):
        return float(np.abs(a.astype(int) - b.astype(int)).mean())

    for index in (0, 47, 48, 95):
        assert diff(decoded[index], frames[index]) < 12.0, index  # H.264 loss only (noise-like pictures)
    # Frame 47 is shot 1's last frame and 48 shot 2's first kept one (after its 9 context frames).
    assert diff(decoded[47], frames[47]) < diff(decoded[47], frames[48]) / 3
    assert diff(decoded[48], frames[48]) < diff(decoded[48], frames[47]) / 3


def test_the_second_shot_is_conditioned_on_the_first_shots_last_frames(ltx2_model, storyboard):
    _, _, _, spies = storyboard
    (_, first), (second_kwargs, _) = spies.runs
    context = second_kwargs["context"]
    assert context.dtype == np.uint8 and np.array_equal(context, to_uint8(first[39:48]))  # shot 1's last 9 frames
    assert len(spies.prepared) == 1
    _, (latents, mask, clean, _) = spies.prepared[0]
    cells = (160 // 32) * (96 // 32)  # tokens per latent frame
    conditioned = 2 * cells  # 9 frames = 2 latent frames of the causal VAE (1 + 8)
    assert mask.shape[1] == 8 * cells  # 57 frames = 8 latent frames
    assert bool((mask[0, :conditioned] == 1).all()) and bool((mask[0, conditioned:] == 0).all())
    # The clean conditioning tokens are the VAE's encoding of exactly those frames.
    expected = encode_like_the_pipeline(ltx2_model.cond, context)
    assert torch.allclose(clean[:, :conditioned].cpu(), expected, atol=1e-2)
    # ...and they are still there, unchanged, in the denoised latents that get decoded.
    final = spies.final[-1]
    assert torch.equal(final[:, :conditioned].cpu(), clean[:, :conditioned].cpu())
    assert not torch.allclose(final[:, conditioned:].cpu(), clean[:, conditioned:].cpu())


def test_the_sound_has_no_click_at_the_cut(storyboard):
    _, result, _, _ = storyboard
    audio = probe_mp4(result.mp4, decode_audio=True).audio
    cut = 2 * 48000
    around = audio[:, cut - 2048 : cut + 2048]
    assert float(np.abs(np.diff(around, axis=1)).max()) < 0.1
    assert float(np.abs(around).max()) > 1e-3  # not silence at the join


def test_join_audio_crossfades_or_fades_without_a_jump():
    rate, fps = 48000, 24
    t = np.arange(3 * rate) / rate
    loud = np.stack([0.9 * np.cos(2 * np.pi * 220 * t)] * 2).astype(np.float32)  # at its peak at the cut
    other = np.stack([-0.9 * np.cos(2 * np.pi * 330 * t)] * 2).astype(np.float32)
    frames = np.zeros((24, 2, 2, 3), np.uint8)  # 1 s of frames per piece
    lead = 9 * rate // fps
    joined = join_audio([Piece(frames, loud, 0), Piece(frames, other, lead)], fps, 2 * rate)
    naive = np.concatenate([loud[:, :rate], other[:, lead : lead + rate]], axis=1)
    assert float(np.abs(np.diff(naive, axis=1)).max()) > 0.5  # cut as is, it clicks
    assert float(np.abs(np.diff(joined, axis=1)).max()) < 0.1
    assert np.array_equal(joined[:, : rate - CROSSFADE_SAMPLES], loud[:, : rate - CROSSFADE_SAMPLES])
    assert np.array_equal(joined[:, rate:], other[:, lead : lead + rate])
    # A shot that starts on its own image has no lead-in: fade out, then in.
    faded = join_audio([Piece(frames, loud, 0), Piece(frames, other, 0)], fps, 2 * rate)
    assert float(np.abs(np.diff(faded, axis=1)).max()) < 0.1


def _png() -> bytes:
    yy, xx = np.mgrid[0:128, 0:96]
    out = io.BytesIO()
    Image.fromarray(np.stack([yy * 2, xx * 2, (xx + yy)], -1).clip(0, 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def test_a_shot_with_its_own_image_starts_on_it_without_the_previous_frames(ltx2_model):
    request = ModelRequest(
        prompt="two shots",
        seconds=4,
        seed=12,
        shots=[Shot("a cat jumps over a fence", 2), Shot("a robot dancing", 2, image=_png())],
    )
    with Spies(ltx2_model) as spies:
        result = ltx2_model.generate(request, lambda p, s: None, lambda: False)
    assert not spies.prepared  # the condition pipeline never ran
    assert spies.runs[1][0]["context"] is None
    shot = result.report["shots"][1]
    assert shot["pipeline"] == "image_to_video" and shot["conditioning"] == "shot's own image"
    assert shot["generated_frames"] == 49
    probe = probe_mp4(result.mp4, decode_audio=True)
    assert probe.frame_count == 96
    assert float(np.abs(np.diff(probe.audio[:, 2 * 48000 - 2048 : 2 * 48000 + 2048], axis=1)).max()) < 0.1


def test_a_bad_shot_image_is_refused_before_anything_runs(ltx2_model):
    request = ModelRequest(
        prompt="two shots", seconds=4, seed=12, shots=[Shot("a cat", 2), Shot("a robot", 2, image=b"not an image")]
    )
    with Spies(ltx2_model) as spies, pytest.raises(ModelInputError, match="shot 2's image is not a readable image"):
        ltx2_model.generate(request, lambda p, s: None, lambda: False)
    assert not spies.runs


class _Count:
    def __init__(self):
        self.calls = 0

    def __call__(self, *_):
        self.calls += 1


def test_cancel_between_shots_stops_before_the_next_shot(ltx2_model):
    flag = {"set": False}
    vocoder = _Count()
    handles = [
        ltx2_model.t2v.vocoder.register_forward_hook(lambda *_: flag.update(set=True)),
        ltx2_model.t2v.vocoder.register_forward_pre_hook(vocoder),
    ]
    try:
        with Spies(ltx2_model) as spies, pytest.raises(ModelCancelled):
            ltx2_model.generate(
                ModelRequest(prompt="two shots", seconds=4, seed=13, shots=SHOTS),
                lambda p, s: None,
                lambda: flag["set"],
            )
    finally:
        for handle in handles:
            handle.remove()
    assert vocoder.calls == 1 and len(spies.runs) == 1 and not spies.prepared  # shot 2 never started
    assert not ltx2_model._lock.locked()


def test_cancel_inside_a_later_shot_stops_it(ltx2_model):
    flag = {"set": False}
    vocoder, transformer = _Count(), _Count()
    handles = [
        ltx2_model.t2v.vocoder.register_forward_pre_hook(vocoder),
        ltx2_model.t2v.transformer.register_forward_pre_hook(transformer),
    ]
    try:
        with Spies(ltx2_model) as spies, pytest.raises(ModelCancelled):
            spies.on_prepare = lambda: flag.update(set=True, at=transformer.calls)  # shot 2 is being set up
            ltx2_model.generate(
                ModelRequest(prompt="two shots", seconds=4, seed=13, shots=SHOTS),
                lambda p, s: None,
                lambda: flag["set"],
            )
    finally:
        for handle in handles:
            handle.remove()
    # Shot 2 stopped at its first transformer block: no transformer pass finished, no sound decoded.
    assert len(spies.prepared) == 1 and vocoder.calls == 1 and transformer.calls == flag["at"] + 1
    assert not ltx2_model._lock.locked()
