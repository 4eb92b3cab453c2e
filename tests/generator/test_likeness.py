"""The worker hands the model the likeness identity captured at verification:
face crops and voice profile, read from identity's blob folder and checked
against their SHA-256."""

import json

from services.generator.remote import LikenessFiles
from services.identity.blobs import BlobStore
from services.identity.voice import VoiceProfile as CapturedVoice


def test_reads_what_identity_wrote_and_refuses_what_it_did_not(tmp_path):
    store = BlobStore(str(tmp_path))
    face = store.put("likeness/u1/face_0.png", b"\x89PNG\r\n\x1a\n fake-but-bytes", "image/png")
    captured = CapturedVoice(pitch_hz_median=182.5, pitch_hz_percentiles={10: 150.0, 50: 182.5, 90: 230.0},
                             mel_envelope_db=[-40.0 + i for i in range(24)])
    voice = store.put("likeness/u1/voice_profile.json",
                      json.dumps(captured.to_dict(), sort_keys=True).encode(), "application/json")
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
