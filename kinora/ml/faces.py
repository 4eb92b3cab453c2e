"""Face identity: find the faces in a picture, embed each one, and match the
embeddings against enrolled ones. One module for every path a likeness can
enter by (verification, image inputs, remix sources, model outputs).

The model is dlib's: a HOG face detector, a 5-point landmark model for
alignment and a ResNet that maps an aligned face to 128 numbers, where two
photos of one person lie closer than MATCH_DISTANCE (Euclidean). The weights
ship inside the `face-recognition-models` wheel; nothing is downloaded.
Figures for the threshold and the time per image: benchmarks/face_eval.py.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from kinora.ml import face_net, regions

EMBEDDING_SIZE = 128
# Same person below this distance. dlib's own suggestion is 0.6; 0.5 keeps the
# false-match rate at zero on our evaluation set with every augmented probe of
# the same face still matching (benchmarks/face_eval.py prints both rates).
MATCH_DISTANCE = 0.5
# Detection runs on the picture scaled down to this longest side. Up to it, a
# picture is searched at full size, so faces down to ~70 pixels are found (the
# HOG window is 80); 800 was ~40% faster but missed a 72-pixel face in a
# 720x1280 input. The detector's time grows with the pixel count.
DETECT_SIDE = 1280
# Pictures smaller than this are upsampled once so faces down to ~40 pixels are found.
UPSAMPLE_BELOW = 400
# HOG detections scoring lower are mostly patterns (badges, textures), not faces.
MIN_DETECTION_SCORE = 0.25
# With `small_faces`, the kind a model draws of a person in a wide shot (~40 px
# in a 720x1280 frame): upsampled once, on grey (0.2 s a 720x1280 frame instead
# of 0.28 s in colour), and scores down to 0 kept, since such a face scores
# ~0.15; a pattern taken for a face is harmless there as its embedding matches
# nobody enrolled.
SMALL_FACE_MIN_SCORE = 0.0

# When no face is found upright, the picture is searched again turned by these angles
# (degrees): only pictures without an upright face pay for it.
ROLL_RETRIES = (20.0, -20.0)

_lock = threading.Lock()  # dlib's landmark models are not documented as thread-safe
# dlib's object detector is not safe to share between threads but a copy is: each
# concurrent caller takes its own copy from here (made once, ~10 ms), so pictures and
# frames are searched in parallel (dlib lets go of the GIL while it searches).
_idle_detectors: queue.SimpleQueue = queue.SimpleQueue()


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # (x, y, width, height) in the picture's pixels
    score: float  # detector confidence
    embedding: np.ndarray  # (128,) float32


@dataclass(frozen=True)
class Match:
    face_index: int
    label: str  # what the enrolled embedding belongs to (e.g. a user id)
    distance: float


@lru_cache(maxsize=1)
def _model_dir() -> Path:
    # Found without importing the package: its __init__ needs pkg_resources,
    # which current setuptools no longer ships.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face-recognition-models package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def _embedding_model() -> Path:
    return _model_dir() / "dlib_face_recognition_resnet_model_v1.dat"


@lru_cache(maxsize=1)
def _models():
    """dlib's detector and 5-point landmarks; the embedding network's weights are read
    into kinora.ml.face_net, which runs them with numpy (~4x faster than the BLAS-less
    dlib wheel, same numbers)."""
    import dlib

    face_net.load(_embedding_model())
    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(str(_model_dir() / "shape_predictor_5_face_landmarks.dat")),
    )


@lru_cache(maxsize=1)
def _shape68():
    import dlib

    return dlib.shape_predictor(str(_model_dir() / "shape_predictor_68_face_landmarks.dat"))


@contextmanager
def _detector():
    """This thread's use of a copy of the HOG detector."""
    try:
        detector = _idle_detectors.get_nowait()
    except queue.Empty:
        detector = pickle.loads(pickle.dumps(_models()[0]))
    try:
        yield detector
    finally:
        _idle_detectors.put(detector)


def _run_detector(gray: np.ndarray, upsample: int):
    with _detector() as detector:
        return detector.run(gray, upsample, 0.0)


