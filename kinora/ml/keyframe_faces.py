"""The faces in a clip's sampled keyframes, each place searched and each face
embedded once (the output scan, services/generator/likeness.py).

Two keyframes of one clip are often much the same picture: a still camera, a
background that does not move, the same person standing in the same place. So:

- a keyframe is compared with the previous one, pixel by pixel in grey; only
  where it changed (by more than CHANGE_LEVEL grey levels, the encoder's noise
  on a still picture stays under it), widened by CHANGE_MARGIN, and around every
  face of the previous keyframe that a change touches, is it searched closely
  again: the small-face search's candidate regions (kinora.ml.regions) that
  touch those places, found and searched as in a whole search, so what is
  found there is what a whole search finds; the picture halved (faces over
  160 px, ~15 ms) is searched whole every time. The faces of the previous
  keyframe that no change touches are still there (the same pixels give the
  detector the same answer) and are carried over. A keyframe that changed over
  more than SEARCH_WHOLE_ABOVE of its area (a moving camera, a cut) is searched
  whole, side by side with the others.
- a face is embedded once: the embedding is a function of the aligned face chip
  alone, so a face whose chip differs from one already embedded in this clip by
  at most CHIP_TOLERANCE grey levels on average (the same pixels, searched again
  because a change came near it) takes that embedding.

What this gives up against searching every keyframe whole: nothing a change
touches; a face the previous keyframe's search missed stays missed in the
places no change touches (the same pixels, the same answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from kinora.ml import faces, regions

# Grey levels a pixel may move between two keyframes and still count as unchanged. Two
# encodings of one still worldsim picture differ by 0-2 levels in 99.99% of the pixels.
CHANGE_LEVEL = 8
# Changes are found on a grid of this many pixels (a cell with one changed pixel is changed).
CELL = 8
# Pixels around a change searched again: a face up to this size that touches it lies
# inside (the small-face search's largest faces are 160 px).
CHANGE_MARGIN = 160
# A keyframe whose search would cover more than this share of it is searched whole.
SEARCH_WHOLE_ABOVE = 0.5
# Mean absolute difference (grey levels, 150x150x3 chip) under which two chips share an
# embedding: the same pixels up to the encoder's noise. Looser is not safe enough: chips of one
# face drawn at another place (a moving camera) differ by ~4 levels and their embeddings by
# 0.06-0.08, a slightly blurred chip by ~1-3 levels and up to 0.15, while the match distance
# is 0.5 (chips of two different people of benchmarks/face_eval.py's set differ by 19 or more);
# scanning both keeps a face near the match distance the chance to match in either keyframe.
CHIP_TOLERANCE = 0.5
# False: every keyframe is searched whole and every face embedded (what the benchmark compares with).
TRACK = True

Box = tuple[int, int, int, int]  # x, y, width, height


@dataclass
class _Seen:
    box: Box
    score: float
    chip: np.ndarray
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class KeyframeFaces:
    per_frame: list[list[faces.Face]]  # every face of each keyframe, largest first
    distinct: list[faces.Face]  # one per embedding computed (a face seen in several keyframes once)
    searched: list[float]  # share of each keyframe's area searched (1.0: whole)
    embedded: int  # embeddings computed


def changed_boxes(before: np.ndarray, after: np.ndarray) -> list[Box]:
    """Bounding boxes of the places where two grey pictures of one size differ by more
    than CHANGE_LEVEL, on a CELL-pixel grid."""
    height, width = after.shape[:2]
    moved = (cv2.absdiff(before, after) > CHANGE_LEVEL).astype(np.uint8)
    cells = cv2.resize(moved, (-(-width // CELL), -(-height // CELL)), interpolation=cv2.INTER_AREA)
    cells = cv2.dilate((cells > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(cells, connectivity=8)
    return [(int(x) * CELL, int(y) * CELL, int(w) * CELL, int(h) * CELL) for x, y, w, h, _ in stats[1:count]]


def _widened(box: Box, margin: int, width: int, height: int) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return max(0, x - margin), max(0, y - margin), min(width, x + w + margin), min(height, y + h + margin)


def _touch(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def search_zone(
    changes: list[Box], before: list[_Seen], width: int, height: int
) -> tuple[list[Box] | None, list[_Seen]]:
    """Where a keyframe is searched again, given where it changed and the faces of the
    previous keyframe (None: whole), and those faces carried over untouched."""
    carried, zone = [], []
    for face in before:
        # The face and the room its landmarks and chip read around it.
        room = _widened(face.box, face.box[2] // 2, width, height)
        room_box = (room[0], room[1], room[2] - room[0], room[3] - room[1])
        if any(_touch(room_box, change) for change in changes):
            zone.append(_widened(face.box, face.box[2], width, height))
        else:
            carried.append(face)
    zone += [_widened(change, CHANGE_MARGIN, width, height) for change in changes]
    merged = regions.merged_boxes(zone)
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in merged) > SEARCH_WHOLE_ABOVE * width * height:
        return None, []
    return [(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in merged], carried


def _overlap(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    shared = max(0, w) * max(0, h)
    return shared / max(1, a[2] * a[3] + b[2] * b[3] - shared)


def _locate(rgb: np.ndarray, within: list[Box] | None) -> list[_Seen]:
    return [_Seen(box, score, chip) for box, score, chip in faces.locate(rgb, small_faces=True, within=within)]


def find_in_keyframes(frames: Sequence[np.ndarray], threads: int = 2) -> KeyframeFaces:
    """The faces (small ones included, upright) of a clip's keyframes in time order
    (RGB, H x W x 3 uint8, one size). Keyframes searched whole run on `threads` threads."""
    frames = [np.ascontiguousarray(f, dtype=np.uint8) for f in frames]
    if not frames:
        return KeyframeFaces([], [], [], 0)
    height, width = frames[0].shape[:2]
    if any(f.shape != frames[0].shape for f in frames):
        raise ValueError("the keyframes of one clip must all have one size")
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    changes: list[list[Box] | None] = [None] + [changed_boxes(a, b) if TRACK else None for a, b in zip(grey, grey[1:])]
    # A keyframe that changed nearly everywhere is searched whole whatever the previous one held.
    whole = [i for i, c in enumerate(changes) if c is None or search_zone(c, [], width, height)[0] is None]
    seen: list[list[_Seen]] = [[] for _ in frames]
    searched = [1.0] * len(frames)
    if len(whole) == 1 or threads < 2:
        for i in whole:
            seen[i] = _locate(frames[i], None)
    else:
        with ThreadPoolExecutor(min(threads, len(whole))) as pool:
            for i, found in zip(whole, pool.map(lambda i: _locate(frames[i], None), whole)):
                seen[i] = found
    for i, change in enumerate(changes):
        if i in whole or change is None:
            continue
        zone, carried = search_zone(change, seen[i - 1], width, height)
        if zone is None:  # the previous keyframe's faces widened it past the limit
            seen[i], searched[i] = _locate(frames[i], None), 1.0
            continue
        found = _locate(frames[i], zone)
        searched[i] = sum(w * h for _, _, w, h in zone) / (width * height)
        seen[i] = found + [c for c in carried if not any(_overlap(c.box, f.box) > 0.5 for f in found)]
    return _embedded(seen, searched)


def _embedded(seen: list[list[_Seen]], searched: list[float]) -> KeyframeFaces:
    """Embeds each face once (a chip within CHIP_TOLERANCE of one embedded takes its embedding)."""
    done: list[_Seen] = []
    distinct: list[faces.Face] = []
    per_frame = []
    for frame in seen:
        out = []
        for face in frame:
            if face.embedding is None:
                chip = face.chip.astype(np.int16)
                twin = next((d for d in done if TRACK and np.abs(chip - d.chip).mean() <= CHIP_TOLERANCE), None)
                if twin is not None:
                    face.embedding = twin.embedding
                else:
                    face.embedding = faces.embed_chip(face.chip)
                    face.chip = chip
                    done.append(face)
                    distinct.append(faces.Face(face.box, face.score, face.embedding))
            out.append(faces.Face(face.box, face.score, face.embedding))
        out.sort(key=lambda f: -f.box[2] * f.box[3])
        per_frame.append(out)
    return KeyframeFaces(per_frame, distinct, searched, len(distinct))
