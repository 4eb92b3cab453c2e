"""The two layers a clip's background is cut from, drawn once per clip: the far plate (sky by
time of day, sun or stars, clouds, the setting's skyline, or the input image for image-to-video)
and the near plate (ground, court lines, decor). `Plates` is part of `worldsim.render.Painter`."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from worldsim import concepts as C
from worldsim.scene_model import RIM_HEIGHT, RIM_RADIUS

TIME_LIGHT = {  # ambient tint, sky top, sky horizon, sun elevation (deg), sun colour
    "day": ((1.0, 1.0, 1.0), (0.25, 0.5, 0.9), (0.7, 0.85, 1.0), 60, (1.0, 0.98, 0.9)),
    "sunrise": ((1.0, 0.88, 0.85), (0.35, 0.45, 0.75), (1.0, 0.7, 0.55), 12, (1.0, 0.75, 0.5)),
    "sunset": ((1.0, 0.78, 0.6), (0.25, 0.2, 0.45), (1.0, 0.55, 0.25), 8, (1.0, 0.6, 0.3)),
    "night": ((0.38, 0.45, 0.7), (0.01, 0.02, 0.08), (0.06, 0.08, 0.2), 40, (0.85, 0.88, 1.0)),
}


class Plates:
    """Plate drawing for `Painter` (uses its scene, style, plate size and scale)."""

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
            picture = picture.resize(
                (max(W, int(picture.width * scale + 1)), max(H, int(picture.height * scale + 1))), Image.BILINEAR
            )
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
            plate = torch.where(
                building[..., None], far * (0.7 + 0.3 * torch.sin(torch.floor(wx / 2.5))[..., None].abs()), plate
            )
            if self.time == "night":
                plate = torch.where(lit[..., None], torch.tensor([1.0, 0.85, 0.5]) / torch.tensor(light[0]), plate)
        elif name in ("forest", "park"):
            crowns = wy < (
                (2.2 if name == "forest" else 1.0) + 1.2 * (0.5 + 0.5 * torch.sin(wx * 1.7) * torch.sin(wx * 0.63))
            )
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
            rgb = torch.where(
                water[..., None], torch.tensor([0.2, 0.6, 0.9]) + 0.06 * torch.sin(wx * 6 + wy * 20)[..., None], rgb
            )
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
        shapes += [
            (pole, (0.3, 0.3, 0.32)),
            (arm, (0.3, 0.3, 0.32)),
            (board, (0.92, 0.92, 0.95)),
            (net, (0.95, 0.95, 0.95)),
            (rim, (0.9, 0.3, 0.05)),
        ]
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
