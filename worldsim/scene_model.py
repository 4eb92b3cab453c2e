"""The simulated scene's data: its characters, what it carries over from a saved state, and the scene
itself (worldsim.scene builds it). Side view: x to the right, y up, metres."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from worldsim.physics import Body, Simulation, Static

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
