"""The output scan's keyframe search (kinora.ml.keyframe_faces) with the real
face model: a keyframe is searched again only where it changed since the
previous one, a face seen again unchanged is embedded once, and what it finds
is what searching every keyframe whole finds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from kinora.ml import face_net, faces, keyframe_faces

SIZE = (720, 1280)


def _scene(face_width: int | None, at: tuple[int, int] = (400, 300)) -> np.ndarray:
    """A worldsim-like frame (sky-to-sea gradient, horizon, a figure's outline, a textured
    patch of grass) with the astronaut's face scaled to `face_width` px at `at` (None: no face)."""
    width, height = SIZE
    ramp = np.linspace(200, 120, height, dtype=np.float32)[:, None, None]
    frame = np.broadcast_to(ramp * np.array([0.6, 0.8, 1.0], np.float32), (height, width, 3)).astype(np.uint8).copy()
    cv2.line(frame, (0, 700), (width, 700), (30, 60, 120), 3)
    cv2.rectangle(frame, (100, 800), (160, 1100), (70, 60, 150), 2)
    grass = np.random.default_rng(5).integers(40, 160, (40, 100, 3), dtype=np.uint8)
    frame[1150:1190, 500:600] = grass
    if face_width is not None:
        astronaut = skimage.data.astronaut()
        x, y, w, h = faces.find_faces(astronaut)[0].box
        pad = w // 3
        crop = Image.fromarray(astronaut[y - pad : y + h + pad, x - pad : x + w + pad])
        scale = face_width / w
        crop = np.asarray(crop.resize((round(crop.width * scale), round(crop.height * scale)), Image.LANCZOS))
        frame[at[1] : at[1] + crop.shape[0], at[0] : at[0] + crop.shape[1]] = crop
    return frame


def _each_whole(frames: list[np.ndarray]) -> keyframe_faces.KeyframeFaces:
    keyframe_faces.TRACK = False
    try:
        return keyframe_faces.find_in_keyframes(frames)
    finally:
        keyframe_faces.TRACK = True


def test_a_still_keyframe_is_searched_where_it_changed_and_its_face_is_embedded_once():
    first = _scene(64)
    second = first.copy()
    cv2.circle(second, (150, 1000), 14, (250, 250, 250), -1)  # a ball far from the face
    seen = keyframe_faces.find_in_keyframes([first, second])
    assert seen.searched[0] == 1.0 and seen.searched[1] < 0.25, seen.searched
    assert seen.embedded == 1 and len(seen.distinct) == 1
    assert [f.box for f in seen.per_frame[1]] == [f.box for f in seen.per_frame[0]]

    # The same faces as searching both keyframes whole, for two embeddings' cost.
    whole = _each_whole([first, second])
    assert whole.embedded == 2 and whole.searched == [1.0, 1.0]
    for tracked, searched in zip(seen.per_frame, whole.per_frame):
        assert [f.box for f in tracked] == [f.box for f in searched]
        assert np.allclose(tracked[0].embedding, searched[0].embedding, atol=1e-4)


@pytest.mark.parametrize("face_width", [44, 100, 150])
def test_a_face_that_appears_in_a_later_keyframe_is_found_where_it_changed(face_width):
    empty, later = _scene(None), _scene(face_width)
    seen = keyframe_faces.find_in_keyframes([empty, later])
    assert seen.per_frame[0] == [] and len(seen.per_frame[1]) == 1, seen.per_frame
    assert seen.searched[1] < keyframe_faces.SEARCH_WHOLE_ABOVE
    # The face searching the whole keyframe finds: the same regions searched the same way.
    direct = faces.find_faces(later, small_faces=True, rolled=False)
    assert seen.per_frame[1][0].box == direct[0].box
    assert np.allclose(seen.per_frame[1][0].embedding, direct[0].embedding, atol=1e-4)


