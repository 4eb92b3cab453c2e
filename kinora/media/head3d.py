"""A portrait turned in 3D and made to talk: the genuine-recording fixture for
the liveness check, made from one photo that ships in a package.

The photo's 68 facial landmarks (dlib's model) are lifted onto a simple head:
a vertical cylinder for the face, with the nose standing out and the eyes set
in. Turning the head by a yaw angle rotates those points about the head's
axis and projects them back; opening the mouth moves the lower lip, the inner
lower lip and the chin down. The picture follows the points by a piecewise
affine warp (Delaunay triangles over the landmarks, a skull outline and fixed
anchors on the shoulders and the frame), and the open mouth is painted dark.

What this gives a landmark model: the nose moves toward the side the head
turns to while the far cheek narrows (a photo slid sideways or squeezed keeps
the nose centred between the cheeks), and a mouth that opens with the speech.
It is a test fixture, not a face model: at large angles the far cheek folds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from scipy.spatial import Delaunay

MAX_YAW_DEG = 28.0  # beyond this the far cheek folds over visibly
# Depth of the nose landmarks (27-35) in front of the cylinder, in head radii:
# bridge to tip, then the nostrils.
_NOSE_DEPTH = (0.12, 0.2, 0.28, 0.36, 0.2, 0.24, 0.27, 0.24, 0.2)
_EYE_DEPTH = -0.04
_MOUTH_DROP = 0.22  # a fully open mouth drops the lower lip by this share of nose-to-chin
# How much each landmark follows the jaw when the mouth opens.
_JAW_WEIGHTS = {
    5: 0.3,
    6: 0.6,
    7: 0.85,
    8: 1.0,
    9: 0.85,
    10: 0.6,
    11: 0.3,
    55: 1.0,
    56: 1.0,
    57: 1.0,
    58: 1.0,
    59: 1.0,
    65: 1.0,
    66: 1.0,
    67: 1.0,
    48: 0.3,
    54: 0.3,
    60: 0.3,
    64: 0.3,
}
_MOUTH_COLOUR = (60, 25, 30)


@dataclass(frozen=True)
class Head:
    image: np.ndarray  # RGB portrait
    points: np.ndarray  # (n, 2) control points in the portrait: 68 landmarks, then the skull outline
    depth: np.ndarray  # (n,) depth of each point in front of the head's axis, pixels
    axis_x: float
    radius: float
    chin_drop: float  # pixels the lower lip moves for a fully open mouth
    anchors: np.ndarray  # points that never move (frame border, shoulders)


def landmarks(rgb: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks of the largest face in a portrait, (68, 2) pixels."""
    from kinora.ml import faces

    found = faces.landmarks68(np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)))
    if not found:
        raise ValueError("no face found in the portrait")
    return found[0]


def build_head(rgb: np.ndarray) -> Head:
    lm = landmarks(rgb)
    axis_x = float(lm[0, 0] + lm[16, 0]) / 2
    half = float(lm[16, 0] - lm[0, 0]) / 2
    radius = 1.15 * half
    brow, nose, chin = float(lm[17:27, 1].mean()), float(lm[33, 1]), float(lm[8, 1])
    outline = []
    for f in (-1.0, -0.6, -0.2, 0.2, 0.6, 1.0):  # forehead and top of the head
        outline += [
            [axis_x + f * half * 0.95, brow - 0.55 * (nose - brow)],
            [axis_x + f * half * 0.9, brow - 1.15 * (nose - brow)],
        ]
    for side in (-1, 1):  # the head's silhouette, where it turns out of view
        outline += [[axis_x + side * radius, y] for y in (brow - 0.5 * (nose - brow), lm[2, 1], lm[5, 1])]
    points = np.vstack([lm, np.array(outline, float)])
    across = np.clip((points[:, 0] - axis_x) / radius, -0.999, 0.999)
    depth = np.sqrt(1 - across**2) * radius
    depth[27:36] += radius * np.array(_NOSE_DEPTH)
    depth[36:48] += radius * _EYE_DEPTH
    h, w = rgb.shape[:2]
    border = [[x, y] for x in np.linspace(0, w - 1, 6) for y in (0, h - 1)]
    border += [[x, y] for y in np.linspace(0, h - 1, 6)[1:-1] for x in (0, w - 1)]
    shoulders = [
        [axis_x - 2 * radius, chin + 0.9 * radius],
        [axis_x + 2 * radius, chin + 0.9 * radius],
        [axis_x, chin + 1.2 * radius],
    ]
    return Head(rgb, points, depth, axis_x, radius, _MOUTH_DROP * (chin - nose), np.array(border + shoulders, float))


def posed_points(head: Head, yaw_deg: float, mouth: float) -> np.ndarray:
    """The control points with the head turned by `yaw_deg` (positive: toward the
    camera's right, i.e. the subject's own left) and the mouth open by `mouth` (0..1)."""
    yaw = np.radians(np.clip(yaw_deg, -MAX_YAW_DEG, MAX_YAW_DEG))
    points = head.points.copy()
    points[:, 0] = head.axis_x + (points[:, 0] - head.axis_x) * np.cos(yaw) + head.depth * np.sin(yaw)
    drop = float(np.clip(mouth, 0, 1)) * head.chin_drop
    for index, weight in _JAW_WEIGHTS.items():
        points[index, 1] += weight * drop
    return points


def render(head: Head, yaw_deg: float, mouth: float) -> np.ndarray:
    """The portrait with the head turned and the mouth open, same size as the portrait."""
    target = posed_points(head, yaw_deg, mouth)
    source_all = np.vstack([head.points, head.anchors])
    target_all = np.vstack([target, head.anchors])
    h, w = head.image.shape[:2]
    triangles = Delaunay(target_all)
    pixels = _grid(h, w)
    simplex = triangles.find_simplex(pixels)
    affine = triangles.transform[simplex]
    bary = np.einsum("nij,nj->ni", affine[:, :2], pixels - affine[:, 2])
    bary = np.c_[bary, 1 - bary.sum(axis=1)]
    source = np.einsum("ni,nij->nj", bary, source_all[triangles.simplices[simplex]])
    map_x = source[:, 0].reshape(h, w).astype(np.float32)
    map_y = source[:, 1].reshape(h, w).astype(np.float32)
    out = cv2.remap(head.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if mouth > 0.05:
        cv2.fillPoly(out, [np.round(target[60:68]).astype(np.int32)], _MOUTH_COLOUR, lineType=cv2.LINE_AA)
    return out


@lru_cache(maxsize=8)
def _grid(h: int, w: int) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
