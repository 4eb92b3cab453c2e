"""The worker hands the model the likeness identity captured at verification:
face crops and voice profile, read from identity's blob folder and checked
against their SHA-256."""

import json

import numpy as np

from services.generator.remote import LikenessFiles
from services.identity.blobs import BlobStore
from services.identity.voice import VoiceProfile as CapturedVoice


def test_reads_what_identity_wrote_and_refuses_what_it_did_not(tmp_path):
    store = BlobStore(str(tmp_path))
    face = store.put("likeness/u1/face_0.png", b"\x89PNG\r\n\x1a\n fake-but-bytes", "image/png")
    captured = CapturedVoice(
        pitch_hz_median=182.5,
        pitch_hz_percentiles={10: 150.0, 50: 182.5, 90: 230.0},
        mel_envelope_db=[-40.0 + i for i in range(24)],
    )
    voice = store.put(
        "likeness/u1/voice_profile.json", json.dumps(captured.to_dict(), sort_keys=True).encode(), "application/json"
    )
    files = LikenessFiles(str(tmp_path))

    assert files.read(face) == b"\x89PNG\r\n\x1a\n fake-but-bytes"
    profile = files.voice(voice)
    assert profile.pitch_hz == 182.5 and profile.envelope == [-40.0 + i for i in range(24)]

    # An object changed after verification is not used.
    (tmp_path / face.key).write_bytes(b"someone else's face")
    assert files.read(face) is None
    # Keys cannot climb out of the folder; missing objects and no folder read as nothing.
    escaping = type(face)(key="../outside.png", sha256="")
    assert files.read(escaping) is None
    assert files.read(type(face)(key="likeness/u1/missing.png")) is None
    assert LikenessFiles(None).read(face) is None and LikenessFiles(None).voice(voice) is None


def test_output_scan_samples_one_keyframe_per_four_seconds_of_clip():
    from services.generator.likeness import SAMPLE_EVERY_S, sample

    def times(seconds: int) -> list[float]:  # keyframes every 2 s, as the encoder puts them
        return [t for t, _ in sample([(float(t), None) for t in range(0, seconds, 2)])]

    assert SAMPLE_EVERY_S == 4.0
    assert times(10) == [2.0, 6.0] and times(4) == [2.0] and times(20) == [2.0, 6.0, 10.0, 14.0, 18.0]
    assert times(1) == [0.0]  # too short for the first sample time: its first frame
    # Any 4 s stretch of a 20 s clip holds a sampled frame.
    picked = times(20)
    for start in np.arange(0.0, 16.01, 0.25):
        assert any(start <= t <= start + SAMPLE_EVERY_S for t in picked), start
    # Sparser keyframes: a sample time without a keyframe within 2 s is skipped.
    assert [t for t, _ in sample([(0.0, None), (9.0, None)])] == [0.0]
