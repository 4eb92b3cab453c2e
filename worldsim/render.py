"""Frames in torch: a pre-drawn background (far layer with parallax + near layer),
then per frame the moving things drawn only inside their own bounding boxes,
weather particles, the moving watermark and the style's finishing touches.

Canvas layout is (H, W, 3) float32 in 0..1 so the final uint8 conversion is one op.
The plates are drawn by worldsim.plates, the moving things by worldsim.sprites; `Painter`
puts them together.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image

from kinora.media import watermark
from worldsim.plates import TIME_LIGHT, Plates
from worldsim.scene import Scene
from worldsim.sprites import Sprites

PARALLAX = 0.35  # the far layer moves this fraction of the camera's motion


class Painter(Plates, Sprites):
    """Draws one clip. Build once per clip, then call `frame(k)` for k in 0..T-1."""

    def __init__(
        self,
        scene: Scene,
        width: int,
        height: int,
        image: bytes | None,
        watermark: str,
        cameo_faces: dict[str, list[bytes]],
    ):
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
        # the far layer's parallax is measured from an anchor camera (the first frame's, or for an
        # extension the source's); the plates cover it too
        self.anchor = scene.far_anchor if scene.far_anchor is not None else self.cam[0]
        views = np.vstack([self.cam, self.anchor[None, :]])
        x0 = (views[:, 0] - views[:, 2] * aspect / 2).min() - 1.0
        x1 = (views[:, 0] + views[:, 2] * aspect / 2).max() + 1.0
        y0 = (views[:, 1] - views[:, 2] / 2).min() - 1.0
        y1 = (views[:, 1] + views[:, 2] / 2).max() + 1.0
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
        elif self.style == "watercolor":
            mean = rgb.mean(-1, keepdim=True)
            rgb = mean + (rgb - mean) * 0.7  # soft pigment
            rgb = torch.round(rgb * 12) / 12 * 0.78 + torch.tensor([0.97, 0.95, 0.9]) * 0.22  # washes on paper
        elif self.style == "black_and_white":
            luma = (rgb * torch.tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
            rgb = ((luma - 0.5) * 1.1 + 0.5).expand(*rgb.shape)
        if self.weather in ("rain", "cloudy", "fog"):
            mean = rgb.mean(-1, keepdim=True)
            rgb = mean + (rgb - mean) * 0.65
            rgb = rgb * (0.8 if self.weather != "fog" else 1.0)
        return rgb.clamp(0, 1)

    def color(self, rgb) -> torch.Tensor:
        return self.grade(torch.as_tensor(rgb, dtype=torch.float32) * self.ambient)

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
        # their own generator (the plates' draws depend on the plate size, which depends on the
        # camera path), so an extension's rain continues the source's drops
        gen = torch.Generator().manual_seed(int(self.scene.plan["seed"]) + 7)
        return torch.rand((count, 2), generator=gen) * torch.tensor([self.W, self.H])

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
        # one gather of just the output pixels (selecting whole rows first copied ~2x as much)
        flat = (rows[:, None] * plate.shape[1] + cols[None, :]).reshape(-1)
        picked = plate.reshape(-1, plate.shape[2]).index_select(0, flat)
        return picked.reshape(self.H, self.W, plate.shape[2]), rows

    def background(self, k: int) -> torch.Tensor:
        """The composited far + near layers for frame k, written into a reused buffer."""
        cx, cy, vh = (float(v) for v in self.cam[k])
        c0 = self.anchor
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

    def _watermark(self, canvas, k):
        mask = self.watermark
        h, w = mask.shape
        x0, y0 = watermark.position(k / self.scene.fps, self.W, self.H, w, h)
        view = canvas[y0 : y0 + h, x0 : x0 + w]
        view.mul_(1 - watermark.DARKEN * mask[..., None])
        view.add_((1 - view) * (watermark.LIGHTEN * mask[..., None]))


def _text_mask(text: str, size: int) -> torch.Tensor:
    return torch.from_numpy(watermark.text_mask(text, size))
