"""The moving things, drawn per frame only inside their own bounding boxes: props, shadows,
characters (capsule limbs, head, face or cameo face crop), vehicles and rain or snow particles, and
the skeletons that place a character's limbs. `Sprites` is part of `worldsim.render.Painter`."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


class Sprites:
    """Sprite drawing for `Painter` (uses its camera, canvas size, colours and particles)."""

    def _patch(self, canvas, x0, y0, x1, y1):
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(math.ceil(x1)), self.W), min(int(math.ceil(y1)), self.H)
        if x1 <= x0 or y1 <= y0:
            return None
        ys = torch.arange(y0, y1, dtype=torch.float32)[:, None] + 0.5
        xs = torch.arange(x0, x1, dtype=torch.float32)[None, :] + 0.5
        return (slice(y0, y1), slice(x0, x1)), xs, ys

    def _blend(self, canvas, region, alpha, color):
        view = canvas[region]
        view.add_((color - view) * alpha[..., None])

    def _prop(self, canvas, k, spec, pos, angle):
        sx, sy, s = self.to_screen(k, pos[0], pos[1])
        r = spec["radius"] * s
        got = self._patch(canvas, sx - r - 2, sy - r - 2, sx + r + 2, sy + r + 2)
        if got is None:
            return
        region, xs, ys = got
        dx, dy = (xs - sx) / max(r, 1e-3), (ys - sy) / max(r, 1e-3)
        d = (dx**2 + dy**2).sqrt()
        alpha = (0.5 - (d - 1) * r).clamp(0, 1)
        base = torch.tensor(spec["color"], dtype=torch.float32)
        ca, sa = math.cos(angle), math.sin(angle)
        u, v = dx * ca - dy * sa, dx * sa + dy * ca  # texture turns with the body
        pattern = spec["pattern"]
        color = base.expand(*d.shape, 3)
        if pattern == "basketball":
            seam = (
                (u.abs() < 0.06)
                | (v.abs() < 0.06)
                | (((u - 0.9) ** 2 + v**2).sqrt() - 0.75).abs().lt(0.05)
                | (((u + 0.9) ** 2 + v**2).sqrt() - 0.75).abs().lt(0.05)
            )
            color = torch.where(seam[..., None], torch.tensor([0.1, 0.05, 0.02]), color)
        elif pattern == "soccer":
            patch = (torch.sin(u * 5) * torch.sin(v * 5)) > 0.55
            color = torch.where(patch[..., None], torch.tensor([0.05, 0.05, 0.05]), color)
        elif pattern == "stripes":
            stripe = torch.sin(u * 9) > 0.3
            color = torch.where(stripe[..., None], base * 0.55, color)
        elif pattern == "beach":
            sector = torch.floor((torch.atan2(v, u) + math.pi) / (math.pi / 3)) % 3
            palette = torch.tensor([[0.95, 0.2, 0.2], [0.98, 0.98, 0.98], [0.15, 0.4, 0.95]])
            color = palette[sector.long()]
        elif pattern == "tennis":
            seam = ((u**2 + (v - 1.1) ** 2).sqrt() - 0.8).abs() < 0.08
            color = torch.where(seam[..., None], torch.tensor([0.95, 0.95, 0.95]), color)
        elif pattern == "speckle":
            color = color * (0.85 + 0.15 * torch.sin(u * 17) * torch.sin(v * 13))[..., None]
        # light from above-left: brighter top, darker bottom (flat bands for anime)
        shade = (1.05 - 0.35 * (dy + 0.5 * dx - 0.2)).clamp(0.5, 1.25)
        if self.style == "anime":
            shade = torch.where(shade > 0.9, 1.05, 0.7)
        color = self.grade(color * shade[..., None] * self.ambient)
        if self.style == "anime":
            color = torch.where((d > 0.88)[..., None], torch.tensor([0.05, 0.05, 0.08]), color)
        self._blend(canvas, region, alpha, color)

    def _shadows(self, canvas, k):
        scene = self.scene
        items = []
        if scene.sim is not None:
            for i, spec in enumerate(scene.body_specs):
                x, y = scene.sim.positions[k, i].tolist()
                items.append((x, y - spec["radius"], spec["radius"] * 1.2))
        for ch in scene.characters:
            items.append(
                (float(ch.x_path[k]), float(ch.jump[k]) + scene.ground_height(float(ch.x_path[k])), 0.35 * ch.height)
            )
        strength = 0.45 if self.style != "anime" else 0.3
        for x, bottom, half in items:
            g = float(scene.ground_height(x))
            height = max(bottom - g, 0.0)
            if height > 4:
                continue
            sx, sy, s = self.to_screen(k, x, g)
            hw = half * s * (1 + 0.3 * height)
            hh = max(hw * 0.18, 2)
            got = self._patch(canvas, sx - hw, sy - hh, sx + hw, sy + hh)
            if got is None:
                continue
            region, xs, ys = got
            d = (((xs - sx) / hw) ** 2 + ((ys - sy) / hh) ** 2).sqrt()
            soft = (1 - d).clamp(0, 1) if self.style != "anime" else (d < 1).float()
            a = soft * strength / (1 + height)
            canvas[region].mul_(1 - a[..., None])

    def _character(self, canvas, k, ch):
        bones, radii, colors, head = _skeleton(ch, k, self.scene)
        sx, sy, s = self.to_screen(k, bones[:, [0, 2]], bones[:, [1, 3]])
        outline = max(1.0, s / 110) if self.style == "anime" else 0.0
        # Each limb is a capsule drawn in its own small box: far cheaper than one
        # distance field over the whole figure.
        for (ax, bx), (ay, by), r, c in zip(sx, sy, np.asarray(radii) * s, colors):
            got = self._patch(
                canvas,
                min(ax, bx) - r - outline - 1,
                min(ay, by) - r - outline - 1,
                max(ax, bx) + r + outline + 1,
                max(ay, by) + r + outline + 1,
            )
            if got is None:
                continue
            region, xs, ys = got
            abx, aby = bx - ax, by - ay
            t = (((xs - ax) * abx + (ys - ay) * aby) / max(abx * abx + aby * aby, 1e-6)).clamp(0, 1)
            dist = ((xs - ax - t * abx) ** 2 + (ys - ay - t * aby) ** 2).sqrt() - r
            if outline:
                self._blend(canvas, region, (0.5 - dist + outline).clamp(0, 1), torch.tensor([0.05, 0.05, 0.08]))
            self._blend(canvas, region, (0.5 - dist).clamp(0, 1), self.color(c))
        hx, hy, _ = self.to_screen(k, head[0], head[1])
        self._head(canvas, k, ch, hx, hy, head[2] * s, s)

    def _head(self, canvas, k, ch, hx, hy, hr, s):
        got = self._patch(canvas, hx - hr - 2, hy - hr - 2, hx + hr + 2, hy + hr + 2)
        if got is None:
            return
        region, xs, ys = got
        dx, dy = (xs - hx) / hr, (ys - hy) / hr
        d = (dx**2 + dy**2).sqrt()
        alpha = (0.5 - (d - 1) * hr).clamp(0, 1)
        face = self.faces.get(ch.cameo) if ch.cameo else None
        if face is not None:
            # cameo: the verified face crop mapped onto the head disc
            grid = torch.stack(torch.broadcast_tensors(dx * ch.facing * 0.95, dy * 0.95), -1)[None]
            color = F.grid_sample(face.permute(2, 0, 1)[None], grid, align_corners=False)[0].permute(1, 2, 0)
        elif ch.category == "animal":
            color = self.color(ch.color).expand(*d.shape, 3)
        else:
            skin = (0.87, 0.68, 0.52) if ch.kind != "robot" else (0.7, 0.72, 0.76)
            if ch.kind == "astronaut":
                skin = (0.95, 0.95, 0.97)
            color = self.color(skin).expand(*d.shape, 3).clone()
            eye = ((dx - 0.35 * ch.facing) ** 2 + (dy + 0.2) ** 2).sqrt() < 0.13
            color = torch.where(eye[..., None], torch.tensor([0.05, 0.05, 0.05]), color)
            hair = (dy < -0.45) & (dx * ch.facing < 0.5)
            color = torch.where(hair[..., None], self.color((0.2, 0.12, 0.06)), color)
        # mouth opens with each syllable
        openness = float(ch.mouth[k]) if ch.mouth is not None else 0.0
        mw, mh = 0.28, 0.05 + 0.3 * openness
        mouth = (((dx - 0.3 * ch.facing) / mw) ** 2 + ((dy - 0.45) / mh) ** 2) < 1
        color = torch.where(mouth[..., None], torch.tensor([0.35, 0.05, 0.08]), color)
        if self.style == "anime":
            color = torch.where((d > 0.9)[..., None], torch.tensor([0.05, 0.05, 0.08]), color)
        self._blend(canvas, region, alpha, color)

    def _vehicle(self, canvas, k, v):
        t = k / self.scene.fps + v.get("t0", 0.0)  # a resumed vehicle's clock runs on
        x = v["x0"] + v["speed"] * t
        g = float(self.scene.ground_height(x))
        rocket = v["kind"] == "rocket"
        base_y = g + (max(0.0, t - 1.0) ** 2 * 1.5 if rocket else 0.0)
        sx0, sy0, s = self.to_screen(k, x, base_y + v["height"])
        sx1, sy1, _ = self.to_screen(k, x + v["width"], base_y)
        got = self._patch(canvas, sx0 - 2, sy0 - 2, sx1 + 2, sy1 + 2)
        if got is None:
            return
        region, xs, ys = got
        u = (xs - sx0) / max(sx1 - sx0, 1)
        w = (ys - sy0) / max(sy1 - sy0, 1)
        body = (w > 0.35) & (w < 0.85) & (u > 0.02) & (u < 0.98)
        cabin = (w > 0.0) & (w <= 0.4) & (u > 0.22) & (u < 0.78)
        wheel_r = 0.16
        wheels = []
        color = self.color(v["color"]).expand(*u.shape, 3).clone()
        mask = body | cabin
        if rocket:
            mask = (u - 0.5).abs() < 0.5 * (1 - (1 - w).clamp(0.8, 1) * 0 - (0.15 - w).clamp(0) * 6)
            flame = (w > 0.9) & ((u - 0.5).abs() < 0.25)
            color = torch.where(flame[..., None], torch.tensor([1.0, 0.6, 0.1]), color)
            mask = mask | flame
        else:
            window = cabin & (w > 0.08) & ((u - 0.5).abs() < 0.25)
            color = torch.where(window[..., None], self.color((0.55, 0.75, 0.9)), color)
            wheels = [0.22, 0.78] if v["kind"] not in ("boat",) else []
            angle = (v["speed"] * t) / (wheel_r * v["height"])
            for cu in wheels:
                px = (u - cu) * (sx1 - sx0)
                py = (w - 0.85) * (sy1 - sy0)
                rr = wheel_r * (sy1 - sy0) * 1.1
                d = (px**2 + py**2).sqrt()
                wheel = d < rr
                spoke = (torch.sin(torch.atan2(py, px) * 3 - angle).abs() < 0.25) & (d < rr * 0.6)
                color = torch.where(wheel[..., None], torch.tensor([0.08, 0.08, 0.08]), color)
                color = torch.where(spoke[..., None], torch.tensor([0.6, 0.6, 0.6]), color)
                mask = mask | wheel
        self._blend(canvas, region, mask.float(), color)

    def _weather(self, canvas, k):
        k += self.scene.frame0  # a resumed world's rain keeps falling from where it was
        p = self.particles
        if self.weather == "rain":
            speed = torch.tensor([-2.0, 45.0]) * (self.H / 720)
            length = int(10 * self.H / 720)
        else:
            speed = torch.tensor([0.0, 4.0]) * (self.H / 720)
            length = 2
        pos = (p + speed * k) % torch.tensor([self.W, self.H])
        if self.weather == "snow":
            pos[:, 0] = (pos[:, 0] + 6 * torch.sin(k * 0.1 + p[:, 1] * 0.05)) % self.W
        xs = pos[:, 0].long().clamp(0, self.W - 1)
        color = torch.tensor([0.75, 0.8, 0.9]) if self.weather == "rain" else torch.tensor([1.0, 1.0, 1.0])
        for step in range(length):
            ys = (pos[:, 1].long() - step).clamp(0, self.H - 1)
            canvas[ys, xs] = canvas[ys, xs] * 0.5 + color * 0.5
            if self.weather == "snow":
                canvas[ys, (xs + 1).clamp(max=self.W - 1)] = color


def _skeleton(ch, k, scene):
    """Bones (x0, y0, x1, y1) in metres, radii, colours, and the head (x, y, r)."""
    s = ch.height / 1.75
    x = float(ch.x_path[k])
    g = float(scene.ground_height(x))
    lift = float(ch.jump[k])
    phase = float(ch.gait_phase[k]) if ch.gait_phase is not None else 0.0
    amp = float(ch.gait_amp[k])
    f = ch.facing
    if ch.category == "animal":
        return _quadruped(ch, x, g + lift, phase, amp, s)
    swing = (0.25 + 0.35 * amp) * (amp > 0.02)
    hip_y = g + lift + 0.95 * s - 0.04 * s * amp * abs(math.sin(phase))
    hip = np.array([x, hip_y])
    neck = hip + [0.04 * f * amp * s, 0.55 * s]
    head = (neck[0] + 0.02 * f * s, neck[1] + 0.2 * s, 0.12 * s)
    bones, radii, colors = [], [], []
    pants = (0.15, 0.15, 0.25) if ch.kind not in ("astronaut", "robot") else ch.color
    for side in (1, -1):
        a = swing * math.sin(phase) * side
        knee = hip + 0.47 * s * np.array([math.sin(a) * f, -math.cos(a)])
        bend = max(0.0, -math.sin(phase) * side) * 0.9 * amp
        foot = knee + 0.45 * s * np.array([math.sin(a - bend) * f, -math.cos(a - bend)])
        foot[1] = max(foot[1], g + lift + 0.03 * s)
        bones += [(*hip, *knee), (*knee, *foot)]
        radii += [0.07 * s, 0.055 * s]
        colors += [pants, pants]
    bones.append((*hip, *neck))
    radii.append(0.13 * s)
    colors.append(ch.color)
    pose = ch.arm_pose[k] if ch.arm_pose else "down"
    shoulder = neck - [0, 0.06 * s]
    skin = (0.87, 0.68, 0.52) if ch.kind not in ("robot", "astronaut") else ch.color
    for side in (1, -1):
        if pose in ("up",):
            elbow = shoulder + s * np.array([0.12 * f, 0.27])
            hand = elbow + s * np.array([0.05 * f, 0.27])
        elif pose == "hold":
            elbow = shoulder + s * np.array([0.15 * f, -0.22])
            hand = elbow + s * np.array([0.22 * f, 0.08])
        elif pose == "wave":
            a = 0.8 + 0.6 * math.sin((k + ch.frame0) * 0.5 + side)
            elbow = shoulder + s * np.array([0.25 * side, 0.1])
            hand = elbow + s * 0.27 * np.array([math.cos(a) * side, math.sin(a)])
        else:
            a = -swing * math.sin(phase) * side
            elbow = shoulder + 0.3 * s * np.array([math.sin(a) * f, -math.cos(a)])
            hand = elbow + 0.28 * s * np.array([math.sin(a + 0.3 * amp) * f, -math.cos(a + 0.3 * amp)])
        bones += [(*shoulder, *elbow), (*elbow, *hand)]
        radii += [0.05 * s, 0.045 * s]
        colors += [ch.color, skin]
    return np.array(bones), radii, colors, head


def _quadruped(ch, x, ground, phase, amp, s):
    L = 0.9 * ch.height + 0.2
    leg = 0.45 * ch.height
    body_y = ground + leg + 0.08 * ch.height
    f = ch.facing
    back = np.array([x - f * L / 2, body_y])
    front = np.array([x + f * L / 2, body_y + 0.05 * ch.height])
    bones = [(*back, *front)]
    radii = [0.22 * ch.height]
    colors = [ch.color]
    swing = 0.5 * amp
    for base, offset in ((back, 0.0), (front, math.pi)):
        for side in (0.0, math.pi / 2):
            a = swing * math.sin(phase + offset + side)
            foot = base + leg * np.array([math.sin(a) * f, -1.0])
            foot[1] = max(foot[1], ground)
            bones.append((*base, *foot))
            radii.append(0.06 * ch.height)
            colors.append([c * 0.85 for c in ch.color])
    tail = back + np.array([-f * 0.25 * ch.height, 0.25 * ch.height + 0.05 * math.sin(phase * 2)])
    bones.append((*back, *tail))
    radii.append(0.04 * ch.height)
    colors.append(ch.color)
    head = (front[0] + f * 0.2 * ch.height, front[1] + 0.25 * ch.height, 0.2 * ch.height)
    return np.array(bones), radii, colors, head
