"""Where in a picture a face can be, found cheaply (~1 ms), so the slow
small-face search (HOG on the picture upsampled twice, ~0.3 s of CPU a
720x1280 frame) runs only there.

A face the detector can find has edges: the detector reads the picture's
gradients and nothing else. So the candidates are the places dense in detail:
on the grey picture scaled down `scale` times, the pixels whose local contrast
(the spread of a 3x3 neighbourhood) exceeds MIN_CONTRAST are edge pixels; the
windows of WINDOW x WINDOW scaled pixels (about a small face) of which at least
MIN_DENSITY are edge pixels are candidates. A face is dense in detail; flat
stretches (sky, sea, walls, soft gradients) have none, thin lines (a horizon,
an outline, a window frame) too little. Candidates closer than JOIN are
grouped; each group's bounding box, widened by a margin so the detector's
window and the landmarks have room, is a region. A picture with detail nearly
everywhere gives regions covering most of it, and is then searched whole
(FULL_SEARCH_ABOVE).

What it can miss that a search of the whole picture finds: a face of very low
contrast, whose features stay under MIN_CONTRAST after the scaling (HOG evens
contrast out, so it may still find it), or too blurred to have edges.
`benchmarks/output_scan_bench.py --recall` compares the two searches."""

from __future__ import annotations

import cv2
import numpy as np

SCALE = 4
# Contrast in grey levels (0-255) over 3x3 pixels of the scaled picture. A face drawn
# at ~44 px by worldsim reaches ~200; flat sky and sea stay under 3; a face with its
# contrast halved still reaches ~100.
MIN_CONTRAST = 30
# Window (pixels of the scaled picture: 36 of the full one, inside a 40 px face) and the
# share of it that must be edge pixels for a face to be possible there.
WINDOW = 9
MIN_DENSITY = 0.45
# Candidates closer than this (pixels of the full picture) join one region.
JOIN = 48
# Room around a region's edges (pixels of the full picture): the detector's window at
# two-fold upsampling is 40 px, and the landmarks look a little past the face.
MARGIN = 24
# The same for faces of ~80-160 px (regions found at scale 8, searched at the picture's size).
MARGIN_LARGE = 64
# False: every picture is searched whole (what the benchmarks compare the regions with).
ENABLED = True
# Regions covering more than this share of the picture: search it whole.
FULL_SEARCH_ABOVE = 0.6


def candidate_regions(
    gray: np.ndarray, scale: int = SCALE, margin: int = MARGIN
) -> list[tuple[int, int, int, int]] | None:
    """Boxes (x, y, width, height) of a grey picture where a face of ~10 * `scale`
    pixels can be (40 px and a little more at the default scale; 80 px and more at
    scale 8, `margin` 96), or None when they would cover most of it (search it all).
    An empty list: no place dense enough in detail."""
    if not ENABLED:
        return None
    height, width = gray.shape[:2]
    small = cv2.resize(gray, (max(1, width // scale), max(1, height // scale)), interpolation=cv2.INTER_AREA)
    contrast = cv2.morphologyEx(small, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    edges = (contrast > MIN_CONTRAST).astype(np.float32)
    # The share of edge pixels in each face-sized window: a face is dense in detail,
    # a line (a horizon, an outline, a window frame) is not.
    density = cv2.boxFilter(edges, -1, (WINDOW, WINDOW))
    mask = (density >= MIN_DENSITY).astype(np.uint8)
    if not mask.any():
        return []
    grow = max(1, JOIN // scale)
    mask = cv2.dilate(mask, np.ones((grow, grow), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    boxes = []
    for x, y, w, h, _ in stats[1:count]:
        x0, y0 = max(0, x * scale - margin), max(0, y * scale - margin)
        x1, y1 = min(width, (x + w) * scale + margin), min(height, (y + h) * scale + margin)
        boxes.append((x0, y0, x1, y1))
    boxes = merged_boxes(boxes)
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes) > FULL_SEARCH_ABOVE * width * height:
        return None
    return [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in boxes]


def merged_boxes(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Overlapping boxes (x0, y0, x1, y1) joined into their bounding box where that box is
    no larger than the two apart (searching it costs no more than searching both)."""
    boxes = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                joined = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                if _area(joined) <= _area(a) + _area(b):
                    boxes[i] = joined
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    return boxes


def _area(box: tuple[int, int, int, int]) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])
