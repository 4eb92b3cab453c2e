"""The face module on real pictures: the evaluation set's faces, augmented."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image

from kinora.ml import faces

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "face_eval"


def _eval_faces() -> dict[str, np.ndarray]:
    labels = json.loads((EVAL / "labels.json").read_text())["faces"]
    return {item["identity"]: np.asarray(Image.open(EVAL / item["file"]).convert("RGB")) for item in labels}


def test_same_face_after_scaling_and_jpeg_matches_and_others_do_not():
    pictures = _eval_faces()
    enrolled = {name: faces.find_faces(rgb)[0].embedding for name, rgb in pictures.items()}
    labels = list(enrolled)
    matrix = np.stack([enrolled[n] for n in labels])

    probe = Image.fromarray(skimage.data.astronaut()).resize((300, 300))
    buf = io.BytesIO()
    probe.save(buf, "JPEG", quality=40)
    found = faces.find_faces(faces.decode(buf.getvalue()))
    assert len(found) == 1
    matches = faces.match(found, matrix, labels)
    assert [m.label for m in matches] == ["astronaut"]
    assert matches[0].distance < faces.MATCH_DISTANCE

    # Nobody else in the set matches the astronaut's enrolment.
    others = [n for n in labels if n != "astronaut"]
    assert faces.match(found, np.stack([enrolled[n] for n in others]), others) == []


def test_picture_without_people_has_no_face():
    assert faces.find_faces(skimage.data.coffee()) == []


def test_embedding_bytes_round_trip_and_bad_bytes_are_refused():
    vector = np.arange(128, dtype=np.float32) / 128
    assert np.array_equal(faces.from_bytes(faces.to_bytes(vector)), vector)
    with pytest.raises(ValueError):
        faces.from_bytes(b"\x00" * 10)
    with pytest.raises(ValueError):
        faces.from_bytes(np.full(128, np.nan, dtype="<f4").tobytes())


@pytest.mark.parametrize("angle", [50, -50])
def test_a_photo_turned_to_slip_past_the_check_is_still_recognised(angle):
    """Upright, the detector finds the astronaut; turned 50 degrees, its filters alone
    miss her, so the picture is searched again turned back (faces.ROLL_RETRIES)."""
    upright = faces.find_faces(skimage.data.astronaut())[0].embedding
    turned = np.asarray(Image.fromarray(skimage.data.astronaut()).rotate(angle, resample=Image.BILINEAR))
    assert faces._find(np.ascontiguousarray(turned), False) == []  # the attack worked before the retries
    found = faces.find_faces(turned)
    assert found and faces.match(found, upright[None, :], ["astronaut"])[0].label == "astronaut"
    x, y, w, h = found[0].box
    assert 100 < x + w / 2 < 350 and 40 < y + h / 2 < 260  # the box is mapped back onto her face
