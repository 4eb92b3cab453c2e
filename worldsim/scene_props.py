"""What the props of a scene do (worldsim.scene): thrown (a jump shot at the hoop, a throw to a
catcher, a bounce), kicked or dropped, as scripted launches the physics then carries on; animals
that chase the ball afterwards, and whether a shot was made."""

from __future__ import annotations

import math
import random

import numpy as np

from worldsim.physics import Body
from worldsim.scene_model import BOARD_OFFSET, RIM_HEIGHT, RIM_RADIUS, Character, Scene


def _hand_path(ch: Character, t_release: float, fps: int, lift: float, ground):
    """Where the throwing hand is: it rises from chest height to above the head by release."""

    def path(t: float) -> tuple[float, float]:
        k = min(max(int(round(t * fps)), 0), len(ch.x_path) - 1)
        u = min(max((t - (t_release - 0.5)) / 0.5, 0.0), 1.0)
        x = ch.x_path[k] + ch.facing * (0.3 - 0.15 * u) * ch.height / 1.75
        y = ground(ch.x_path[k]) + ch.height * (0.62 + lift * u) + ch.jump[k]
        return (float(x), float(y))

    return path


def _ballistic(p0, p1, angle_deg: float, g: float) -> tuple[float, float]:
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    th = math.radians(angle_deg)
    denom = 2 * math.cos(th) ** 2 * (abs(dx) * math.tan(th) - dy)
    speed = math.sqrt(g * dx * dx / max(denom, 1e-6))
    return (math.copysign(speed * math.cos(th), dx), speed * math.sin(th))


def _script_throw(scene: Scene, ch: Character, body: Body, t_release: float, target, angle: float, jump: float = 0.0):
    fps, T = scene.fps, scene.frames
    times = np.arange(T) / fps
    ch.facing = 1 if target[0] >= ch.x_path[0] else -1
    if jump:
        # a jump shot: leave the floor 0.25 s before release
        t0 = t_release - 0.25
        tt = times - t0
        air = 2 * jump / scene.gravity
        ch.jump = np.where((tt > 0) & (tt < air), jump * tt - 0.5 * scene.gravity * tt**2, ch.jump)
    # Stand still while throwing so the throw is seen.
    k = int(t_release * fps)
    ch.x_path[: k + 12] = ch.x_path[0]
    if k + 12 < T:
        ch.x_path[k + 12 :] = ch.x_path[k + 12 :] - ch.x_path[k + 12] + ch.x_path[0]
    ch.gait_amp[: k + 12] = 0
    ch.arm_pose = ["hold" if t < t_release - 0.5 else "up" if t < t_release + 0.3 else "down" for t in times]
    path = _hand_path(ch, t_release, fps, 0.55, scene.ground_height)
    body.held_path = path
    body.release_time = t_release
    p0 = path(t_release)
    body.release_velocity = _ballistic(p0, target, angle, scene.gravity)
    body.release_spin = -ch.facing * 6.0  # backspin
    return p0


def _shot(
    scene: Scene, ch: Character, body: Body, rng: random.Random, hoop_x: float, actions: set
) -> tuple[float, float]:
    distance = 6.75 if "shoot" in actions or "miss" in actions else 4.6
    ch.x_path[:] = hoop_x - distance
    ch.gait_amp[:] = 0
    ch.jump[:] = 0
    intent = "miss" if "miss" in actions else "make" if "make" in actions else rng.choice(["make", "miss"])
    board_x = hoop_x + BOARD_OFFSET
    if intent == "miss":
        # aim high off the glass; the bounce is up to the physics
        target = (board_x - body.radius + 0.02, RIM_HEIGHT + rng.uniform(0.45, 0.7))
        angle = rng.uniform(38, 44)
    else:
        target = (hoop_x + rng.uniform(-0.03, 0.03), RIM_HEIGHT + 0.02)
        angle = rng.uniform(52, 56)
    _script_throw(scene, ch, body, 1.0, target, angle, jump=2.0)
    scene.outcome["intent"] = intent
    return (hoop_x - distance - 1.0, board_x + 1.0)


