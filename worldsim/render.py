"""Frames in torch: a pre-drawn background (far layer with parallax + near layer),
then per frame the moving things drawn only inside their own bounding boxes,
weather particles, the moving watermark and the style's finishing touches.

Canvas layout is (H, W, 3) float32 in 0..1 so the final uint8 conversion is one op.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from kinora.media import watermark
from worldsim import concepts as C
from worldsim.scene import RIM_HEIGHT, RIM_RADIUS, Scene

PARALLAX = 0.35  # the far layer moves this fraction of the camera's motion

TIME_LIGHT = {  # ambient tint, sky top, sky horizon, sun elevation (deg), sun colour
    "day": ((1.0, 1.0, 1.0), (0.25, 0.5, 0.9), (0.7, 0.85, 1.0), 60, (1.0, 0.98, 0.9)),
    "sunrise": ((1.0, 0.88, 0.85), (0.35, 0.45, 0.75), (1.0, 0.7, 0.55), 12, (1.0, 0.75, 0.5)),
    "sunset": ((1.0, 0.78, 0.6), (0.25, 0.2, 0.45), (1.0, 0.55, 0.25), 8, (1.0, 0.6, 0.3)),
    "night": ((0.38, 0.45, 0.7), (0.01, 0.02, 0.08), (0.06, 0.08, 0.2), 40, (0.85, 0.88, 1.0)),
}


class Painter:
    """Draws one clip. Build once per clip, then call `frame(k)` for k in 0..T-1."""

    def __init__(self, scene: Scene, width: int, height: int, image: bytes | None, watermark: str,
                 cameo_faces: dict[str, list[bytes]]):
        self.scene, self.W, self.H = scene, width, height
        plan = scene.plan
        self.style, self.time, self.weather = plan["style"], plan["time_of_day"], plan["weather"]
        self.ambient = torch.tensor(TIME_LIGHT[self.time][0])
        self.cam = scene.camera
        self.rng = np.random.default_rng(plan["seed"] + 99)
        self.gen = torch.Generator().manual_seed(int(plan["seed"]) + 7)
        aspect = width / height
        # One plate scale for the whole clip: pixels per metre at the tightest view.
        self.S = height / float(self.cam[:, 2].min())
        x0 = (self.cam[:, 0] - self.cam[:, 2] * aspect / 2).min() - 1.0
        x1 = (self.cam[:, 0] + self.cam[:, 2] * aspect / 2).max() + 1.0
        y0 = (self.cam[:, 1] - self.cam[:, 2] / 2).min() - 1.0
        y1 = (self.cam[:, 1] + self.cam[:, 2] / 2).max() + 1.0
        self.origin = (float(x0), float(y1))  # world coords of the plate's top-left pixel
        self.plate_w = int(math.ceil((x1 - x0) * self.S))
        self.plate_h = int(math.ceil((y1 - y0) * self.S))
        self.far = self._far_plate(image)
        near, alpha = self._near_plate(image is not None)
        self.near = torch.cat([near, alpha], -1).contiguous()  # sampled together
        self.row_min, self.row_max = alpha[..., 0].amin(1), alpha[..., 0].amax(1)
        self.faces = {name: [self._decode_face(p) for p in pngs[:1]] for name, pngs in cameo_faces.items()}
        self.faces = {k: v[0] for k, v in self.faces.items() if v and v[0] is not None}
        self.vignette = self._vignette()  # also carries the x255 to uint8
        self.watermark = _text_mask(watermark, max(14, height // 40)) if watermark else None
        self.particles = self._particles()
        self._last_bg = None
        self._bg_buffer = None
        self._static_camera = bool(np.all(np.abs(self.cam - self.cam[0]) < 1e-9))

    # ------------------------------------------------------------ colour & style
    def grade(self, rgb: torch.Tensor) -> torch.Tensor:
        """Style look applied to plates (once) and sprite colours (per draw)."""
        if self.style == "cinematic":
            luma = (rgb * torch.tensor([0.3, 0.59, 0.11])).sum(-1, keepdim=True)
            teal, orange = torch.tensor([0.0, 0.08, 0.12]), torch.tensor([0.12, 0.05, -0.05])
            rgb = rgb * 0.9 + teal * (1 - luma) + orange * luma
            rgb = (rgb - 0.5) * 1.15 + 0.5
        elif self.style == "anime":
            mean = rgb.mean(-1, keepdim=True)
            rgb = mean + (rgb - mean) * 1.5  # saturated
            rgb = torch.round(rgb * 5) / 5  # flat cel bands
        if self.weather in ("rain", "cloudy", "fog"):
            mean = rgb.mean(-1, keepdim=True)
            rgb = mean + (rgb - mean) * 0.65
            rgb = rgb * (0.8 if self.weather != "fog" else 1.0)
        return rgb.clamp(0, 1)

    def color(self, rgb) -> torch.Tensor:
        return self.grade(torch.as_tensor(rgb, dtype=torch.float32) * self.ambient)

    # ------------------------------------------------------------ plates
    def _grid(self):
        ys = torch.arange(self.plate_h, dtype=torch.float32)
        xs = torch.arange(self.plate_w, dtype=torch.float32)
        wy = self.origin[1] - (ys + 0.5) / self.S
        wx = self.origin[0] + (xs + 0.5) / self.S
        return wx[None, :].expand(self.plate_h, -1), wy[:, None].expand(-1, self.plate_w)

    def _far_plate(self, image: bytes | None) -> torch.Tensor:
        H, W = self.plate_h, self.plate_w
        if image is not None:
            picture = Image.open(io.BytesIO(image)).convert("RGB")
            scale = max(W / picture.width, H / picture.height)
            picture = picture.resize((max(W, int(picture.width * scale + 1)), max(H, int(picture.height * scale + 1))),
                                     Image.BILINEAR)
            left, top = (picture.width - W) // 2, (picture.height - H) // 2
            plate = torch.from_numpy(np.asarray(picture.crop((left, top, left + W, top + H)), dtype=np.float32) / 255)
            return self.grade(plate * self.ambient)
        setting = C.SETTINGS[self.scene.plan["setting"]]
        wx, wy = self._grid()
        light = TIME_LIGHT[self.time]
        if setting["sky"] == "indoor":
            wall = torch.tensor(setting["far_color"])
            stripes = 0.04 * torch.sin(wx * 2.5)[..., None]
            plate = wall + stripes + 0.06 * (wy / 8).clamp(0, 1)[..., None]
            if self.scene.plan["setting"] == "basketball_court":  # crowd stands
                seat = (torch.sin(wx * 9) * torch.sin(wy * 11) > 0.3) & (wy > 1.2) & (wy < 7)
                tint = torch.rand((H, W, 3), generator=self.gen) * 0.5 + 0.25
                plate = torch.where(seat[..., None], tint, plate)
            if self.scene.plan["setting"] == "stage":
                cone = (1 - ((wx - self.scene.width_m / 2).abs() / (0.5 + 0.25 * (8 - wy).clamp(0)))).clamp(0, 1)
                plate = plate + cone[..., None] * torch.tensor([0.7, 0.65, 0.5])
            if self.scene.plan["setting"] in ("kitchen", "living_room"):
                window = ((wx % 5) > 1.5) & ((wx % 5) < 3.2) & (wy > 1.3) & (wy < 2.6)
                sky = torch.tensor(light[2]) * torch.tensor(light[0])
                plate = torch.where(window[..., None], sky, plate)
            return self.grade(plate * self.ambient)
        top, horizon = torch.tensor(light[1]), torch.tensor(light[2])
        h = (wy / 12).clamp(0, 1)[..., None]
        plate = horizon + (top - horizon) * h
        if setting["sky"] == "space" or self.time == "night":
            stars = torch.rand((H, W), generator=self.gen) > 0.9985
            plate = torch.where(stars[..., None], torch.tensor([1.0, 1.0, 0.95]), plate)
        if setting["sky"] == "space":
            plate = plate * 0.2
        sun_x = self.origin[0] + 0.7 * self.plate_w / self.S
        sun_y = 2 + light[3] / 6
        sun = ((wx - sun_x) ** 2 + (wy - sun_y) ** 2).sqrt()
        glow = (1 - sun / 1.4).clamp(0, 1) ** 2 + 0.25 * (1 - sun / 6).clamp(0, 1) ** 2
        if self.weather in ("clear",) or setting["sky"] == "space":
            plate = plate + glow[..., None] * torch.tensor(light[4])
        if self.weather in ("cloudy", "rain", "snow"):
            n = torch.sin(wx * 0.7 + 0.4 * torch.sin(wy * 1.3)) * torch.sin(wy * 1.1 + wx * 0.2)
            cloud = ((n - 0.1) * 2).clamp(0, 1) * (wy > 4).float()
            plate = plate + (torch.tensor([0.75, 0.75, 0.78]) * torch.tensor(light[0]) - plate) * cloud[..., None] * 0.8
        far = torch.tensor(setting["far_color"])
        name = self.scene.plan["setting"]
        if name in ("city_street",):
            tall = 3 + 9 * (0.5 + 0.5 * torch.sin(torch.floor(wx / 2.5) * 12.9898).abs())
            building = wy < tall
            lit = (torch.sin(wx * 6) > 0.2) & (torch.sin(wy * 5) > 0.3) & building
            plate = torch.where(building[..., None],
                                far * (0.7 + 0.3 * torch.sin(torch.floor(wx / 2.5))[..., None].abs()), plate)
            if self.time == "night":
                plate = torch.where(lit[..., None], torch.tensor([1.0, 0.85, 0.5]) / torch.tensor(light[0]), plate)
        elif name in ("forest", "park"):
            crowns = wy < ((2.2 if name == "forest" else 1.0)
                           + 1.2 * (0.5 + 0.5 * torch.sin(wx * 1.7) * torch.sin(wx * 0.63)))
            leaves = 0.85 + 0.15 * torch.sin(wx * 3.1 + torch.sin(wy * 2.3) * 2) * torch.sin(wy * 4.3 + wx)
            plate = torch.where(crowns[..., None], far * leaves[..., None], plate)
        elif name in ("beach", "pool"):
            plate = torch.where((wy < 1.2)[..., None], far + 0.05 * torch.sin(wx * 4 + wy * 9)[..., None], plate)
        elif name in ("snow_slope", "road", "space"):
            slope = -0.22 * (wx - self.scene.width_m / 2) if name == "snow_slope" else 0
            ridge = wy < 3 + 2.5 * (torch.sin(wx * 0.31) * 0.6 + torch.sin(wx * 0.83 + 1) * 0.4).abs() + slope
            plate = torch.where(ridge[..., None], far * (1.0 - 0.05 * wy.clamp(0, 6) / 6)[..., None], plate)
        if self.weather == "fog":
            plate = plate + (torch.tensor([0.75, 0.77, 0.8]) - plate) * 0.55
        return self.grade(plate.clamp(0, 1) * self.ambient)

    def _near_plate(self, transparent_ground: bool):
        H, W = self.plate_h, self.plate_w
        wx, wy = self._grid()
        scene = self.scene
        setting = C.SETTINGS[scene.plan["setting"]]
        gy = np.interp(wx[0].numpy(), scene.ground[:, 0], scene.ground[:, 1]).astype(np.float32)
        gy = torch.from_numpy(gy)[None, :]
        below = wy < gy
        floor = torch.tensor(setting["floor_color"])
        name = scene.plan["setting"]
        depth = (gy - wy).clamp(0, 3)[..., None]
        rgb = floor * (1 - 0.12 * depth / 3) + 0.03 * torch.sin(wx * 3.1 + wy * 0.7)[..., None]
        if name == "basketball_court":
            rgb = rgb + 0.05 * (torch.sin(wx * 12) > 0.8).float()[..., None]  # planks
            line = ((wx - (scene.width_m - 2.0 - 6.75)).abs() < 0.04) | ((wx - scene.width_m / 2).abs() < 0.04)
            rgb = torch.where((line & below)[..., None], torch.tensor([0.95, 0.95, 0.95]), rgb)
        elif name in ("road", "city_street"):
            dash = ((wx % 3) < 1.6) & ((gy - wy - 0.5).abs() < 0.06)
            rgb = torch.where(dash[..., None], torch.tensor([0.95, 0.9, 0.6]), rgb)
        elif name in ("park", "forest"):
            rgb = rgb * (1 + 0.12 * torch.sin(wx * 40 + torch.sin(wy * 30) * 3))[..., None]
        elif name == "pool":
            water = (wx > scene.width_m * 0.6) & below
            rgb = torch.where(water[..., None],
                              torch.tensor([0.2, 0.6, 0.9]) + 0.06 * torch.sin(wx * 6 + wy * 20)[..., None], rgb)
        alpha = below.float()
        if transparent_ground:
            alpha = torch.zeros_like(alpha)
        rgb = torch.where(below[..., None], rgb, torch.zeros(3)).contiguous()
        # decor (furniture, trees, the hoop...) is part of the near plate
        for item in scene.decor:
            # only the plate pixels inside the item's box are touched
            x0, x1, top = _decor_box(item)
            c0 = max(int((x0 - self.origin[0]) * self.S), 0)
            c1 = min(int((x1 - self.origin[0]) * self.S) + 1, W)
            r0 = max(int((self.origin[1] - top) * self.S), 0)
            if c1 <= c0 or r0 >= H:
                continue
            box = (slice(r0, H), slice(c0, c1))
            sub_rgb, sub_alpha = rgb[box], alpha[box]
            for mask, color in _decor_shapes(item, wx[box], wy[box], gy[:, c0:c1]):
                sub_rgb[mask] = torch.as_tensor(color, dtype=torch.float32)
                sub_alpha[mask] = 1.0
        rgb = self.grade(rgb.clamp(0, 1) * self.ambient)
        if self.style == "anime":  # ink outlines where the near layer has edges
            a = alpha[None, None]
            edge = (F.max_pool2d(a, 3, 1, 1) - (-F.max_pool2d(-a, 3, 1, 1)))[0, 0] > 0.5
            rgb = torch.where(edge[..., None], torch.tensor([0.05, 0.05, 0.08]), rgb)
        return rgb, alpha[..., None]

    def _vignette(self) -> torch.Tensor | None:
        strength = {"realistic": 0.15, "cinematic": 0.45}.get(self.style, 0.0)
        ys = torch.linspace(-1, 1, self.H)[:, None]
        xs = torch.linspace(-1, 1, self.W)[None, :]
        v = 1 - strength * ((xs**2 + ys**2) / 2).clamp(0, 1) ** 1.5
        return (v * 255.0)[..., None].contiguous()

    def _decode_face(self, png: bytes) -> torch.Tensor | None:
        try:
            face = Image.open(io.BytesIO(png)).convert("RGB").resize((64, 64), Image.BILINEAR)
        except Exception:
            return None
        return self.grade(torch.from_numpy(np.asarray(face, dtype=np.float32) / 255) * self.ambient)

    def _particles(self):
        if self.weather not in ("rain", "snow"):
            return None
        count = int(self.W * self.H / (900 if self.weather == "rain" else 1600))
        return torch.rand((count, 2), generator=self.gen) * torch.tensor([self.W, self.H])

    # ------------------------------------------------------------ per frame
    def _sample(self, plate: torch.Tensor, cx: float, cy: float, view_h: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Cut the camera's view out of a plate (resampling only when zoomed); also the plate rows used."""
        S = self.S
        h = view_h * S
        w = h * self.W / self.H
        left = (cx - self.origin[0]) * S - w / 2
        top = (self.origin[1] - cy) * S - h / 2
        if abs(h - self.H) < 0.5:
            x0, y0 = int(round(left)), int(round(top))
            x0 = min(max(x0, 0), plate.shape[1] - self.W)
            y0 = min(max(y0, 0), plate.shape[0] - self.H)
            return plate[y0 : y0 + self.H, x0 : x0 + self.W], torch.arange(y0, y0 + self.H)
        # Zooming: nearest-pixel gather. The plate is drawn at the tightest zoom, so
        # this only ever shrinks it a little, where nearest sampling doesn't show and
        # costs one copy instead of a bilinear filter (measured ~4x cheaper).
        rows = (top + (torch.arange(self.H, dtype=torch.float32) + 0.5) * (h / self.H)).long()
        cols = (left + (torch.arange(self.W, dtype=torch.float32) + 0.5) * (w / self.W)).long()
        rows, cols = rows.clamp(0, plate.shape[0] - 1), cols.clamp(0, plate.shape[1] - 1)
        return plate.index_select(0, rows).index_select(1, cols), rows

    def background(self, k: int) -> torch.Tensor:
        """The composited far + near layers for frame k, written into a reused buffer."""
        cx, cy, vh = (float(v) for v in self.cam[k])
        c0 = self.cam[0]
        key = (round(cx, 4), round(cy, 4), round(vh, 4))
        if self._bg_buffer is None:
            self._bg_buffer = torch.empty((self.H, self.W, 3))
        out = self._bg_buffer
        if self._last_bg is not None and self._last_bg[0] == key:
            out.copy_(self._last_bg[1])  # camera did not move: reuse the composite
            return out
        fx = c0[0] + (cx - c0[0]) * PARALLAX
        fy = c0[1] + (cy - c0[1]) * PARALLAX
        fh = c0[2] + (vh - c0[2]) * PARALLAX
        far, _ = self._sample(self.far, fx, fy, fh)
        near_rgba, rows = self._sample(self.near, cx, cy, vh)
        # Each output row is all far (sky), all near (floor) or mixed, judged from
        # whole-plate row statistics; copy runs of rows and blend only mixed ones.
        state = np.where(self.row_min[rows].numpy() > 0.999, 1, np.where(self.row_max[rows].numpy() < 0.001, 0, 2))
        edges = np.flatnonzero(np.diff(state)) + 1
        for r0, r1 in zip(np.r_[0, edges], np.r_[edges, self.H]):
            kind = state[r0]
            if kind == 0:
                out[r0:r1] = far[r0:r1]
            elif kind == 1:
                out[r0:r1] = near_rgba[r0:r1, :, :3]
            else:
                f = far[r0:r1]
                torch.addcmul(f, near_rgba[r0:r1, :, :3] - f, near_rgba[r0:r1, :, 3:], out=out[r0:r1])
        self._last_bg = (key, out.clone()) if self._static_camera else None
        return out

    def to_screen(self, k: int, x, y):
        cx, cy, vh = self.cam[k]
        s = self.H / vh
        return (np.asarray(x) - cx) * s + self.W / 2, (cy - np.asarray(y)) * s + self.H / 2, s

    def frame(self, k: int) -> np.ndarray:
        canvas = self.background(k)
        scene = self.scene
        for v in scene.vehicles:
            self._vehicle(canvas, k, v)
        if self.style != "anime" or True:
            self._shadows(canvas, k)
        for ch in scene.characters:
            self._character(canvas, k, ch)
        if scene.sim is not None:
            for i, spec in enumerate(scene.body_specs):
                self._prop(canvas, k, spec, scene.sim.positions[k, i].tolist(), float(scene.sim.angles[k, i]))
        if self.particles is not None:
            self._weather(canvas, k)
        if self.style == "cinematic":  # 2.39:1-ish letterbox inside the frame
            bar = max(0, int((self.H - self.W / 2.39) / 2)) if self.W > self.H else int(self.H * 0.06)
            canvas[:bar] = 0
            canvas[self.H - bar :] = 0
        if self.watermark is not None:
            self._watermark(canvas, k)
        # vignette and the 0..255 scale in one pass
        # every drawing step is a convex blend of 0..1 colours, so no clamp is needed
        return canvas.mul_(self.vignette).to(torch.uint8).numpy()

    # ------------------------------------------------------------ sprites
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
            seam = ((u.abs() < 0.06) | (v.abs() < 0.06)
                    | (((u - 0.9) ** 2 + v**2).sqrt() - 0.75).abs().lt(0.05)
                    | (((u + 0.9) ** 2 + v**2).sqrt() - 0.75).abs().lt(0.05))
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
            items.append((float(ch.x_path[k]), float(ch.jump[k]) + scene.ground_height(float(ch.x_path[k])),
                          0.35 * ch.height))
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
            got = self._patch(canvas, min(ax, bx) - r - outline - 1, min(ay, by) - r - outline - 1,
                              max(ax, bx) + r + outline + 1, max(ay, by) + r + outline + 1)
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
        t = k / self.scene.fps
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

    def _watermark(self, canvas, k):
        mask = self.watermark
        h, w = mask.shape
        x0, y0 = watermark.position(k / self.scene.fps, self.W, self.H, w, h)
        view = canvas[y0:y0 + h, x0:x0 + w]
        view.mul_(1 - watermark.DARKEN * mask[..., None])
        view.add_((1 - view) * (watermark.LIGHTEN * mask[..., None]))


