"""What a person sees and hears, checked on decoded clips: styles, determinism,
dialogue with mouth sync and cameo voices, cameo faces, image-to-video, the moving
watermark, the full-length default clip, cancellation and bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from kinora.media.probe import probe_mp4
from kinora.models.contract import Cameo, ModelCancelled, ModelInputError, ModelRequest, VoiceProfile

RATE = 48000
FPS = 24
BALL = "a child bounces a beach ball on the beach at sunrise"


def _png(color, size=(64, 64)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    image.save(out, format="PNG")
    return out.getvalue()


def _diff(a, b) -> float:
    return float(np.mean(np.abs(np.stack(a).astype(np.float32) - np.stack(b).astype(np.float32))))


def test_same_seed_same_clip_and_different_prompts_differ(make_clip, worldsim):
    first = make_clip(BALL, seed=11)
    again = worldsim.generate(first.request, lambda p, s: None, lambda: False)
    decoded = probe_mp4(again.mp4, decode_frames=True, decode_audio=True)
    assert _diff(first.frames, decoded.frames) == 0.0
    assert np.array_equal(first.audio, decoded.audio)
    assert first.report["plan"] == again.report["plan"]
    other = make_clip("a dog chases a ball in the park at sunset", seed=11)
    assert _diff(first.frames, other.frames) > 20
    assert np.abs(first.audio[:, : RATE * 3] - other.audio[:, : RATE * 3]).mean() > 1e-3


def test_each_style_looks_different(make_clip):
    clips = {
        style: make_clip(f"a dog runs in the park, {style} style", seed=5)
        for style in ("realistic", "cinematic", "anime")
    }
    assert {s: c.report["plan"]["style"] for s, c in clips.items()} == {s: s for s in clips}
    for a, b in (("realistic", "cinematic"), ("realistic", "anime"), ("cinematic", "anime")):
        assert _diff(clips[a].frames[::12], clips[b].frames[::12]) > 8, (a, b)
    # cinematic: letterbox bars and a music bed; anime: flat colour bands (fewer distinct colours)
    cine = clips["cinematic"].frames[10]
    assert cine[:40].max() < 30 and cine[-40:].max() < 30
    assert clips["realistic"].frames[10][:40].mean() > 60

    def sky_colours(frame):  # cel shading: the sky is a few flat bands, not a smooth gradient
        return len(np.unique(frame[60:400:2, ::8].reshape(-1, 3) // 4, axis=0))

    assert sky_colours(clips["anime"].frames[10]) * 3 < sky_colours(clips["realistic"].frames[10])


def _mouth_darkness(clip, head: dict, k: int) -> float:
    x, y, r = head["xyr"][k]
    px, py, s = clip.to_pixels(k, x, y)
    hr = r * s
    cx, cy = px + 0.3 * head["facing"] * hr, py + 0.45 * hr
    patch = clip.frames[k][
        int(cy - 0.3 * hr) : int(cy + 0.3 * hr) + 1, int(cx - 0.3 * hr) : int(cx + 0.3 * hr) + 1
    ].astype(np.float32)
    mouth_red = (patch[..., 0] > patch[..., 1] * 2.5) & (patch[..., 0] < 160)
    return float(mouth_red.mean())


def _pitch(signal: np.ndarray) -> float:
    signal = signal - signal.mean()
    corr = np.correlate(signal, signal, mode="full")[len(signal) - 1 :]
    lo, hi = RATE // 500, RATE // 60
    return RATE / (lo + int(np.argmax(corr[lo:hi])))


def test_dialogue_mouth_moves_with_the_voice_and_cameo_pitch_is_used(make_clip):
    clip = make_clip(
        'a person says "hello there my friend, how are you today" in the living room',
        seed=3,
        cameos=[Cameo("alice", [_png((40, 200, 60))], VoiceProfile(230.0, [1.0, 0.8, 0.4, 0.2]))],
    )
    syllables = clip.report["syllables"]
    assert len(syllables) >= 8
    speaker = syllables[0]["speaker"]
    head = clip.report["tracks"]["heads"][speaker]
    assert head["cameo"] == "alice"
    # per frame: mouth opening seen in the video vs voice loudness heard in the audio
    speech = clip.audio.mean(0)
    hop = RATE // FPS
    loud = np.array([np.sqrt(np.mean(speech[k * hop : (k + 1) * hop] ** 2)) for k in range(len(clip.frames))])
    mouth = np.array([_mouth_darkness(clip, head, k) for k in range(len(clip.frames))])
    talking = slice(int(syllables[0]["start"] * FPS), int((syllables[-1]["start"] + syllables[-1]["duration"]) * FPS))
    assert np.corrcoef(mouth[talking], loud[talking])[0, 1] > 0.5
    assert mouth[talking].max() > 3 * (mouth[: int(syllables[0]["start"] * FPS) - 1].mean() + 1e-3)
    # each syllable's voice sits at the cameo's pitch
    pitches = []
    for s in syllables[:6]:
        mid = int((s["start"] + s["duration"] / 2) * RATE)
        pitches.append(_pitch(speech[mid - 1200 : mid + 1200]))
    assert abs(np.median(pitches) - 230.0) / 230.0 < 0.12, pitches
    # the cameo's face crop is on the head: the face colour appears where the head is
    x, y, r = head["xyr"][5]
    px, py, sc = clip.to_pixels(5, x, y)
    rows = slice(int(py - 0.3 * r * sc), int(py + 0.1 * r * sc))
    cols = slice(int(px - 0.5 * r * sc), int(px + 0.5 * r * sc))
    patch = clip.frames[5][rows, cols].reshape(-1, 3).astype(int)
    green = (patch[:, 1] > patch[:, 0] + 60) & (patch[:, 1] > patch[:, 2] + 60)
    assert green.mean() > 0.5


def test_two_cameos_get_their_own_faces(make_clip):
    clip = make_clip(
        "two people walk on the city street",
        seed=4,
        width=1280,
        height=720,
        cameos=[Cameo("ann", [_png((230, 30, 30))]), Cameo("ben", [_png((30, 30, 230))])],
    )
    heads = {h["cameo"]: h for h in clip.report["tracks"]["heads"].values() if h["cameo"]}
    assert set(heads) == {"ann", "ben"}
    for name, channel in (("ann", 0), ("ben", 2)):
        x, y, r = heads[name]["xyr"][0]
        px, py, s = clip.to_pixels(0, x, y)
        assert 0 < px < 1280 and 0 < py < 720, f"{name} is off screen"
        rows = slice(int(py - 0.3 * r * s), int(py + 0.1 * r * s))
        cols = slice(int(px - 0.4 * r * s), int(px + 0.4 * r * s))
        patch = clip.frames[0][rows, cols].reshape(-1, 3).astype(int)
        others = [c for c in range(3) if c != channel]
        dominant = (patch[:, channel] > patch[:, others[0]] + 60) & (patch[:, channel] > patch[:, others[1]] + 60)
        assert dominant.mean() > 0.4, name


def test_image_to_video_uses_the_image_as_plate_with_parallax(make_clip):
    ys, xs = np.mgrid[0:1280, 0:720]
    picture = np.stack([(xs * 255 // 720), (ys * 255 // 1280), np.full_like(xs, 90)], -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    clip = make_clip("a person walks, pan right", seed=2, image=buffer.getvalue())
    assert clip.report["plan"]["image_plate"] is True
    first = clip.frames[0][:600].astype(np.float32)  # upper part: no people there
    # the first frame is the image (scaled to cover the plate): red grows left->right, green top->bottom
    assert np.corrcoef(first[..., 0].mean(0), np.arange(720))[0, 1] > 0.95
    assert np.corrcoef(first[..., 1].mean(1), np.arange(600))[0, 1] > 0.95
    # the camera pans, the plate moves less than the world (parallax) but does move
    last = clip.frames[-1][:600].astype(np.float32)
    mismatch = [np.abs(first[:, 100:600, 0] - last[:, 100 + d : 600 + d, 0]).mean() for d in range(-80, 81)]
    shift = np.argmin(mismatch) - 80
    cam = clip.report["tracks"]["camera"]
    world_shift_px = (cam[-1][0] - cam[0][0]) * 1280 / cam[0][2]
    assert 0 < abs(shift) < abs(world_shift_px)


def test_watermark_is_drawn_and_moves(make_clip):
    plain = make_clip(BALL, seed=6)
    marked = make_clip(BALL, seed=6, watermark="@alice")
    centres = []
    for k in (0, 48, 95):
        diff = np.abs(plain.frames[k].astype(int) - marked.frames[k].astype(int)).sum(-1) > 60
        assert diff.sum() > 100, "watermark text missing"
        ys, xs = np.nonzero(diff)
        assert xs.max() - xs.min() < 400 and ys.max() - ys.min() < 120  # a compact label, not a global change
        centres.append((xs.mean(), ys.mean()))
    assert np.hypot(*np.subtract(centres[0], centres[2])) > 40


def test_default_ten_second_clip(make_clip):
    clip = make_clip(
        "a basketball player misses a three-pointer and the ball bounces off the backboard", seed=9, seconds=10
    )
    probe = clip.probe
    assert (probe.width, probe.height) == (720, 1280) and len(clip.frames) == 240
    assert abs(probe.duration_s - 10.0) < 0.1 and clip.audio.shape[1] >= 10 * RATE - 1024
    timings = clip.report["timings_s"]
    assert set(timings) >= {"plan", "simulate", "render", "audio", "encode"}
    stages = [s for _, s in clip.progress]
    assert stages[0] == "plan" and stages[-1] == "done" and "render" in stages
    assert [p for p, _ in clip.progress] == sorted(p for p, _ in clip.progress)
    thumb = Image.open(io.BytesIO(clip.result.thumbnail_jpeg))
    assert thumb.format == "JPEG" and max(thumb.size) <= 640


def test_cancel_and_bad_input(worldsim):
    calls = {"n": 0}

    def cancelled():
        calls["n"] += 1
        return calls["n"] > 20  # cancelled while rendering

    with pytest.raises(ModelCancelled):
        worldsim.generate(ModelRequest(prompt="a dog runs in the park", seconds=4), lambda p, s: None, cancelled)
    with pytest.raises(ModelInputError, match="image"):
        worldsim.generate(
            ModelRequest(prompt="a dog runs", seconds=4, image=b"not an image"), lambda p, s: None, lambda: False
        )
    with pytest.raises(ModelInputError, match="seconds"):
        worldsim.generate(ModelRequest(prompt="a dog runs", seconds=3), lambda p, s: None, lambda: False)


def test_remix_of_a_clip_edits_its_plan(make_clip):
    parent = make_clip("a child throws a ball in the park", seed=8)
    child = make_clip("make it night and replace the ball with a watermelon", seed=8, remix_plan=parent.report["plan"])
    plan = child.report["plan"]
    assert plan["time_of_day"] == "night" and plan["setting"] == "park"
    assert "watermelon" in [e["kind"] for e in plan["entities"]]
    assert child.report["tracks"]["bodies"]  # the watermelon is simulated
    body = next(iter(child.report["tracks"]["bodies"].values()))
    assert body["kind"] == "watermelon" and body["material"] == "fruit"
    # night is darker than the parent's day, seen in the decoded frames
    assert np.mean(child.frames[20]) < 0.7 * np.mean(parent.frames[20])


@pytest.mark.parametrize("size", [(1280, 720), (1024, 1792), (1792, 1024), (1080, 1920), (1920, 1080)])
def test_every_allowed_size_renders(worldsim, size):
    width, height = size
    request = ModelRequest(
        prompt="a dog chases a ball in the park, cinematic",
        seconds=4,
        width=width,
        height=height,
        seed=1,
        quality="pro",
        watermark="@size",
    )
    result = worldsim.generate(request, lambda p, s: None, lambda: False)
    probe = probe_mp4(result.mp4, decode_frames=True, frame_step=48)
    assert (probe.width, probe.height, probe.fps, probe.frame_count) == (width, height, 24.0, 96)
    assert probe.audio_rate == 48000 and probe.audio_channels == 2
    assert len(probe.frames) == 2 and probe.frames[0].std() > 10  # a picture, not a blank frame
