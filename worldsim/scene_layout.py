"""Layout and choreography of a scene (worldsim.scene): furniture, scenery, vehicles and the hoop are
placed, the characters scripted (walk, run, jump, dance; a resumed world keeps everyone where they were)
and each prop given its start; what the props do is in worldsim.scene_props."""

from __future__ import annotations

import math
import random

import numpy as np

from worldsim import concepts as C
from worldsim.physics import Body, Static
from worldsim.scene_model import BOARD_OFFSET, RIM_HEIGHT, RIM_RADIUS, Character, Scene
from worldsim.scene_props import _drop, _kick, _shot, _throw


def _layout(scene: Scene, rng: random.Random) -> tuple[float, float]:
    """Place everything, script the characters and give props their launch. Returns the focus x-range."""
    plan, T, fps = scene.plan, scene.frames, scene.fps
    ents = plan["entities"]
    actions = set(plan["actions"])
    people = [e for e in ents if e["category"] in ("character", "animal")]
    props = [e for e in ents if e["category"] == "prop"]
    width = scene.width_m
    court = plan["setting"] == "basketball_court"
    times = np.arange(T) / fps

    # Static furniture and decorations are spread over the middle of the scene.
    furniture_x = width * 0.55
    for e in ents:
        spec = C.ENTITIES[e["kind"]]
        if e["category"] == "furniture":
            x0 = furniture_x - spec["width"] / 2
            top = spec["height"]
            m = C.MATERIALS.get(spec.get("material", "wood"))
            scene.statics.append(
                Static(
                    "segment",
                    (x0, top),
                    (x0 + spec["width"], top),
                    restitution=m["restitution"],
                    friction=m["friction"],
                    material=spec.get("material", "wood"),
                    name=e["kind"],
                )
            )
            scene.decor.append(
                {
                    "id": e["id"],
                    "kind": e["kind"],
                    "x": x0,
                    "width": spec["width"],
                    "height": top,
                    "color": e["color"],
                    "furniture": True,
                }
            )
            furniture_x += spec["width"] + 0.8
        elif e["category"] == "scenery":
            x = rng.uniform(0.15, 0.85) * width
            scene.decor.append(
                {
                    "id": e["id"],
                    "kind": e["kind"],
                    "x": x - spec["width"] / 2,
                    "width": spec["width"],
                    "height": spec["height"],
                    "color": e["color"],
                }
            )
    for e in ents:
        if e["category"] == "vehicle":
            spec = C.ENTITIES[e["kind"]]
            direction = 1 if rng.random() < 0.5 else -1
            speed = spec["speed"] * rng.uniform(0.8, 1.2)
            start = -spec["width"] - 2 if direction > 0 else width + 2
            if e["kind"] in ("rocket", "boat"):
                start = width * rng.uniform(0.3, 0.7)
            vehicle = {
                "id": e["id"],
                "kind": e["kind"],
                "width": spec["width"],
                "height": spec["height"],
                "color": e["color"],
                "x0": start,
                "speed": speed * direction,
                "lane_depth": rng.uniform(0.3, 0.6),
                "t0": 0.0,
            }
            saved = (
                scene.carry.state.get("vehicles", {}).get(e["id"])
                if scene.carry is not None and scene.carry.same_place
                else None
            )
            if saved is not None:  # keeps driving from where it was
                vehicle.update(
                    x0=saved["x0"],
                    speed=saved["speed"],
                    lane_depth=saved["lane_depth"],
                    t0=float(saved["t_end"]) + 1.0 / fps,
                )
            scene.vehicles.append(vehicle)

    hoop_x = width - 2.0
    if court:
        rim = C.MATERIALS["metal"]
        board = C.MATERIALS["wood"]
        board_x = hoop_x + BOARD_OFFSET
        scene.statics += [
            Static(
                "disc",
                (hoop_x - RIM_RADIUS, RIM_HEIGHT),
                radius=0.01,
                restitution=rim["restitution"],
                friction=rim["friction"],
                material="metal",
                name="rim",
            ),
            Static(
                "disc",
                (hoop_x + RIM_RADIUS, RIM_HEIGHT),
                radius=0.01,
                restitution=rim["restitution"],
                friction=rim["friction"],
                material="metal",
                name="rim",
            ),
            Static(
                "segment",
                (board_x, 2.9),
                (board_x, 3.95),
                restitution=board["restitution"] + 0.15,
                friction=board["friction"],
                material="wood",
                name="backboard",
            ),
        ]
        scene.decor.append({"id": "hoop", "kind": "hoop", "x": hoop_x, "board_x": board_x})

    # Characters.
    # keep the cast close enough to share the frame
    spacing = min(width / (len(people) + 1), 3.5)
    first_x = width / 2 - spacing * (len(people) - 1) / 2
    carry = scene.carry
    layout = plan.get("layout") if (plan.get("layout") or {}).get("setting") == plan["setting"] else None
    for index, e in enumerate(people):
        spec = C.ENTITIES[e["kind"]]
        ch = Character(
            e["id"],
            e["kind"],
            e["category"],
            spec["height"] * rng.uniform(0.95, 1.05),
            tuple(e["color"]),
            cameo=e.get("cameo"),
            voice=e.get("voice"),
            frame0=scene.frame0,
        )
        x0 = first_x + spacing * index
        saved = carry.characters.get(e["id"]) if carry is not None else None
        placed = carry.placed(e["id"]) if carry is not None else None
        pinned = layout["entities"].get(e["id"]) if layout is not None else None
        if saved is not None:  # one world: the same character keeps its size
            ch.height = float(saved["height"])
        elif pinned is not None:  # an edit keeps everyone it did not change where they were
            ch.height = float(pinned["height"])
        if pinned is not None and placed is None:
            x0 = float(pinned["x0"])
        if placed is not None:
            x0 = float(placed["x"])
        ch.home = x0
        speed = 0.0
        if "run" in actions:
            speed = 3.2 if ch.category == "character" else 4.5
        elif "walk" in actions or ch.category == "animal":
            speed = 1.3
        ch.facing = 1 if x0 < width / 2 else -1
        if placed is not None:
            ch.facing = int(placed["facing"])
        elif pinned is not None:
            ch.facing = int(pinned["facing"])
        ch.x_path = np.full(T, x0)
        ch.jump = np.zeros(T)
        ch.gait_amp = np.zeros(T)
        ch.arm_pose = ["down"] * T
        ch.mouth = np.zeros(T)
        if speed:
            # walk/run back and forth inside the scene
            span = (width * 0.1, width * 0.9)
            x, d = x0, ch.facing
            if placed is not None:
                d = int(placed.get("dir", ch.facing))
            xs = []
            for _ in range(T + (1 if placed is not None else 0)):  # resumed: frame 0 is one step on
                xs.append(x)
                x += d * speed / fps
                if not span[0] <= x <= span[1]:
                    d = -d
                    x = min(max(x, span[0]), span[1])
            ch.x_path = np.array(xs[1:] if placed is not None else xs)
            ch.gait_amp[:] = min(speed / 3.2, 1.0)
        if placed is not None:
            stride = 0.75 * ch.height if ch.category == "character" else 0.5 * ch.height + 0.2
            ch.phase0 = float(placed.get("gait_phase", 0.0)) + abs(ch.x_path[0] - float(placed["x"])) / stride * math.pi
            ramp = min(8, T)  # the stride eases from the saved one instead of snapping
            ch.gait_amp[:ramp] = np.linspace(float(placed.get("gait_amp", 0.0)), ch.gait_amp[ramp - 1], ramp)
        if "jump" in actions or "dance" in actions:
            period = 1.2 if "jump" in actions else 0.6
            v0 = 3.0 if "jump" in actions else 1.4
            # a character already jumping keeps its rhythm; a resumed one starting now starts on the ground
            clock = index * 0.3
            if placed is not None:
                clock = 0.0 if placed.get("jump_clock") is None else float(placed["jump_clock"]) + 1.0 / fps
            ch.jump_clock = clock
            phase = (times + clock) % period
            air = 2 * v0 / scene.gravity
            ch.jump = np.where(phase < air, v0 * phase - 0.5 * scene.gravity * phase**2, 0.0)
            if "dance" in actions:
                ch.arm_pose = ["wave"] * T
        scene.characters.append(ch)

    # Props: who throws what, or how it starts.
    throwers = [c for c in scene.characters if c.category == "character"]
    focus = (width * 0.2, width * 0.8)
    for index, e in enumerate(props):
        spec = C.ENTITIES[e["kind"]]
        mat = C.MATERIALS[spec["material"]]
        body = Body(
            e["id"],
            spec["radius"],
            spec["mass"],
            mat["restitution"],
            mat["friction"],
            spec["material"],
            hollow=spec.get("hollow", False),
        )
        scene.body_specs.append(
            {
                "id": e["id"],
                "kind": e["kind"],
                "color": e["color"],
                "pattern": spec["pattern"],
                "radius": spec["radius"],
            }
        )
        holder = throwers[index % len(throwers)] if throwers and not {"drop", "roll"} & actions else None
        saved = carry.body(e["id"]) if carry is not None else None
        if saved is not None:  # a resumed body flies on from where it was
            body.position, body.velocity = (saved["x"], saved["y"]), (saved["vx"], saved["vy"])
            body.angle, body.spin = float(saved.get("angle", 0.0)), float(saved.get("spin", 0.0))
            focus = (saved["x"] - 2.5, saved["x"] + 4.0)
        elif holder is not None and court and e["kind"] == "basketball" and index == 0:
            focus = _shot(scene, holder, body, rng, hoop_x, actions)
        elif holder is not None and ("kick" in actions or holder.kind == "soccer_player"):
            focus = _kick(scene, holder, body, rng)
        elif holder is not None:
            focus = _throw(scene, holder, body, rng, actions)
        else:
            focus = _drop(scene, body, rng, actions, index)
        scene.bodies.append(body)
    if not props and scene.characters:
        xs = np.concatenate([c.x_path for c in scene.characters])
        focus = (float(xs.min()) - 1.5, float(xs.max()) + 1.5)
    return focus
