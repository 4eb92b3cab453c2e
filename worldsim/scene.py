"""Plan -> a simulated scene: layout, static geometry, choreography of characters,
rigid-body physics, camera path, footsteps and speech timing.

Side view: x to the right, y up, metres; the ground is y = ground_height(x).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from worldsim import concepts as C
from worldsim.physics import Body, Simulation, Static, simulate

RIM_HEIGHT = 3.05
RIM_RADIUS = 0.23  # inner radius of a basketball hoop
BOARD_OFFSET = 0.38  # rim centre to backboard face
SYLLABLE_S = 0.2
SPEECH_RUN_ON_S = 2.0  # how far a storyboard shot's last line may run on over the cut


@dataclass
class Character:
    id: str
    kind: str
    category: str  # character | animal
    height: float
    color: tuple
    facing: int = 1
    x_path: np.ndarray | None = None  # (T,) root x per frame
    jump: np.ndarray | None = None  # (T,) root lift per frame
    gait_phase: np.ndarray | None = None  # (T,) radians
    gait_amp: np.ndarray | None = None  # (T,) 0 idle .. 1 run
    arm_pose: list = field(default_factory=list)  # (T,) per frame: "down" | "up" | "throw" | "wave"
    mouth: np.ndarray | None = None  # (T,) 0..1 openness
    cameo: str | None = None
    voice: dict | None = None
    frame0: int = 0  # the world's frame number at this scene's frame 0 (a resumed world keeps counting)
    phase0: float = 0.0  # gait phase carried over from the previous clip
    jump_clock: float | None = None  # the jump rhythm's clock at frame 0 (None: not jumping)
    home: float = 0.0  # where the layout put it (an edit pins it there)


@dataclass
class Carry:
    """What a scene takes over from a saved state (see `scene_state`).

    "continue" (an extension) resumes everything: characters, props, vehicles, the clock and the
    camera, which eases from where it was. "cut" (the next shot of a storyboard) resumes the cast and
    the props in place but frames anew; props are scripted afresh when the shot names a prop action
    (a throw, a kick...). In another setting only who is who (sizes) carries over."""

    state: dict
    mode: str  # "continue" | "cut"
    same_place: bool
    rescript_props: bool

    @property
    def characters(self) -> dict:
        return self.state.get("characters", {})

    def body(self, entity_id: str) -> dict | None:
        if not self.same_place or self.rescript_props:
            return None
        return self.state.get("bodies", {}).get(entity_id)

    def placed(self, entity_id: str) -> dict | None:
        return self.characters.get(entity_id) if self.same_place else None


PROP_ACTIONS = {"throw", "kick", "shoot", "miss", "make", "drop", "bounce", "roll"}


def _carry(plan: dict) -> Carry | None:
    resume = plan.get("resume")
    if not resume:
        return None
    state, mode = resume["state"], resume.get("mode", "continue")
    same = state.get("setting") == plan["setting"]
    return Carry(state, mode, same, mode == "cut" and bool(PROP_ACTIONS & set(plan["actions"])))


@dataclass
class Scene:
    plan: dict
    fps: int
    frames: int
    gravity: float
    width_m: float
    statics: list[Static]
    bodies: list[Body]
    body_specs: list[dict]
    characters: list[Character]
    vehicles: list[dict]
    decor: list[dict]
    sim: Simulation | None = None
    camera: np.ndarray | None = None  # (T, 3): centre x, centre y, view height (m)
    footsteps: list[dict] = field(default_factory=list)
    syllables: list[dict] = field(default_factory=list)
    outcome: dict = field(default_factory=dict)
    ground: np.ndarray | None = None  # (K, 2) polyline of the ground surface
    t0: float = 0.0  # world clock (s) at frame 0: 0, or where the resumed clip left off + one frame
    frame0: int = 0  # world frame number at frame 0
    carry: Carry | None = None  # what this scene resumed from a saved state
    view_h: float = 0.0  # the camera's base view height (m): a storyboard keeps one lens
    far_anchor: np.ndarray | None = None  # camera the far layer's parallax is measured from
    carried_syllables: list[dict] = field(default_factory=list)  # the shot before's line, still running

    def ground_height(self, x):
        return np.interp(x, self.ground[:, 0], self.ground[:, 1])


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


# ---------------------------------------------------------------- layout & choreography


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


# ---------------------------------------------------------------- gait, speech, camera


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
