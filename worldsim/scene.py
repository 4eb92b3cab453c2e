"""Plan -> a simulated scene: layout, static geometry, choreography of characters,
rigid-body physics, camera path, footsteps and speech timing.

Side view: x to the right, y up, metres; the ground is y = ground_height(x).

The scene's data (Character, Carry, Scene and the hoop's and speech's dimensions) is in
worldsim.scene_model; the layout and choreography in worldsim.scene_layout; what the props do in
worldsim.scene_props; gait and speech in worldsim.scene_motion; the camera path in
worldsim.scene_camera. This module builds a scene from a plan and saves its last frame's state.
"""

from __future__ import annotations

import random

import numpy as np

from worldsim import concepts as C
from worldsim.physics import Static, simulate
from worldsim.scene_camera import _camera
from worldsim.scene_layout import _layout
from worldsim.scene_model import Scene, _carry
from worldsim.scene_motion import _footsteps, _speech
from worldsim.scene_props import _followers, _outcome


def _ground_line(setting: str, width: float) -> np.ndarray:
    if setting == "snow_slope":  # a real incline: things roll downhill
        xs = np.array([-60.0, width + 60.0])
        return np.stack([xs, -0.22 * (xs - width / 2)], axis=1)
    return np.array([[-60.0, 0.0], [width + 60.0, 0.0]])


def build_scene(plan: dict, fps: int = 24) -> Scene:
    """Simulate one plan. `plan["resume"]` ({"state", "mode"}) continues a saved world;
    `plan["rng_salt"]` (shots and extensions after the first) varies the random choices."""
    rng = random.Random(plan["seed"] * 7919 + 17 + 104729 * int(plan.get("rng_salt", 0)))
    setting = C.SETTINGS[plan["setting"]]
    frames = int(plan["seconds"] * fps)
    width = setting["width"]
    ground = _ground_line(plan["setting"], width)
    material = setting["ground"]
    mat = C.MATERIALS[material]
    statics = [
        Static(
            "segment",
            tuple(ground[i]),
            tuple(ground[i + 1]),
            restitution=mat["restitution"],
            friction=mat["friction"],
            material=material,
            name="ground",
        )
        for i in range(len(ground) - 1)
    ]
    if setting["sky"] == "indoor" and plan["setting"] != "basketball_court":
        wall = C.MATERIALS["wood"]
        statics += [
            Static(
                "segment",
                (-0.05, -1.0),
                (-0.05, 6.0),
                restitution=wall["restitution"],
                friction=wall["friction"],
                material="wood",
                name="wall",
            ),
            Static(
                "segment",
                (width + 0.05, -1.0),
                (width + 0.05, 6.0),
                restitution=wall["restitution"],
                friction=wall["friction"],
                material="wood",
                name="wall",
            ),
        ]
    scene = Scene(plan, fps, frames, setting.get("gravity", 9.81), width, statics, [], [], [], [], [], ground=ground)
    scene.carry = _carry(plan)
    if scene.carry is not None:
        # the world clock runs on: this scene's frame 0 is one frame after the saved last frame
        scene.t0 = float(scene.carry.state["time"]) + 1.0 / fps
        scene.frame0 = int(scene.carry.state["frame"]) + 1
    focus = _layout(scene, rng)
    scene.sim = simulate(
        scene.bodies, scene.statics, plan["seconds"], fps, scene.gravity, advance_first=scene.carry is not None
    )
    _followers(scene)
    _outcome(scene)
    _speech(scene, rng)
    _footsteps(scene)
    scene.camera = _camera(scene, focus, rng)
    carry = scene.carry
    if carry is not None and carry.mode == "continue" and carry.same_place and "far_anchor" in carry.state:
        scene.far_anchor = np.asarray(carry.state["far_anchor"], dtype=np.float64)  # the far layer stays put
    else:
        scene.far_anchor = scene.camera[0].copy()
    # where everyone stood, so an edit of this clip can keep them there
    plan["layout"] = {
        "setting": plan["setting"],
        "entities": {
            ch.id: {"x0": float(ch.home), "height": float(ch.height), "facing": ch.facing} for ch in scene.characters
        },
    }  # unrounded: the edit redraws the same world
    return scene


STATE_VERSION = 1


def scene_state(scene: Scene) -> dict:
    """The world at the scene's last frame, as small JSON: what an extension needs to carry on."""
    k, fps = scene.frames - 1, scene.fps

    def r(v) -> float:
        return round(float(v), 5)

    characters = {}
    for ch in scene.characters:
        step = float(ch.x_path[k] - ch.x_path[k - 1]) if k > 0 else 0.0
        characters[ch.id] = {
            "kind": ch.kind,
            "x": r(ch.x_path[k]),
            "dir": (1 if step > 0 else -1) if abs(step) > 1e-9 else ch.facing,
            "facing": ch.facing,
            "height": r(ch.height),
            "gait_phase": r(ch.gait_phase[k]),
            "gait_amp": r(ch.gait_amp[k]),
            "jump": r(ch.jump[k]),
            "pose": ch.arm_pose[k] if ch.arm_pose else "down",
            "jump_clock": None if ch.jump_clock is None else r(ch.jump_clock + k / fps),
        }
    bodies = {}
    for i, spec in enumerate(scene.body_specs):
        x, y = scene.sim.positions[k, i].tolist()
        vx, vy = scene.sim.velocities[k, i].tolist()
        spin = float(scene.sim.final_spin[i]) if scene.sim.final_spin is not None else 0.0
        bodies[spec["id"]] = {
            "kind": spec["kind"],
            "x": r(x),
            "y": r(y),
            "vx": r(vx),
            "vy": r(vy),
            "angle": r(scene.sim.angles[k, i]),
            "spin": r(spin),
        }
    vehicles = {}
    for v in scene.vehicles:
        t_end = v.get("t0", 0.0) + k / fps
        vehicles[v["id"]] = {
            "kind": v["kind"],
            "x0": r(v["x0"]),
            "speed": r(v["speed"]),
            "lane_depth": r(v["lane_depth"]),
            "t_end": r(t_end),
            "x": r(v["x0"] + v["speed"] * t_end),
        }
    plan = scene.plan
    return {
        "version": STATE_VERSION,
        "setting": plan["setting"],
        "time_of_day": plan["time_of_day"],
        "weather": plan["weather"],
        "style": plan["style"],
        "seed": plan["seed"],
        "rng_salt": int(plan.get("rng_salt", 0)),
        "time": r(scene.t0 + k / fps),
        "frame": scene.frame0 + k,
        "fps": fps,
        "camera": [r(v) for v in scene.camera[k]],
        "view_h": r(scene.view_h),
        "far_anchor": [r(v) for v in scene.far_anchor],
        "characters": characters,
        "bodies": bodies,
        "vehicles": vehicles,
        # syllables still sounding after the last frame (a line running on over a storyboard's cut),
        # timed from the cut
        "speech": [
            {**s, "start": r(s["start"] - plan["seconds"])}
            for s in scene.syllables + scene.carried_syllables
            if s["start"] + s["duration"] > plan["seconds"]
        ],
    }
