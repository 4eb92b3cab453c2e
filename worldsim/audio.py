"""48 kHz stereo sound for a simulated scene, placed to the sample.

Contacts: damped modal sinusoids of the two materials plus a short noise burst,
scaled by the impulse and starting at the exact contact instant. Footsteps:
filtered thumps at each foot plant. Ambience per setting, a music bed for
cinematic clips, and voices: a glottal pulse train at the speaker's pitch through
vowel formants, one burst per syllable, the same syllables that open the mouth.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from worldsim import concepts as C
from worldsim.scene import Scene

RATE = 48_000
FORMANTS = {"a": (800, 1200), "e": (500, 1900), "i": (320, 2300), "o": (500, 900), "u": (350, 800)}


def _pan(x: float, scene: Scene, k: int) -> tuple[float, float]:
    cx, _, vh = scene.camera[min(k, len(scene.camera) - 1)]
    w, h = scene.plan["size"]
    p = float(np.clip((x - cx) / (vh * w / h / 2), -1, 1))
    return math.cos((p + 1) * math.pi / 4), math.sin((p + 1) * math.pi / 4)


def _place(track: torch.Tensor, sound: torch.Tensor, t: float, gains: tuple[float, float]) -> None:
    start = int(round(t * RATE))
    if start < 0:  # began just before this clip (a resumed world's first frame): its tail
        sound, start = sound[-start:], 0
    if start >= track.shape[1]:
        return
    end = min(start + sound.shape[0], track.shape[1])
    track[0, start:end] += sound[: end - start] * gains[0]
    track[1, start:end] += sound[: end - start] * gains[1]


def _contact_sound(materials: list[str], impulse: float, gen: torch.Generator) -> torch.Tensor:
    length = int(0.5 * RATE)
    t = torch.arange(length, dtype=torch.float32) / RATE
    out = torch.zeros(length)
    for name in materials:
        m = C.MATERIALS.get(name, C.MATERIALS["wood"])
        for i, freq in enumerate(m["modes"]):
            out += torch.sin(2 * math.pi * freq * t) * torch.exp(-t / (m["decay"] / (1 + i * 0.5))) / (1 + i)
        burst = torch.randn(length, generator=gen) * torch.exp(-t / 0.006) * m["noise"] * 2
        out += burst
    loud = min(1.0, 0.15 + 0.35 * math.log1p(impulse * 4))
    return out / len(materials) * loud * 0.5


def _noise_band(n: int, low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    spectrum = torch.fft.rfft(torch.randn(n, generator=gen))
    freqs = torch.fft.rfftfreq(n, 1 / RATE)
    spectrum *= ((freqs > low) & (freqs < high)).float()
    x = torch.fft.irfft(spectrum, n)
    return x / (x.abs().max() + 1e-9)


def _ambience(scene: Scene, n: int, gen: torch.Generator) -> torch.Tensor:
    kind = C.SETTINGS[scene.plan["setting"]]["ambience"]
    t = torch.arange(n, dtype=torch.float32) / RATE
    left = _noise_band(n, 80, 1200, gen)
    right = _noise_band(n, 80, 1200, gen)
    level = {
        "crowd": 0.05,
        "waves": 0.06,
        "city": 0.05,
        "room": 0.012,
        "forest": 0.03,
        "hall": 0.015,
        "wind": 0.05,
        "pool": 0.03,
        "space": 0.006,
        "park": 0.025,
        "road": 0.04,
    }[kind]
    mod = torch.ones(n)
    if kind == "waves":
        mod = 0.5 + 0.5 * torch.sin(2 * math.pi * t / 5.5) ** 2
    elif kind == "wind":
        mod = 0.6 + 0.4 * torch.sin(2 * math.pi * t / 3.1)
    amb = torch.stack([left, right]) * mod * level
    if kind in ("forest", "park"):  # bird chirps
        for _ in range(int(scene.plan["seconds"] * 0.8)):
            start = float(torch.rand(1, generator=gen)) * (scene.plan["seconds"] - 0.3)
            d = torch.arange(int(0.12 * RATE), dtype=torch.float32) / RATE
            chirp = torch.sin(2 * math.pi * (3000 + 9000 * d) * d) * torch.sin(math.pi * d / 0.12) * 0.03
            _place(amb, chirp, start, (0.6, 0.4) if start % 2 < 1 else (0.4, 0.6))
    if scene.plan["weather"] == "rain":
        amb += torch.stack([_noise_band(n, 2000, 9000, gen), _noise_band(n, 2000, 9000, gen)]) * 0.05
    return amb


def _music(scene: Scene, n: int) -> torch.Tensor:
    """A slow minor chord pad for cinematic scenes."""
    t = torch.arange(n, dtype=torch.float32) / RATE
    chords = [(220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7), (164.8, 207.7, 246.9)]
    out = torch.zeros(n)
    bar = 2.5
    for i, chord in enumerate(chords * int(scene.plan["seconds"] / bar / len(chords) + 1)):
        s0, s1 = int(i * bar * RATE), min(int((i + 1) * bar * RATE), n)
        if s0 >= n:
            break
        tt = t[s0:s1] - i * bar
        env = torch.clamp(tt / 0.6, max=1) * torch.clamp((bar - tt) / 0.6, max=1)
        for f in chord:
            out[s0:s1] += (torch.sin(2 * math.pi * f * t[s0:s1]) + 0.3 * torch.sin(4 * math.pi * f * t[s0:s1])) * env
    return torch.stack([out, out]) * 0.02


def _syllable(pitch: float, vowel: str, duration: float, envelope: list[float], stress: float) -> torch.Tensor:
    n = int(duration * RATE)
    t = torch.arange(n, dtype=torch.float32) / RATE
    f0 = pitch * (1 + 0.04 * torch.sin(2 * math.pi * 5 * t)) * (1.06 - 0.12 * t / duration)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / RATE
    # harmonics weighted by formant resonances; the voice profile's envelope shapes the timbre
    f1, f2 = FORMANTS.get(vowel, FORMANTS["a"])
    tilt = envelope or [1.0]
    wave = torch.zeros(n)
    for h in range(1, 24):
        freq = pitch * h
        if freq > 5000:
            break
        weight = 1 / h + 1.6 * math.exp(-(((freq - f1) / 130) ** 2)) + 1.0 * math.exp(-(((freq - f2) / 200) ** 2))
        weight *= tilt[min(h - 1, len(tilt) - 1)] if h <= len(tilt) else tilt[-1] * 0.7
        wave += weight * torch.sin(phase * h)
    # The same rise and fall as the mouth (sin over the syllable), with a quick attack
    # so the syllable starts when the mouth starts to open.
    shape = torch.sin(math.pi * t / duration).clamp(min=0) ** 0.7
    out = wave * shape * torch.clamp(t / 0.01, max=1) * stress
    return out / (out.abs().max() + 1e-9) * 0.28


def synthesize(scene: Scene, tail: float = 0.0, split: bool = False):
    """The scene's sound track, `tail` seconds longer than the scene (sounds ring on and the
    ambience goes on into the tail, for a crossfade into the next shot). With `split`, the bed
    (ambience, music) and the events (contacts, steps, voices) come apart and unnormalised."""
    seconds = scene.plan["seconds"]
    n = int(round((seconds + tail) * RATE))
    gen = torch.Generator().manual_seed(int(scene.plan["seed"]) + 3 + 7919 * int(scene.plan.get("rng_salt", 0)))
    track = _ambience(scene, n, gen)
    if scene.plan["style"] == "cinematic":
        track += _music(scene, n)
    if split:
        bed, track = track, torch.zeros_like(track)
    fps = scene.fps
    for c in scene.sim.contacts if scene.sim is not None else []:
        sound = _contact_sound(c["materials"], c["impulse"], gen)
        _place(track, sound, c["time"], _pan(c["point"][0], scene, int(c["time"] * fps)))
    thump_t = torch.arange(int(0.08 * RATE), dtype=torch.float32) / RATE
    for step in scene.footsteps:
        body = torch.sin(2 * math.pi * 95 * thump_t) * torch.exp(-thump_t / 0.018)
        scuff = torch.randn(thump_t.shape[0], generator=gen) * torch.exp(-thump_t / 0.008) * 0.4
        _place(
            track, (body + scuff) * 0.22 * step["weight"], step["time"], _pan(step["x"], scene, int(step["time"] * fps))
        )
    voices = {ch.id: ch for ch in scene.characters}
    for s in scene.syllables:
        ch = voices[s["speaker"]]
        voice = ch.voice or {"pitch_hz": 150.0, "envelope": []}
        sound = _syllable(
            float(voice["pitch_hz"]), s["vowel"], s["duration"], list(voice.get("envelope") or []), s["stress"]
        )
        k = min(int(s["start"] * fps), scene.frames - 1)  # a line running on over a cut: the last frame's place
        _place(track, sound, s["start"], _pan(float(ch.x_path[k]), scene, k))
    if split:
        return bed.numpy().astype(np.float32), track.numpy().astype(np.float32)
    peak = float(track.abs().max())
    if peak > 0.98:  # keep headroom without moving any onset
        track *= 0.98 / peak
    return track.numpy().astype(np.float32)


def join(tracks: list[np.ndarray], lengths: list[int], crossfade: int = int(0.02 * RATE)) -> np.ndarray:
    """One track from consecutive shots' tracks: shot i fills `lengths[i]` samples, and at each cut
    its tail (which must run `crossfade` samples past its length) fades out under the next shot's
    start with an equal-power crossfade, so nothing clicks at the cut. `crossfade=0` is the naive
    butt join (what a cut click looks like)."""
    total = sum(lengths)
    out = np.zeros((2, total + crossfade), np.float32)
    start = 0
    ramp = np.sin(np.linspace(0.0, np.pi / 2, crossfade, dtype=np.float64)).astype(np.float32) if crossfade else None
    for index, (track, length) in enumerate(zip(tracks, lengths)):
        part = track[:, : length + crossfade].copy()
        if ramp is not None and index > 0:
            part[:, :crossfade] *= ramp  # fade in under the previous shot's tail
        if ramp is not None and index < len(tracks) - 1:
            part[:, length : length + crossfade] *= ramp[::-1]
        elif index == len(tracks) - 1:
            part = part[:, :length]
        out[:, start : start + part.shape[1]] += part
        start += length
    return out[:, :total]


def storyboard_track(scenes: list[Scene], crossfade: float) -> np.ndarray:
    """One sound track for consecutive shots: the beds (ambience, music) crossfade at each cut and
    every event (a ringing contact, a line running on over the cut) plays out in full."""
    lengths = [int(round(s.plan["seconds"] * RATE)) for s in scenes]
    tail = crossfade + max(s.plan.get("run_on_s", 0.0) for s in scenes) + 0.5  # 0.5 s: a contact's ring
    parts = [synthesize(s, tail=tail, split=True) for s in scenes]
    track = join([bed for bed, _ in parts], lengths, int(round(crossfade * RATE)))
    total, start = track.shape[1], 0
    for (_, events), length in zip(parts, lengths):
        end = min(start + events.shape[1], total)
        track[:, start:end] += events[:, : end - start]
        start += length
    peak = float(np.abs(track).max()) if track.size else 0.0
    if peak > 0.98:  # keep headroom without moving any onset
        track *= 0.98 / peak
    return track