def detect(
    gray: np.ndarray, upsample: int = 0, min_score: float = MIN_DETECTION_SCORE
) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, width, height) in a grey picture, largest first; no embedding."""
    rects, scores, _ = _run_detector(np.ascontiguousarray(gray, dtype=np.uint8), upsample)
    boxes = [(r.left(), r.top(), r.width(), r.height()) for r, score in zip(rects, scores) if score >= min_score]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def shape68(gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """dlib's 68 facial landmarks, (68, 2) pixels, for the face in `box` (x, y, w, h)."""
    import dlib

    x, y, w, h = (int(round(v)) for v in box)
    predictor = _shape68()
    with _lock:
        shape = predictor(np.ascontiguousarray(gray, dtype=np.uint8), dlib.rectangle(x, y, x + w, y + h))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def landmarks68(gray: np.ndarray, upsample: int = 1) -> list[np.ndarray]:
    """68 landmarks of every face in a grey picture, largest face first."""
    return [shape68(gray, box) for box in detect(gray, upsample)]


def load() -> None:
    """Load the models now (about 0.4 s) instead of on the first request."""
    _models()
    if _idle_detectors.empty():
        with _detector():
            pass


def decode(data: bytes) -> np.ndarray:
    """RGB pixels of an encoded picture, turned upright by its EXIF orientation."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # no copy when the picture is upright
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def find_faces(rgb: np.ndarray, small_faces: bool = False, rolled: bool = True) -> list[Face]:
    """Every face in an RGB picture (H, W, 3, uint8), largest first.
    `small_faces` also finds faces down to ~40 px in a big picture (4x slower).
    `rolled`: search a picture with no upright face again turned (ROLL_RETRIES);
    pictures people send need it, a model's frames (drawn upright) do not."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    faces = _find(rgb, small_faces)
    for angle in () if faces or not rolled else ROLL_RETRIES:
        # A tilted head (or a photo turned to slip past the check): HOG's filters cover
        # a limited roll, so look again with the picture turned both ways.
        faces = _find_rolled(rgb, angle, small_faces)
        if faces:
            break
    faces.sort(key=lambda f: -f.box[2] * f.box[3])
    return faces


