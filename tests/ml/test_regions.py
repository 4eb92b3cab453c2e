"""The small-face search's candidate pass (kinora.ml.regions) on real faces:
it keeps the places a face is, drops flat stretches and thin lines, and the
faces found through it are the ones a search of the whole frame finds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from kinora.ml import faces, regions

SIZE = (720, 1280)


def _scene(face_width: int, at: tuple[int, int]) -> np.ndarray:
    """A worldsim-like frame: a soft sky-to-sea gradient, a horizon line, a figure's
    outline, and the astronaut's face scaled to `face_width` px at `at`."""
    width, height = SIZE
    ramp = np.linspace(200, 120, height, dtype=np.float32)[:, None, None]
    frame = np.broadcast_to(ramp * np.array([0.6, 0.8, 1.0], np.float32), (height, width, 3)).astype(np.uint8).copy()
    cv2.line(frame, (0, 700), (width, 700), (30, 60, 120), 3)
    cv2.rectangle(frame, (100, 800), (160, 1100), (70, 60, 150), 2)
    astronaut = skimage.data.astronaut()
    x, y, w, h = faces.find_faces(astronaut)[0].box
    pad = w // 3
    crop = Image.fromarray(astronaut[y - pad : y + h + pad, x - pad : x + w + pad])
    scale = face_width / w
    crop = np.asarray(crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.LANCZOS))
    frame[at[1] : at[1] + crop.shape[0], at[0] : at[0] + crop.shape[1]] = crop
    return frame


def _whole_frame(rgb: np.ndarray) -> list[faces.Face]:
    regions.ENABLED = False
    try:
        return faces.find_faces(rgb, small_faces=True, rolled=False)
    finally:
        regions.ENABLED = True


@pytest.mark.parametrize("face_width", [44, 64, 120])
def test_faces_found_through_the_regions_are_those_the_whole_frame_search_finds(face_width):
    rgb = _scene(face_width, (400, 300))
    whole = _whole_frame(rgb)
    through = faces.find_faces(rgb, small_faces=True, rolled=False)
    assert len(whole) == 1 and len(through) == 1
    (wx, wy, ww, _), (tx, ty, tw, _) = whole[0].box, through[0].box
    assert abs(wx - tx) < ww / 4 and abs(wy - ty) < ww / 4 and abs(ww - tw) < ww / 4
    # The same face: its embeddings match.
    assert np.linalg.norm(whole[0].embedding - through[0].embedding) < faces.MATCH_DISTANCE / 2


def test_flat_stretches_and_lines_are_not_searched_and_the_face_is():
    rgb = _scene(44, (400, 300))
    places = regions.candidate_regions(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert places is not None
    inside = [p for p in places if p[0] <= 400 and p[1] <= 300 and p[0] + p[2] >= 460 and p[1] + p[3] >= 360]
    assert inside, places
    # Far less than the frame is searched: the horizon and the outline are thin lines.
    assert sum(w * h for _, _, w, h in places) < 0.1 * SIZE[0] * SIZE[1], places

    blank = _scene(44, (400, 300))
    blank[250:450, 350:550] = blank[250, 350]  # the face painted over with the sky
    assert regions.candidate_regions(cv2.cvtColor(blank, cv2.COLOR_RGB2GRAY)) == []
    assert faces.find_faces(blank, small_faces=True, rolled=False) == []


def test_a_frame_with_detail_everywhere_is_searched_whole():
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (SIZE[1] // 4, SIZE[0] // 4), dtype=np.uint8)
    gray = cv2.resize(noise, SIZE, interpolation=cv2.INTER_NEAREST)
    assert regions.candidate_regions(gray) is None