def _throw(scene: Scene, ch: Character, body: Body, rng: random.Random, actions: set) -> tuple[float, float]:
    others = [c for c in scene.characters if c is not ch]
    if "bounce" in actions and not others:
        # bounce it hard on the ground in front of the thrower
        goal_x = float(ch.x_path[0] + ch.facing * 0.9)
        _script_throw(scene, ch, body, 0.9, (goal_x, body.radius), 10, 0)
        body.release_velocity = (ch.facing * 1.0, -4.0)
    else:
        goal_x = others[0].x_path[0] if others else ch.x_path[0] + ch.facing * rng.uniform(4.0, 6.0)
        goal_x = min(max(goal_x, 0.5), scene.width_m - 0.5)
        # aim at the ground by the catcher (or ahead) so the throw lands inside the clip
        landing = (goal_x, float(scene.ground_height(goal_x)) + body.radius)
        _script_throw(scene, ch, body, 0.9 + 0.2 * rng.random(), landing, rng.uniform(30, 42))
    xs = [float(ch.x_path[0]), float(goal_x)] + [float(c.x_path[0]) for c in others]
    return (min(xs) - 1.5, max(xs) + 1.5)


def _kick(scene: Scene, ch: Character, body: Body, rng: random.Random) -> tuple[float, float]:
    fps = scene.fps
    ball_x = ch.x_path[0] + ch.facing * 2.5
    body.position = (ball_x, float(np.interp(ball_x, scene.ground[:, 0], scene.ground[:, 1])) + body.radius)
    t_kick = 1.2
    k = int(t_kick * fps)
    run = np.linspace(ch.x_path[0], ball_x - ch.facing * 0.35, k)
    ch.x_path[:k] = run
    ch.x_path[k:] = run[-1]
    ch.gait_amp[:k] = 1.0
    ch.gait_amp[k:] = 0
    body.kicks.append((t_kick, (ch.facing * rng.uniform(5.0, 7.0), rng.uniform(2.0, 4.0))))
    ends = (float(ch.x_path[0]) - ch.facing * 1.0, ball_x + ch.facing * 6.0)
    return (min(ends), max(ends))


def _drop(scene: Scene, body: Body, rng: random.Random, actions: set, index: int) -> tuple[float, float]:
    tables = [s for s in scene.statics if s.kind == "segment" and s.name not in ("ground", "wall", "backboard")]
    if tables:
        top = tables[0]
        # start on the table and roll off its edge
        x = top.b[0] - 0.3 - 0.25 * index
        body.position = (x, top.a[1] + body.radius + 0.002)
        body.velocity = (rng.uniform(0.8, 1.4), 0.0)
    else:
        x = scene.width_m * rng.uniform(0.35, 0.55) + index * 0.8
        body.position = (x, 2.0 + index * 0.7 + float(np.interp(x, scene.ground[:, 0], scene.ground[:, 1])))
        body.velocity = (rng.uniform(1.0, 2.5) if "roll" in actions else rng.uniform(-0.6, 0.6), 0.0)
    return (body.position[0] - 2.5, body.position[0] + 4.0)


def _followers(scene: Scene) -> None:
    """Animals chase the first free prop (after the physics, since they never touch it)."""
    if not scene.bodies:
        return
    ball = scene.sim.positions[:, 0, 0].numpy()
    for ch in scene.characters:
        if ch.category != "animal" or not ("run" in scene.plan["actions"] or "kick" in scene.plan["actions"] or True):
            continue
        x = ch.x_path[0]
        xs = []
        for target in ball:
            step = np.clip(target - 0.6 * np.sign(target - x) - x, -4.5 / scene.fps, 4.5 / scene.fps)
            x = x + step
            xs.append(x)
        ch.x_path = np.array(xs)
        speed = np.abs(np.gradient(ch.x_path)) * scene.fps
        ch.gait_amp = np.clip(speed / 4.5, 0, 1)
        ch.facing = 1


def _outcome(scene: Scene) -> None:
    hoop = next((d for d in scene.decor if d["kind"] == "hoop"), None)
    if hoop is None or not scene.bodies:
        return
    p = scene.sim.positions[:, 0].numpy()
    made = False
    for k in range(1, len(p)):
        if p[k - 1, 1] >= RIM_HEIGHT > p[k, 1] and abs(p[k, 0] - hoop["x"]) < RIM_RADIUS:
            made = True
    hits = sorted({c["other"] for c in scene.sim.contacts if c["other"] in ("rim", "backboard")})
    scene.outcome.update(result="made" if made else "missed", touched=hits)
