"""Rigid-body physics in torch: spheres (drawn as discs in the side view) under gravity,
colliding with static segments (ground, walls, backboard, table tops), static discs
(the rim) and each other, with restitution, Coulomb friction and rolling.

Impulses are computed so a collision never adds kinetic energy: the normal impulse
uses restitution <= 1 and the friction impulse is capped both by mu * normal impulse
and by what would stop the sliding at the contact point. Penetration is removed by
moving the body out along the normal (positions only, velocities untouched).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

IMPACT_SPEED = 0.35  # m/s; slower approaches are resting contacts: silent, no bounce
SUBSTEPS_PER_FRAME = 10


@dataclass
class Body:
    id: str
    radius: float
    mass: float
    restitution: float
    friction: float
    material: str
    hollow: bool = False
    position: tuple[float, float] = (0.0, 0.0)
    velocity: tuple[float, float] = (0.0, 0.0)
    # While held, the body follows this path (time -> (x, y)) until `release_time`.
    held_path: Callable[[float], tuple[float, float]] | None = None
    release_time: float = 0.0
    release_velocity: tuple[float, float] = (0.0, 0.0)
    release_spin: float = 0.0
    kicks: list[tuple[float, tuple[float, float]]] = field(default_factory=list)  # (time, delta-v)
    angle: float = 0.0  # initial turn (radians) and spin (rad/s): a resumed body keeps both
    spin: float = 0.0


@dataclass
class Static:
    kind: str  # "segment" or "disc"
    a: tuple[float, float]
    b: tuple[float, float] = (0.0, 0.0)  # segment end
    radius: float = 0.0  # disc radius
    restitution: float = 0.8
    friction: float = 0.6
    material: str = "floor"
    name: str = "ground"


@dataclass
class Simulation:
    times: torch.Tensor  # (T,) frame times
    positions: torch.Tensor  # (T, N, 2)
    angles: torch.Tensor  # (T, N)
    velocities: torch.Tensor  # (T, N, 2)
    contacts: list[dict]
    final_spin: torch.Tensor | None = None  # (N,) rad/s at the last frame, for the saved state


def _cross_w(w: float, r: torch.Tensor) -> torch.Tensor:
    """Velocity of a point at offset r on a body spinning at w (2D w x r)."""
    return torch.stack((-w * r[1], w * r[0]))


def simulate(
    bodies: list[Body], statics: list[Static], seconds: float, fps: int, gravity: float, advance_first: bool = False
) -> Simulation:
    """Frame 0 is the bodies' initial state; with `advance_first` (a resumed world, whose initial
    state is the previous clip's last frame) frame 0 is already one frame later."""
    dt_frame = 1.0 / fps
    dt = dt_frame / SUBSTEPS_PER_FRAME
    frames = int(round(seconds * fps))
    n = len(bodies)
    f64 = torch.float64
    pos = torch.tensor([b.position for b in bodies], dtype=f64).reshape(n, 2)
    vel = torch.tensor([b.velocity for b in bodies], dtype=f64).reshape(n, 2)
    ang = torch.tensor([b.angle for b in bodies], dtype=f64).reshape(n)
    spin = torch.tensor([b.spin for b in bodies], dtype=f64).reshape(n)
    radius = torch.tensor([b.radius for b in bodies], dtype=f64)
    mass = torch.tensor([b.mass for b in bodies], dtype=f64)
    inertia = torch.tensor([(2 / 3 if b.hollow else 2 / 5) * b.mass * b.radius**2 for b in bodies], dtype=f64)
    free = torch.tensor([b.held_path is None for b in bodies])
    g = torch.tensor([0.0, -gravity], dtype=f64)

    segs = [s for s in statics if s.kind == "segment"]
    discs = [s for s in statics if s.kind == "disc"]
    seg_a = torch.tensor([s.a for s in segs], dtype=f64).reshape(-1, 2)
    seg_ab = torch.tensor([s.b for s in segs], dtype=f64).reshape(-1, 2) - seg_a
    seg_len2 = (seg_ab**2).sum(-1).clamp_min(1e-12)
    disc_c = torch.tensor([s.a for s in discs], dtype=f64).reshape(-1, 2)
    disc_r = torch.tensor([s.radius for s in discs], dtype=f64)

    out_pos = torch.zeros(frames, n, 2, dtype=f64)
    out_vel = torch.zeros(frames, n, 2, dtype=f64)
    out_ang = torch.zeros(frames, n, dtype=f64)
    contacts: list[dict] = []
    pending_kicks = sorted(((t, i, dv) for i, b in enumerate(bodies) for t, dv in b.kicks), key=lambda k: k[0])

    def kinetic(i: int) -> float:
        return float(0.5 * mass[i] * (vel[i] ** 2).sum() + 0.5 * inertia[i] * spin[i] ** 2)

    def resolve(i: int, j: int | None, normal: torch.Tensor, depth: float, static: Static | None, t_end: float) -> None:
        """One contact between body i and a static (j None) or body j; normal points towards i."""
        r_i = -normal * radius[i]
        v_rel = vel[i] + _cross_w(float(spin[i]), r_i)
        if j is not None:
            r_j = normal * radius[j]
            v_rel = v_rel - (vel[j] + _cross_w(float(spin[j]), r_j))
        vn = float(v_rel @ normal)
        # Separate first (positions only) so resting bodies never sink.
        if j is None:
            pos[i] += normal * depth
        else:
            share = mass[j] / (mass[i] + mass[j])
            pos[i] += normal * depth * share
            pos[j] -= normal * depth * (1 - share)
        if vn >= 0:
            return
        if static is not None:
            e = math.sqrt(bodies[i].restitution * static.restitution)
            mu = math.sqrt(bodies[i].friction * static.friction)
        else:
            e = math.sqrt(bodies[i].restitution * bodies[j].restitution)
            mu = math.sqrt(bodies[i].friction * bodies[j].friction)
        impact = -vn > IMPACT_SPEED
        if not impact:
            e = 0.0
        ke_before = kinetic(i) + (kinetic(j) if j is not None else 0.0)
        inv_m = 1 / mass[i] + (1 / mass[j] if j is not None else 0)
        jn = float(-(1 + e) * vn / inv_m)
        tangent = torch.stack((-normal[1], normal[0]))
        vt = float(v_rel @ tangent)
        # effective mass along the tangent includes spin (r x t = -radius for both bodies)
        inv_t = 1 / mass[i] + radius[i] ** 2 / inertia[i]
        if j is not None:
            inv_t = inv_t + 1 / mass[j] + radius[j] ** 2 / inertia[j]
        jt = max(-mu * jn, min(mu * jn, float(-vt / inv_t)))
        impulse = normal * jn + tangent * jt
        vel[i] += impulse / mass[i]
        spin[i] += float(r_i[0] * impulse[1] - r_i[1] * impulse[0]) / inertia[i]
        if j is not None:
            r_j = normal * radius[j]
            vel[j] -= impulse / mass[j]
            spin[j] -= float(r_j[0] * impulse[1] - r_j[1] * impulse[0]) / inertia[j]
        if impact:
            ke_after = kinetic(i) + (kinetic(j) if j is not None else 0.0)
            toi = max(t_end - dt, t_end - depth / max(-vn, 1e-6))
            point = pos[i] - normal * radius[i]
            contacts.append(
                {
                    "time": round(toi, 6),
                    "body": bodies[i].id,
                    "other": bodies[j].id if j is not None else static.name,
                    "point": [round(float(point[0]), 4), round(float(point[1]), 4)],
                    "normal": [round(float(normal[0]), 4), round(float(normal[1]), 4)],
                    "normal_speed": round(-vn, 4),
                    "impulse": round(jn, 5),
                    "materials": [bodies[i].material, static.material if static is not None else bodies[j].material],
                    "ke_before": round(ke_before, 6),
                    "ke_after": round(ke_after, 6),
                }
            )

    t = 0.0
    for frame in range(frames):
        for sub in range(SUBSTEPS_PER_FRAME if frame or advance_first else 0):
            t = (frame - 1) * dt_frame + (sub + 1) * dt
            for k, body in enumerate(bodies):  # held bodies ride the hand; release hands them to physics
                if body.held_path is None or bool(free[k]):
                    continue
                if t >= body.release_time:
                    free[k] = True
                    pos[k] = torch.tensor(body.held_path(body.release_time), dtype=f64) + torch.tensor(
                        body.release_velocity, dtype=f64
                    ) * (t - body.release_time)
                    vel[k] = torch.tensor(body.release_velocity, dtype=f64)
                    spin[k] = body.release_spin
                else:
                    here = torch.tensor(body.held_path(t), dtype=f64)
                    vel[k] = (here - pos[k]) / dt
                    pos[k] = here
            while pending_kicks and pending_kicks[0][0] <= t:
                _, k, dv = pending_kicks.pop(0)
                vel[k] += torch.tensor(dv, dtype=f64)
                contacts.append(
                    {
                        "time": round(t, 6),
                        "body": bodies[k].id,
                        "other": "kick",
                        "kind": "kick",
                        "impulse": round(float(mass[k]) * math.hypot(*dv), 5),
                        "materials": [bodies[k].material, "leather"],
                        "point": [round(float(pos[k][0]), 4), round(float(pos[k][1]), 4)],
                    }
                )
            if not bool(free.any()):
                continue
            fm = free.to(f64).unsqueeze(-1)
            vel += g * dt * fm
            pos += vel * dt * fm
            ang += spin * dt * free.to(f64)
            spin *= 1 - 0.02 * dt  # air drag on spin, keeps rolling balls from spinning forever
            # static segments
            if len(segs):
                d = pos[:, None, :] - seg_a[None]
                s = ((d * seg_ab[None]).sum(-1) / seg_len2).clamp(0, 1)
                diff = d - s[..., None] * seg_ab[None]
                dist = diff.norm(dim=-1)
                pen = (radius[:, None] - dist) * free[:, None]
                if bool((pen > 0).any()):
                    for i, m in (pen > 0).nonzero().tolist():
                        normal = diff[i, m] / dist[i, m].clamp_min(1e-9)
                        resolve(i, None, normal, float(pen[i, m]), segs[m], t)
            if len(discs):
                diff = pos[:, None, :] - disc_c[None]
                dist = diff.norm(dim=-1)
                pen = (radius[:, None] + disc_r[None] - dist) * free[:, None]
                if bool((pen > 0).any()):
                    for i, m in (pen > 0).nonzero().tolist():
                        resolve(i, None, diff[i, m] / dist[i, m].clamp_min(1e-9), float(pen[i, m]), discs[m], t)
            if n > 1:
                diff = pos[:, None, :] - pos[None]
                dist = diff.norm(dim=-1)
                pen = radius[:, None] + radius[None] - dist
                both = free[:, None] & free[None]
                pen = torch.where(both & ~torch.eye(n, dtype=torch.bool), pen, torch.zeros_like(pen)).triu(1)
                if bool((pen > 0).any()):
                    for i, j in (pen > 0).nonzero().tolist():
                        resolve(i, j, diff[i, j] / dist[i, j].clamp_min(1e-9), float(pen[i, j]), None, t)
        if frame == 0:  # frame 0 is the initial state (held bodies on their path)
            for k, body in enumerate(bodies):
                if body.held_path is not None:
                    pos[k] = torch.tensor(body.held_path(0.0), dtype=f64)
        out_pos[frame], out_vel[frame], out_ang[frame] = pos, vel, ang
    times = torch.arange(frames, dtype=f64) / fps
    return Simulation(times, out_pos, out_ang, out_vel, contacts, spin.clone())
