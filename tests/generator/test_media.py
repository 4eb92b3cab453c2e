"""The worker's handling of a finished clip decodes it once: the one pass
gives the same facts, keyframes and fingerprint as the separate readers did,
the stored thumbnail is the model's own, and an unusable clip is refused."""

import numpy as np
import pytest

from kinora.generator.v1 import generator_pb2 as pb
from kinora.media import fingerprint, thumbs
from kinora.media.probe import probe_mp4
from kinora.models.contract import ModelRequest
from services.generator.blobs import FilesystemBlobStore
from services.generator.media import BadModelOutput, decode_clip, finish_media


@pytest.fixture(scope="module")
def clip():
    from worldsim.model import WorldSim

    model = WorldSim()
    return model.generate(
        ModelRequest(
            prompt="a red ball rolls down a wooden ramp", seconds=4, width=720, height=1280, seed=3, watermark="@alice"
        ),
        lambda p, s: None,
        lambda: False,
    )


def test_one_pass_gives_what_the_separate_readers_gave(clip):
    decoded = decode_clip(clip.mp4)
    facts = probe_mp4(clip.mp4)
    assert (decoded.width, decoded.height, decoded.video_codec, decoded.has_audio) == (
        facts.width,
        facts.height,
        facts.video_codec,
        facts.has_audio,
    )
    assert decoded.duration_s == pytest.approx(facts.duration_s)
    assert decoded.frame_hashes == fingerprint.clip_hashes(clip.mp4)
    separate = thumbs.keyframes(clip.mp4)
    assert [t for t, _ in decoded.keyframes] == [t for t, _ in separate]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(decoded.keyframes, separate))


def test_the_model_thumbnail_is_stored_and_a_bad_one_is_replaced(clip, tmp_path):
    blobs = FilesystemBlobStore(tmp_path)
    kw = dict(attempt=1, model="standard", creator_handle="alice", expected=(720, 1280), signer=None, blobs=blobs)
    stored = finish_media(clip.mp4, generation_id="gen_a", thumbnail_jpeg=clip.thumbnail_jpeg, **kw)
    thumb = next(r for r in stored.records if r["variant"] == pb.MEDIA_VARIANT_THUMBNAIL)
    assert blobs.get(thumb["key"]) == clip.thumbnail_jpeg and thumb["width"] <= 640 and thumb["height"] == 640
    assert stored.frame_hashes == fingerprint.clip_hashes(clip.mp4)
    made = finish_media(clip.mp4, generation_id="gen_b", thumbnail_jpeg=b"not a jpeg", **kw)
    thumb = next(r for r in made.records if r["variant"] == pb.MEDIA_VARIANT_THUMBNAIL)
    assert blobs.get(thumb["key"]) != clip.thumbnail_jpeg and blobs.get(thumb["key"])[:2] == b"\xff\xd8"
    with pytest.raises(BadModelOutput, match="720x1280"):
        finish_media(clip.mp4, generation_id="gen_c", **{**kw, "expected": (1280, 720)})
    with pytest.raises(BadModelOutput, match="can't be decoded"):
        decode_clip(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
