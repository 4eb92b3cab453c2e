"""Face detection and head-turn tracking for the liveness check, using the
Haar cascades that ship with OpenCV (frontal, and profile for turned heads)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

DETECT_WIDTH = 320  # detection runs on frames scaled to this width: faces in selfie clips are large
TURN_ENTER, TURN_EXIT = 0.18, 0.08  # face-centre shift, in face widths, that starts / ends a turn
STILL_CHANGED = 0.005  # share of pixels visibly changing between samples below which nothing moves

_local = threading.local()  # CascadeClassifier objects are not safe to share across threads


def _cascades():
    if not hasattr(_local, "frontal"):
        base = cv2.data.haarcascades
        _local.frontal = cv2.CascadeClassifier(base + "haarcascade_frontalface_default.xml")
        _local.profile = cv2.CascadeClassifier(base + "haarcascade_profileface.xml")
        if _local.frontal.empty() or _local.profile.empty():
            raise RuntimeError("OpenCV's face cascades could not be loaded")
    return _local.frontal, _local.profile


@dataclass
class FaceTrack:
    times: list[float]
    counts: list[int]  # faces found in each sampled frame
    boxes: list[tuple[float, float, float, float] | None]  # (x, y, w, h) of the main face, frame pixels
    frame_width: int


def detect_faces(gray: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Faces in one grey frame, as boxes in that frame's pixels."""
    frontal, profile = _cascades()
    scale = min(1.0, DETECT_WIDTH / gray.shape[1])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    small = cv2.equalizeHist(small)
    min_side = max(20, small.shape[0] // 6)
    args = dict(scaleFactor=1.15, minNeighbors=5, minSize=(min_side, min_side))
    found = [tuple(b) for b in frontal.detectMultiScale(small, **args)]
    if not found:
        # A turned head: the profile cascade finds faces looking one way, so try the mirror too.
        found = [tuple(b) for b in profile.detectMultiScale(small, **args)]
        width = small.shape[1]
        for x, y, w, h in profile.detectMultiScale(cv2.flip(small, 1), **args):
            found.append((width - x - w, y, w, h))
        found = _merge_overlaps(found)
    return [(x / scale, y / scale, w / scale, h / scale) for x, y, w, h in found]


def _merge_overlaps(boxes):
    kept = []
    for box in sorted(boxes, key=lambda b: -b[2] * b[3]):
        if all(_overlap(box, k) < 0.3 for k in kept):
            kept.append(box)
    return kept


def _overlap(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def track_faces(grays: list[np.ndarray], times: list[float]) -> FaceTrack:
    counts, boxes = [], []
    for gray in grays:
        faces = detect_faces(gray)
        counts.append(len(faces))
        boxes.append(max(faces, key=lambda b: b[2] * b[3]) if faces else None)
    return FaceTrack(list(times), counts, boxes, grays[0].shape[1] if grays else 0)


def _offsets(track: FaceTrack) -> list[float | None]:
    """Horizontal shift of the face centre from its resting place, in face widths.
    Resting place: median centre of the widest (most frontal) detections."""
    found = [b for b in track.boxes if b is not None]
    if not found:
        return [None] * len(track.boxes)
    widths = np.array([b[2] for b in found])
    frontal = [b for b in found if b[2] >= 0.85 * np.percentile(widths, 90)]
    rest_x = float(np.median([b[0] + b[2] / 2 for b in frontal]))
    face_w = float(np.median([b[2] for b in frontal]))
    return [None if b is None else (b[0] + b[2] / 2 - rest_x) / face_w for b in track.boxes]


def head_turns(track: FaceTrack) -> list[str]:
    """Turns seen, in order, in the user's own frame. Turning to one's left moves
    the face toward the camera's right in an unmirrored recording."""
    turns, current, peak, samples = [], 0, 0.0, 0
    for off in _offsets(track):
        if off is None:
            continue  # a missed detection neither starts nor ends a turn
        if current == 0 and abs(off) > TURN_ENTER:
            current, peak, samples = (1 if off > 0 else -1), off, 1
        elif current and off * current > TURN_ENTER:
            samples += 1
            peak = max(peak, off, key=abs)
        elif current and off * current < TURN_EXIT:
            if samples >= 2:  # one jittery sample is not a turn
                turns.append("left" if current > 0 else "right")
            current = 0
    if current and samples >= 2:
        turns.append("left" if current > 0 else "right")
    return turns


def is_still(grays: list[np.ndarray], track: FaceTrack) -> bool:
    """True when nothing moves: a photo held up (or a frozen frame) instead of a person."""
    small = [cv2.GaussianBlur(cv2.resize(g, (160, max(1, 160 * g.shape[0] // g.shape[1]))), (5, 5), 0) for g in grays]
    # Blur and a level step of 8 keep codec noise from counting as movement.
    changed = [float(np.mean(cv2.absdiff(a, b) > 8)) for a, b in zip(small, small[1:])]
    offsets = [o for o in _offsets(track) if o is not None]
    face_moves = len(offsets) > 1 and (max(offsets) - min(offsets)) > 0.05
    return (not changed or float(np.percentile(changed, 90)) < STILL_CHANGED) and not face_moves


def best_crops(rgbs: list[np.ndarray], track: FaceTrack, count: int = 3, size: int = 256) -> list[bytes]:
    """PNG crops of the most frontal single-face frames, spread over the clip."""
    offsets = _offsets(track)
    candidates = [i for i, (c, o) in enumerate(zip(track.counts, offsets)) if c == 1 and o is not None]
    candidates.sort(key=lambda i: abs(offsets[i]))
    chosen: list[int] = []
    for i in candidates:  # prefer frames at least a second apart
        if all(abs(track.times[i] - track.times[j]) >= 1.0 for j in chosen):
            chosen.append(i)
        if len(chosen) == count:
            break
    crops = []
    for i in sorted(chosen):
        x, y, w, h = track.boxes[i]
        rgb = rgbs[i]
        m = 0.25 * max(w, h)
        x0, y0 = int(max(0, x - m)), int(max(0, y - m))
        x1, y1 = int(min(rgb.shape[1], x + w + m)), int(min(rgb.shape[0], y + h + m))
        crop = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2BGR)
        if max(crop.shape[:2]) > size:
            f = size / max(crop.shape[:2])
            crop = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        ok, png = cv2.imencode(".png", crop)
        if ok:
            crops.append(png.tobytes())
    return crops