def _text_mask(text: str, size: int) -> torch.Tensor:
    return torch.from_numpy(watermark.text_mask(text, size))


def _decor_box(item) -> tuple[float, float, float]:
    """World x-range and top of a decoration (it always reaches down to the ground)."""
    if item["kind"] == "hoop":
        return item["x"] - 0.4, item["board_x"] + 1.1, 4.1
    top = item["height"] * (1.1 if item["kind"] == "tree" else 1.0) + 1.6  # snowman / lamp heads
    return item["x"] - 0.1, item["x"] + item["width"] + 0.1, top


def _decor_shapes(item, wx, wy, gy):
    kind = item["kind"]
    shapes = []
    if kind == "hoop":
        board_x = item["board_x"]
        pole = ((wx - (board_x + 0.9)).abs() < 0.1) & (wy < 3.6) & (wy > gy)
        arm = (wx > board_x) & (wx < board_x + 0.95) & ((wy - 3.3).abs() < 0.06)
        board = ((wx - (board_x + 0.02)).abs() < 0.03) & (wy > 2.9) & (wy < 3.95)
        rim = ((wy - RIM_HEIGHT).abs() < 0.02) & ((wx - item["x"]).abs() < RIM_RADIUS + 0.01)
        net_t = (RIM_HEIGHT - wy) / 0.45
        net_half = RIM_RADIUS * (1 - 0.35 * net_t)
        mesh = (torch.sin((wx - item["x"]) * 60 + net_t * 6).abs() < 0.25) | (torch.sin(net_t * 25).abs() < 0.2)
        net = (net_t > 0) & (net_t < 1) & ((wx - item["x"]).abs() < net_half) & mesh
        shapes += [(pole, (0.3, 0.3, 0.32)), (arm, (0.3, 0.3, 0.32)), (board, (0.92, 0.92, 0.95)),
                   (net, (0.95, 0.95, 0.95)), (rim, (0.9, 0.3, 0.05))]
        return shapes
    x0, w, h, color = item["x"], item["width"], item["height"], item["color"]
    inside = (wx > x0) & (wx < x0 + w)
    if item.get("furniture"):
        top = inside & ((wy - h).abs() < 0.04)
        legs = (((wx - x0 - 0.05).abs() < 0.04) | ((wx - x0 - w + 0.05).abs() < 0.04)) & (wy < h) & (wy > gy)
        if kind in ("sofa", "piano", "drum"):
            legs = inside & (wy < h) & (wy > gy)
        shapes += [(legs, [c * 0.8 for c in color]), (top, color)]
    elif kind == "tree":
        trunk = ((wx - x0 - w / 2).abs() < 0.15) & (wy > gy) & (wy < h * 0.6)
        crown = ((wx - x0 - w / 2) ** 2 / (w / 2) ** 2 + (wy - h * 0.7) ** 2 / (h * 0.32) ** 2) < 1
        shapes += [(trunk, (0.4, 0.25, 0.1)), (crown, color)]
    elif kind == "snowman":
        for cy, r in ((0.35, 0.35), (0.9, 0.25), (1.3, 0.18)):
            shapes.append((((wx - x0 - w / 2) ** 2 + (wy - cy) ** 2) < r * r, color))
    else:
        shapes.append((inside & (wy > gy) & (wy < gy + h), color))
    return shapes


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
            a = 0.8 + 0.6 * math.sin(k * 0.5 + side)
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
