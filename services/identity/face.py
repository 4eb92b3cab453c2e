"""The face side of the liveness check: faces found in each sampled frame (dlib's
HOG detector, through kinora.ml.faces), their 68 landmarks, and what the
landmarks say: where the head points (yaw) and how open the mouth is.

Yaw is read from the nose tip's place between the two sides of the face
outline (landmarks 0 and 16, beside the eyes): 0 when the nose is midway,
toward +1 as the head turns to the camera's right (the subject's own left).
A real turn moves the nose off the middle because the nose stands out of
the face; a flat photo slid or squeezed sideways keeps it in the middle.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kinora.ml import faces

DETECT_WIDTH = 320  # detection runs on frames scaled to this width: faces in selfie clips are large
# Nose offset (see the module text) that starts / ends a head turn. 0.25 is about 15 degrees
# of yaw on the fixture head; a frontal face jitters by about 0.03.
TURN_ENTER, TURN_EXIT = 0.25, 0.12
STILL_CHANGED = 0.005  # share of pixels visibly changing between samples below which nothing moves


@dataclass
class FaceTrack:
    times: list[float]
    counts: list[int]  # faces found in each sampled frame
    boxes: list[tuple[float, float, float, float] | None]  # (x, y, w, h) of the main face, frame pixels
    frame_width: int
    landmarks: list[np.ndarray | None]  # (68, 2) of the main face, frame pixels

    @property
    def yaws(self) -> list[float | None]:
        return [None if lm is None else nose_offset(lm) for lm in self.landmarks]

    @property
    def mouths(self) -> list[float | None]:
        return [None if lm is None else mouth_opening(lm) for lm in self.landmarks]


def detect_faces(gray: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Faces in one grey frame, as boxes in that frame's pixels, largest first."""
    scale = min(1.0, DETECT_WIDTH / gray.shape[1])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    # Upsampled once, faces down to ~40 px of the small frame are found (the HOG window is 80).
    return [(x / scale, y / scale, w / scale, h / scale) for x, y, w, h in faces.detect(small, upsample=1)]


def nose_offset(lm: np.ndarray) -> float:
    left, right, nose = float(lm[0, 0]), float(lm[16, 0]), float(lm[30, 0])
    return 2 * (nose - left) / max(right - left, 1.0) - 1


def mouth_opening(lm: np.ndarray) -> float:
    """Inner-lip gap over mouth width: about 0.1 closed, 0.4 and more wide open."""
    gap = float(np.mean(np.linalg.norm(lm[[67, 66, 65]] - lm[[61, 62, 63]], axis=1)))
    return gap / max(float(np.linalg.norm(lm[64] - lm[60])), 1.0)


def track_faces(grays: list[np.ndarray], times: list[float]) -> FaceTrack:
    counts, boxes, marks = [], [], []
    for gray in grays:
        found = detect_faces(gray)
        counts.append(len(found))
        boxes.append(found[0] if found else None)
        marks.append(faces.shape68(gray, found[0]) if found else None)
    return FaceTrack(list(times), counts, boxes, grays[0].shape[1] if grays else 0, marks)


def _offsets(track: FaceTrack) -> list[float | None]:
    """Horizontal shift of the face centre from its resting place, in face widths."""
    found = [b for b in track.boxes if b is not None]
    if not found:
        return [None] * len(track.boxes)
    rest_x = float(np.median([b[0] + b[2] / 2 for b in found]))
    face_w = float(np.median([b[2] for b in found]))
    return [None if b is None else (b[0] + b[2] / 2 - rest_x) / face_w for b in track.boxes]


def head_turns(track: FaceTrack) -> list[str]:
    """Turns seen, in order, in the user's own frame, from the landmarks' yaw.
    Turning to one's left points the nose toward the camera's right in an
    unmirrored recording."""
    turns, current, samples = [], 0, 0
    for yaw in track.yaws:
        if yaw is None:
            continue  # a missed detection neither starts nor ends a turn
        if current == 0 and abs(yaw) > TURN_ENTER:
            current, samples = (1 if yaw > 0 else -1), 1
        elif current and yaw * current > TURN_ENTER:
            samples += 1
        elif current and yaw * current < TURN_EXIT:
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


def best_crops(rgbs: list[np.ndarray | None], track: FaceTrack, count: int = 3, size: int = 256) -> list[bytes]:
    """PNG crops of the most frontal single-face frames, spread over the clip
    (frames whose colour was not kept, None in `rgbs`, are skipped)."""
    yaws = track.yaws
    candidates = [
        i for i, (c, y) in enumerate(zip(track.counts, yaws)) if c == 1 and y is not None and rgbs[i] is not None
    ]
    candidates.sort(key=lambda i: abs(yaws[i]))
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
