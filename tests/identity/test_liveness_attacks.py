"""Attacks on the liveness check, each refused, and the genuine recording that passes.

- photo slide + text-to-speech: a flat photo squeezed and slid sideways while
  synthetic speech reads the digits (the project's original fixture; refused on
  head turns, measured from landmarks, and on lip sync);
- dubbed take: a real-looking head turning as asked, with the digits' audio
  laid over lips that read something else (refused on lip sync);
- replay: a recording that passed, sent again for the same or a new challenge;
- one face, two accounts: a second account verifying a face already verified.
The genuine fixture is the same portrait turned in 3D from its landmarks, its
mouth opening with its own speech (kinora/media/head3d.py)."""

import io
from datetime import UTC, datetime, timedelta

import av
import grpc
import pytest
from identity_harness import Running, settings_for
from test_verification_rpc import clip_for, fx, start

from kinora.identity.v1 import identity_pb2 as pb
from kinora.testing import bearer
from services.identity import face
from services.identity import liveness as lv

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIGITS, TURNS = "40712", ["left", "right"]
CHALLENGE = lv.Challenge(DIGITS, TURNS, "a" * 32, NOW + timedelta(minutes=5))


def failed_checks(result) -> dict[str, str]:
    return {c.name: c.reason for c in result.checks if not c.passed}


@pytest.fixture(scope="module")
def genuine():
    return fx.clip_for_challenge(DIGITS, TURNS)


def test_genuine_recording_passes_with_measured_yaw_and_lip_sync(genuine):
    result = lv.verify(genuine, CHALLENGE, NOW)
    assert result.passed, result.failures
    assert "correlation" in result.check("lip_sync").reason
    # The yaw really swings both ways, measured from the landmarks.
    media = lv._decode(av.open(io.BytesIO(genuine)))
    track = face.track_faces([f.gray for f in media.frames], [f.time_s for f in media.frames])
    yaws = [y for y in track.yaws if y is not None]
    assert max(yaws) > face.TURN_ENTER and min(yaws) < -face.TURN_ENTER


def test_photo_slide_with_synthetic_speech_is_refused():
    clip = fx.clip_for_challenge(DIGITS, TURNS, head="slide")
    result = lv.verify(clip, CHALLENGE, NOW)
    failed = failed_checks(result)
    assert not result.passed and not result.face_crops
    assert "head_turns" in failed and "No head turn" in failed["head_turns"]
    assert "lip_sync" in failed
    # The digits themselves were heard right: speech alone does not make a person.
    assert result.check("digits").passed


@pytest.mark.parametrize("other_take", ["53124", "40712"])
def test_audio_from_another_take_is_refused(other_take):
    """The head turns as asked, but the lips read another take (other digits, or the
    same digits at another moment) while the challenge's digits are heard."""
    clip = fx.clip_for_challenge(DIGITS, TURNS, lips_from=other_take)
    result = lv.verify(clip, CHALLENGE, NOW)
    failed = failed_checks(result)
    assert set(failed) == {"lip_sync"}, failed
    assert "in time with the voice" in failed["lip_sync"]


def test_still_lips_are_refused():
    """A 3D-turned head whose mouth never moves, under the speech."""
    frames = fx.render_frames(width=320, height=240, fps=15, duration_s=6.0, turns=fx.turns_for(TURNS))
    audio = fx.speak_digits(DIGITS, seconds=6.0)
    clip = fx.encode_clip(frames, audio, width=320, height=240, fps=15)
    result = lv.verify(clip, CHALLENGE, NOW)
    assert set(failed_checks(result)) == {"lip_sync"}
    assert "did not move" in result.check("lip_sync").reason


async def submit(stub, md, v, clip):
    return (
        await stub.SubmitVerification(
            pb.SubmitVerificationRequest(verification_id=v.id, nonce=v.challenge.nonce, video=clip), metadata=md
        )
    ).verification


async def test_replay_and_second_account_with_the_same_face_are_refused(pg_url, tmp_path):
    async with Running(settings_for(pg_url, tmp_path / "blobs")) as idsvc:
        stub = idsvc.stub
        vera = await idsvc.sign_up("vera")
        md = bearer(vera.tokens.access_token)
        first = await start(stub, md)
        recording = clip_for(first)
        passed = await submit(stub, md, first, recording)
        assert passed.status == pb.VERIFICATION_STATUS_PASSED, [c.reason for c in passed.checks if not c.passed]

        # The same recording again, for the same challenge: the challenge is single-use.
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await submit(stub, md, first, recording)
        assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        # ... and for a new challenge: made for other digits and turns, it fails the check.
        second = await start(stub, md)
        replayed = await submit(stub, md, second, recording)
        assert replayed.status == pb.VERIFICATION_STATUS_FAILED
        kinds = {c.kind for c in replayed.checks if c.evaluated and not c.passed}
        assert kinds & {
            pb.VERIFICATION_CHECK_KIND_SPOKEN_DIGITS,
            pb.VERIFICATION_CHECK_KIND_HEAD_TURNS,
            pb.VERIFICATION_CHECK_KIND_LIP_SYNC,
        }

        # A second account verifying the same face, with a recording that passes every
        # liveness check, is refused: one face, one account.
        mallory = await idsvc.sign_up("mallory")
        md2 = bearer(mallory.tokens.access_token)
        v = await start(stub, md2)
        taken = await submit(stub, md2, v, clip_for(v))
        assert taken.status == pb.VERIFICATION_STATUS_FAILED
        unique = [c for c in taken.checks if c.kind == pb.VERIFICATION_CHECK_KIND_UNIQUE]
        assert unique and not unique[0].passed and "another Kinora account" in unique[0].reason
        assert "vera" not in unique[0].reason  # the reason never names the person
        others = [c for c in taken.checks if c.evaluated and c.kind != pb.VERIFICATION_CHECK_KIND_UNIQUE]
        assert all(c.passed for c in others)
        assert not taken.HasField("likeness") or not taken.likeness.face_crops
        assert not list((tmp_path / "blobs").rglob(f"*{v.id}*"))  # nothing of mallory's attempt kept

        # vera verifying again (her own face) is fine.
        again = await start(stub, md)
        renewed = await submit(stub, md, again, clip_for(again))
        assert renewed.status == pb.VERIFICATION_STATUS_PASSED, [c.reason for c in renewed.checks if not c.passed]