def test_a_change_near_a_face_searches_it_again():
    first = _scene(64)
    near = first.copy()
    near[340:352, 520:532] = (20, 20, 20)  # a spot just beside the face
    lit = near.copy()
    lit[300:400, 400:500] = np.clip(lit[300:400, 400:500].astype(np.int16) + 40, 0, 255)  # the face lit up
    seen = keyframe_faces.find_in_keyframes([first, near, lit])
    assert [len(frame) for frame in seen.per_frame] == [1, 1, 1]
    assert all(share < 0.25 for share in seen.searched[1:]), seen.searched
    # Searched again as a whole search would: the same box, the same chip, so the first keyframe's
    # embedding serves the second; the lit face has its own.
    assert seen.embedded == 2
    assert seen.per_frame[1][0].embedding is seen.per_frame[0][0].embedding
    whole = _each_whole([first, near, lit])
    for tracked, searched in zip(seen.per_frame, whole.per_frame):
        assert tracked[0].box == searched[0].box
        assert np.allclose(tracked[0].embedding, searched[0].embedding, atol=1e-4)


def test_a_chip_seen_again_takes_the_embedding_already_computed():
    chip = faces.locate(_scene(64), small_faces=True)[0][2]
    noisy = np.clip(chip.astype(np.int16) + np.random.default_rng(1).choice([-1, 0, 0, 0, 0, 1], chip.shape), 0, 255)
    other = np.clip(chip.astype(np.int16) + 30, 0, 255)  # the same face in another light: embedded again
    box = (10, 10, 64, 64)
    seen = [
        [keyframe_faces._Seen(box, 1.0, chip)],
        [keyframe_faces._Seen(box, 1.0, noisy.astype(np.uint8))],
        [keyframe_faces._Seen(box, 1.0, other.astype(np.uint8))],
    ]
    out = keyframe_faces._embedded(seen, [1.0, 1.0, 1.0])
    assert out.embedded == 2 and len(out.distinct) == 2
    assert out.per_frame[1][0].embedding is out.per_frame[0][0].embedding
    assert np.linalg.norm(out.per_frame[2][0].embedding - out.per_frame[0][0].embedding) > 0


def test_a_moving_camera_searches_each_keyframe_whole():
    # A textured world wider than the frame, the camera panning 60 px across it.
    rng = np.random.default_rng(2)
    world = cv2.resize(
        rng.integers(40, 200, (1280 // 16, 800 // 16, 3), dtype=np.uint8), (800, 1280), interpolation=cv2.INTER_LINEAR
    )
    face = _scene(64)[300:420, 400:520]
    world[300:420, 440:560] = face
    first, panned = (np.ascontiguousarray(world[:, x : x + SIZE[0]]) for x in (0, 60))
    seen = keyframe_faces.find_in_keyframes([first, panned])
    assert seen.searched == [1.0, 1.0]
    assert [len(frame) for frame in seen.per_frame] == [1, 1]
    assert abs(seen.per_frame[0][0].box[0] - seen.per_frame[1][0].box[0] - 60) < 64 // 4


def test_keyframes_of_one_clip_have_one_size():
    with pytest.raises(ValueError, match="one size"):
        keyframe_faces.find_in_keyframes([_scene(None), _scene(None)[:640]])
    assert keyframe_faces.find_in_keyframes([]).per_frame == []


def test_the_embedding_runs_openblas_on_one_thread_and_gives_the_threads_back():
    blas = face_net._openblas()
    if blas is None:
        pytest.skip("numpy's BLAS here is not OpenBLAS")
    get, _ = blas
    chip = faces.locate(_scene(64), small_faces=True)[0][2]
    before = get()
    inside = []
    real = face_net._embed

    def spy(chip, model_file):
        inside.append(get())
        return real(chip, model_file)

    face_net._embed = spy
    try:
        faces.embed_chip(chip)
    finally:
        face_net._embed = real
    assert inside == [1] and get() == before
