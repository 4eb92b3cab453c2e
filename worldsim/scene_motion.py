"""Gait and speech of a scene's characters (worldsim.scene): the gait phase and the footsteps it
lands, the syllables of each line and the mouths they open."""

from __future__ import annotations

import math
import random

import numpy as np

from worldsim.scene_model import SPEECH_RUN_ON_S, SYLLABLE_S, Scene


def _footsteps(scene: Scene) -> None:
    """Gait phase from distance travelled; a foot lands at every half cycle."""
    for ch in scene.characters:
        stride = 0.75 * ch.height if ch.category == "character" else 0.5 * ch.height + 0.2
        dist = np.concatenate([[0], np.cumsum(np.abs(np.diff(ch.x_path)))])
        ch.gait_phase = dist / stride * math.pi + ch.phase0
        moving = ch.gait_amp > 0.05
        steps = np.floor(ch.gait_phase / math.pi)
        for k in range(1, scene.frames):
            if steps[k] > steps[k - 1] and moving[k]:
                # sub-frame instant of the step boundary
                frac = (steps[k] * math.pi - ch.gait_phase[k - 1]) / max(ch.gait_phase[k] - ch.gait_phase[k - 1], 1e-9)
                t = (k - 1 + frac) / scene.fps
                scene.footsteps.append(
                    {
                        "time": round(t, 5),
                        "who": ch.id,
                        "x": float(ch.x_path[k]),
                        "weight": 0.6 if ch.gait_amp[k] > 0.6 else 0.35,
                    }
                )
            if ch.jump[k - 1] > 0 and ch.jump[k] <= 0:  # landing after a jump
                scene.footsteps.append(
                    {"time": round(k / scene.fps, 5), "who": ch.id, "x": float(ch.x_path[k]), "weight": 1.0}
                )
    scene.footsteps.sort(key=lambda f: f["time"])


def _syllables(text: str) -> list[str]:
    out = []
    for word in text.split():
        groups = list(__import__("re").findall(r"[aeiouy]+", word.lower())) or [word]
        out += groups
    return out


def _speech(scene: Scene, rng: random.Random) -> None:
    by_id = {c.id: c for c in scene.characters}
    # A line the shot before ran on with (heard across the cut) still moves its speaker's mouth here.
    if scene.carry is not None and scene.carry.mode == "cut":
        scene.carried_syllables = [s for s in scene.carry.state.get("speech", []) if s["speaker"] in by_id]
    t = max([0.6] + [s["start"] + s["duration"] + 0.4 for s in scene.carried_syllables])
    # A storyboard's shot (not the last) lets a line run on over the cut: a sound bridge.
    limit = scene.plan["seconds"] + (SPEECH_RUN_ON_S if scene.plan.get("run_on") else -0.2)
    for line in scene.plan.get("dialogue", []):
        ch = by_id.get(line["speaker"])
        if ch is None:
            continue
        for index, vowel in enumerate(_syllables(line["text"])):
            dur = SYLLABLE_S * rng.uniform(0.8, 1.2)
            if t + dur > limit:
                break
            scene.syllables.append(
                {
                    "speaker": ch.id,
                    "start": round(t, 4),
                    "duration": round(dur, 4),
                    "vowel": vowel[0] if vowel[0] in "aeiou" else "a",
                    "stress": 1.0 if index % 3 == 0 else 0.7,
                }
            )
            t += dur + (0.08 if rng.random() < 0.2 else 0.0)
        t += 0.4
    fps = scene.fps
    for s in scene.syllables + scene.carried_syllables:
        ch = by_id[s["speaker"]]
        k0, k1 = int(math.floor(s["start"] * fps)), int((s["start"] + s["duration"]) * fps)
        for k in range(max(k0, 0), min(k1 + 1, scene.frames)):
            u = (k / fps - s["start"]) / s["duration"]
            if 0 <= u <= 1:
                ch.mouth[k] = max(ch.mouth[k], math.sin(math.pi * u) * s["stress"])