def _find_rolled(rgb: np.ndarray, angle: float, small_faces: bool) -> list[Face]:
    """Faces found in the picture turned by `angle` degrees about its centre; boxes are
    mapped back to the original picture (their centres; sizes kept)."""
    h, w = rgb.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rolled = cv2.warpAffine(rgb, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    back = cv2.invertAffineTransform(turn)
    found = []
    for f in _find(rolled, small_faces):
        x, y, bw, bh = f.box
        cx, cy = back @ np.array([x + bw / 2, y + bh / 2, 1.0])
        found.append(Face((int(cx - bw / 2), int(cy - bh / 2), bw, bh), f.score, f.embedding))
    return found


def _find(rgb: np.ndarray, small_faces: bool) -> list[Face]:
    return [Face(box, score, embed_chip(chip)) for box, score, chip in locate(rgb, small_faces)]


Box = tuple[int, int, int, int]  # x, y, width, height


def locate(
    rgb: np.ndarray, small_faces: bool = False, within: list[Box] | None = None
) -> list[tuple[Box, float, np.ndarray]]:
    """(box, score, aligned chip) of every face in an RGB picture, not yet embedded (`embed_chip`).
    `within`: boxes (x, y, width, height) of the picture where the faces wanted are; with
    `small_faces`, only the candidate regions touching them are searched closely (faces
    elsewhere may be reported too)."""
    import dlib

    landmarks = _models()[1]
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = (
        rgb
        if scale == 1.0
        else np.asarray(
            Image.fromarray(rgb).resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
        )
    )
    upsample = 1 if small_faces or max(small.shape[:2]) < UPSAMPLE_BELOW else 0
    # HOG runs on grey: ~30% faster than on colour (78 vs 107 ms on a 1024x1024 picture
    # here) with the same evaluation results (benchmarks/face_eval.py).
    small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    min_score = SMALL_FACE_MIN_SCORE if small_faces else MIN_DETECTION_SCORE
    if within is not None and scale != 1.0:
        within = [
            (int(x * scale), int(y * scale), max(1, int(w * scale)), max(1, int(h * scale))) for x, y, w, h in within
        ]
    # Each thread searches with its own copy of the detector, so pictures are searched side by side;
    # only the landmark model is shared.
    detections = _detections(small, upsample, small_faces, within)
    found = []
    with _lock:
        for rect, score in detections:
            if score < min_score:
                continue
            # Landmarks and the embedding come from the full-size picture: more detail, same box.
            box = dlib.rectangle(
                int(rect.left() / scale), int(rect.top() / scale), int(rect.right() / scale), int(rect.bottom() / scale)
            )
            # The aligned chip dlib's compute_face_descriptor would make.
            chip = dlib.get_face_chip(rgb, landmarks(rgb, box), face_net.CHIP_SIZE, face_net.CHIP_PADDING)
            found.append(((box.left(), box.top(), box.width(), box.height()), float(score), chip))
    return found


def embed_chip(chip: np.ndarray) -> np.ndarray:
    """The (128,) embedding of an aligned face chip from `locate`."""
    return face_net.embed(chip, _embedding_model())


def _detections(gray: np.ndarray, upsample: int, small_faces: bool, within: list[Box] | None = None) -> list:
    """(dlib rectangle, score) of the faces the detector finds in `gray`. For small faces,
    the two-fold upsampled search (0.3 s a 720x1280 frame) runs only on the regions where
    a face of ~40-80 px can be (kinora.ml.regions), faces of ~80-160 px are searched for
    at the picture's size in the regions where they can be, and bigger ones in the
    picture halved; a box found twice is kept once. A picture with detail nearly
    everywhere is searched whole. `within`: only the candidate regions touching one of these
    boxes are searched (the picture halved still is, whole): what is found there is what the
    search of the whole picture finds, the same regions searched the same way."""
    tiers = []
    if small_faces and upsample:
        tiers = [
            (regions.candidate_regions(gray), upsample),
            (regions.candidate_regions(gray, scale=8, margin=regions.MARGIN_LARGE), 0),
        ]
    if not tiers or any(places is None for places, _ in tiers):
        rects, scores, _ = _run_detector(gray, upsample)
        return list(zip(rects, scores))
    import dlib

    # Faces from twice the detector's window up: in the picture halved (1/16 of the cost).
    half = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA)
    rects, scores, _ = _run_detector(half, 0)
    found = [
        (dlib.rectangle(r.left() * 2, r.top() * 2, r.right() * 2 + 1, r.bottom() * 2 + 1), s)
        for r, s in zip(rects, scores)
    ]
    for places, times in tiers:
        for x, y, w, h in places:
            if within is not None and not any(_touches((x, y, w, h), box) for box in within):
                continue
            rects, scores, _ = _run_detector(np.ascontiguousarray(gray[y : y + h, x : x + w]), times)
            for rect, score in zip(rects, scores):
                moved = dlib.rectangle(rect.left() + x, rect.top() + y, rect.right() + x, rect.bottom() + y)
                if not any(_overlap(moved, other) > 0.5 for other, _ in found):
                    found.append((moved, score))
    return found


def _touches(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _overlap(a, b) -> float:
    """Intersection over union of two dlib rectangles."""
    inter = a.intersect(b)
    shared = inter.area() if inter.right() >= inter.left() and inter.bottom() >= inter.top() else 0
    return shared / max(1, a.area() + b.area() - shared)


def match(
    faces: list[Face] | np.ndarray, enrolled: np.ndarray, labels: list[str], threshold: float = MATCH_DISTANCE
) -> list[Match]:
    """For each face, the closest enrolled label within `threshold`, if any.
    `enrolled` is (n, 128) with one label per row; a label may own several rows."""
    probes = np.asarray([f.embedding for f in faces] if isinstance(faces, list) else faces, dtype=np.float32)
    if probes.size == 0 or len(labels) == 0:
        return []
    distances = np.linalg.norm(probes.reshape(-1, 1, EMBEDDING_SIZE) - enrolled.reshape(1, -1, EMBEDDING_SIZE), axis=2)
    found = []
    for i, row in enumerate(distances):
        best = int(np.argmin(row))
        if row[best] <= threshold:
            found.append(Match(i, labels[best], float(row[best])))
    return found


def to_bytes(embedding: np.ndarray) -> bytes:
    """The stored and transmitted form: 128 little-endian float32."""
    return np.asarray(embedding, dtype="<f4").reshape(EMBEDDING_SIZE).tobytes()


def from_bytes(data: bytes) -> np.ndarray:
    if len(data) != EMBEDDING_SIZE * 4:
        raise ValueError(f"a face embedding is {EMBEDDING_SIZE} float32 ({EMBEDDING_SIZE * 4} bytes); got {len(data)}")
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        raise ValueError("a face embedding holds a value that is not a finite number")
    return vector
