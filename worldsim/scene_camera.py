"""The camera path of a scene (worldsim.scene): framing, the prompt's camera move, and an extension's
ease from where the source's camera stopped."""

from __future__ import annotations

import random

import numpy as np

from worldsim.scene_model import Scene


def _subject_x(scene: Scene) -> np.ndarray | None:
    """Per-frame x of what the camera should follow: the first body, else the first character, else the first
    vehicle."""
    if scene.bodies:
        return scene.sim.positions[:, 0, 0].numpy()
    if scene.characters:
        return scene.characters[0].x_path
    if scene.vehicles:
        v = scene.vehicles[0]
        return v["x0"] + v["speed"] * (np.arange(scene.frames) / scene.fps + v.get("t0", 0.0)) + v["width"] / 2
    return None


def _camera(scene: Scene, focus: tuple[float, float], rng: random.Random) -> np.ndarray:
    w, h = scene.plan["size"]
    aspect = w / h
    span = max(focus[1] - focus[0], 4.0)
    # Landscape fits the action's width; portrait keeps people large and follows the action.
    view_h = float(np.clip(span * 1.2 if aspect < 1 else span / aspect * 1.05, 4.5, 9.0 if aspect < 1 else 12.0))
    # tall things (the backboard, people, a thrown ball's apex) stay clear of the top
    # fifth of the frame, where a cinematic letterbox would hide them
    top = 4.4 if any(d["kind"] == "hoop" for d in scene.decor) else 0.0
    top = max([top] + [c.height + 0.6 for c in scene.characters])
    view_h = max(view_h, top / 0.62)
    if scene.plan.get("view_h"):  # a storyboard films every shot with the first shot's lens
        view_h = float(scene.plan["view_h"])
    scene.view_h = view_h
    cx = (focus[0] + focus[1]) / 2
    view_w = view_h * aspect
    follow = None
    subject = _subject_x(scene)
    if view_w < span and subject is not None:
        lo, hi = focus[0] + view_w / 2, focus[1] - view_w / 2
        follow = np.clip(np.convolve(np.pad(subject, 12, mode="edge"), np.ones(25) / 25, mode="valid"), lo, hi)
        cx = float(follow[0])
    reframe = float(scene.plan.get("reframe", 0.0)) * view_w  # a new angle on the same place after a cut
    cx += reframe
    if follow is not None:
        follow = follow + reframe
    base_y = float(np.interp(cx, scene.ground[:, 0], scene.ground[:, 1]))
    cy = base_y + view_h * 0.5 - view_h * 0.2  # ground sits in the lower fifth
    T = scene.frames
    u = np.linspace(0, 1, T)
    ease = u * u * (3 - 2 * u)
    cam = np.zeros((T, 3))
    cam[:, 0], cam[:, 1], cam[:, 2] = cx, cy, view_h
    if follow is not None:
        cam[:, 0] = follow
    move = scene.plan["camera"]
    if move == "pan_left":
        cam[:, 0] = cx + view_w * 0.15 - ease * view_w * 0.3
    elif move == "pan_right":
        cam[:, 0] = cx - view_w * 0.15 + ease * view_w * 0.3
    elif move == "dolly_in":
        cam[:, 2] = view_h * (1 - 0.3 * ease)
    elif move == "dolly_out":
        cam[:, 2] = view_h * (0.75 + 0.3 * ease)
    elif move == "tilt_up":
        cam[:, 1] = cy + ease * view_h * 0.25
    elif move == "tilt_down":
        cam[:, 1] = cy + (1 - ease) * view_h * 0.25
    elif move == "crane_up":
        cam[:, 1] = cy + ease * view_h * 0.25
        cam[:, 2] = view_h * (1 + 0.15 * ease)
    elif move == "tracking" and subject is not None:
        smooth = np.convolve(np.pad(subject, 12, mode="edge"), np.ones(25) / 25, mode="valid")
        cam[:, 0] = smooth
    elif move == "handheld":
        for axis, amp in ((0, 0.04), (1, 0.03)):
            knots = np.array([rng.uniform(-1, 1) for _ in range(T // 12 + 3)])
            cam[:, axis] += amp * view_h * np.interp(np.arange(T) / 12, np.arange(len(knots)), knots)
    # keep the ground visible when the view is lower/higher (zoom about the ground line)
    cam[:, 1] = np.where(move in ("dolly_in", "dolly_out"), base_y + cam[:, 2] * 0.3, cam[:, 1])
    if scene.carry is not None and scene.carry.mode == "continue" and scene.carry.same_place:
        # an extension starts where the source's camera stopped and eases into its own framing
        last = np.asarray(scene.carry.state["camera"], dtype=np.float64)
        u = np.clip(np.arange(T) / (1.5 * scene.fps), 0, 1)
        w = (u * u * (3 - 2 * u))[:, None]
        cam = last[None, :] * (1 - w) + cam * w
    return cam
