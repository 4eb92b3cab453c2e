"""Cameo verification through the RPC: a real clip (astronaut + espeak-ng),
the liveness check, likeness assets in the blob folder, and CameoVerified /
VerificationFailed published through the outbox to the real broker."""

import hashlib
import importlib.util
import json
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
from identity_harness import Running, settings_for
from kafka import KafkaConsumer

from kinora.identity.v1 import events_pb2
from kinora.identity.v1 import identity_pb2 as pb
from kinora.runtime.kafka import header_map
from kinora.testing import bearer

_name = "identity_liveness_fixtures"
if _name not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_name, Path(__file__).with_name("fixtures.py"))
    sys.modules[_name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_name])
fx = sys.modules[_name]

TOPIC = "kinora.identity.verifications.v1"
TURN_NAMES = {pb.HEAD_TURN_LEFT: "left", pb.HEAD_TURN_RIGHT: "right"}


async def start(stub, md) -> pb.Verification:
    """A challenge whose digits espeak-ng says clearly enough for pocketsphinx
    (its 6, 8 and 9 are misheard; see test_liveness.py): ask again until one comes."""
    for _ in range(60):
        v = (await stub.StartVerification(pb.StartVerificationRequest(), metadata=md)).verification
        if not set(v.challenge.digits) & set("689"):
            return v
    raise AssertionError("no challenge without 6, 8 or 9 in 60 tries")


def clip_for(v: pb.Verification, digits: str | None = None) -> bytes:
    turns = [TURN_NAMES[t] for t in v.challenge.head_turns]
    return fx.clip_for_challenge(digits if digits is not None else v.challenge.digits, turns)


def read_events(bootstrap: str, user_id: str, want: int, timeout_s: float = 30.0) -> list:
    consumer = KafkaConsumer(
        TOPIC,
        bootstrap_servers=[bootstrap],
        group_id=f"t-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < want and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    if r.key and r.key.decode() == user_id:
                        found.append((header_map(r.headers), r.value))
    finally:
        consumer.close()
    return found


async def test_verification_pass_and_fail_through_the_rpc(pg_url, tmp_path, broker):
    settings = settings_for(pg_url, tmp_path / "blobs", kafka_bootstrap=[broker.bootstrap])
    async with Running(settings) as idsvc:
        stub = idsvc.stub
        user = await idsvc.sign_up("vera")
        md = bearer(user.tokens.access_token)

        # Fail: the right face and turns, but the wrong digits read aloud.
        v = await start(stub, md)
        assert v.status == pb.VERIFICATION_STATUS_PENDING and v.challenge.nonce
        wrong = "".join(str((int(d) + 1) % 10) if d not in "57" else "1" for d in v.challenge.digits.replace(" ", ""))
        failed = (
            await stub.SubmitVerification(
                pb.SubmitVerificationRequest(verification_id=v.id, nonce=v.challenge.nonce, video=clip_for(v, wrong)),
                metadata=md,
            )
        ).verification
        assert failed.status == pb.VERIFICATION_STATUS_FAILED
        digits = [c for c in failed.checks if c.kind == pb.VERIFICATION_CHECK_KIND_SPOKEN_DIGITS][0]
        assert digits.evaluated and not digits.passed and "do not match" in digits.reason
        face = [c for c in failed.checks if c.kind == pb.VERIFICATION_CHECK_KIND_FACE][0]
        assert face.passed and not failed.HasField("likeness")
        # The same challenge cannot be used again.
        err = None
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.SubmitVerification(
                pb.SubmitVerificationRequest(verification_id=v.id, nonce=v.challenge.nonce, video=b"\x00" * 10),
                metadata=md,
            )
        err = info.value
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION and "already used" in err.details()

        # A wrong nonce fails the nonce check without running the rest.
        v2 = await start(stub, md)
        bad_nonce = (
            await stub.SubmitVerification(
                pb.SubmitVerificationRequest(verification_id=v2.id, nonce="f" * 32, video=b"not a video at all"),
                metadata=md,
            )
        ).verification
        nonce = [c for c in bad_nonce.checks if c.kind == pb.VERIFICATION_CHECK_KIND_NONCE][0]
        assert bad_nonce.status == pb.VERIFICATION_STATUS_FAILED and not nonce.passed
        assert all(not c.evaluated for c in bad_nonce.checks if c.kind != pb.VERIFICATION_CHECK_KIND_NONCE)

        # Input validation: nothing changes.
        v3 = await start(stub, md)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.SubmitVerification(
                pb.SubmitVerificationRequest(verification_id=v3.id, nonce=v3.challenge.nonce), metadata=md
            )
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (
            await stub.GetVerification(pb.GetVerificationRequest(verification_id=v3.id), metadata=md)
        ).verification.status == pb.VERIFICATION_STATUS_PENDING

        # Pass.
        passed = (
            await stub.SubmitVerification(
                pb.SubmitVerificationRequest(
                    verification_id=v3.id, nonce=v3.challenge.nonce, video=clip_for(v3), cameo_display_name="Vera V."
                ),
                metadata=md,
            )
        ).verification
        assert passed.status == pb.VERIFICATION_STATUS_PASSED, [
            (c.name, c.reason) for c in passed.checks if not c.passed
        ]
        assert all(c.passed and c.evaluated for c in passed.checks)
        likeness = passed.likeness
        assert len(likeness.face_crops) >= 1 and likeness.voice_profile.key
        for ref in [*likeness.face_crops, likeness.voice_profile]:
            data = (Path(settings.blob_dir) / ref.key).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref.sha256 and len(data) == ref.size_bytes
        assert (Path(settings.blob_dir) / likeness.face_crops[0].key).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        profile = json.loads((Path(settings.blob_dir) / likeness.voice_profile.key).read_bytes())
        assert profile["pitch_hz_median"] > 50
        me = await stub.GetUser(pb.GetUserRequest(user_id=user.user.id), metadata=md)
        assert me.user.cameo_verified and me.user.invites_remaining == settings.invites_per_user
        got = (await stub.GetVerification(pb.GetVerificationRequest(verification_id=v3.id), metadata=md)).verification
        assert got.status == pb.VERIFICATION_STATUS_PASSED and got.likeness == likeness and not got.challenge.nonce

        # The events reach the broker through the outbox relay.
        events = read_events(broker.bootstrap, user.user.id, want=3)
        by_type = {}
        for headers, value in events:
            by_type.setdefault(headers["event_type"], []).append(value)
        verified = [
            events_pb2.CameoVerified.FromString(v)
            for t, vs in by_type.items()
            if t and t.endswith("CameoVerified")
            for v in vs
        ]
        failures = [
            events_pb2.VerificationFailed.FromString(v)
            for t, vs in by_type.items()
            if t and t.endswith("VerificationFailed")
            for v in vs
        ]
        assert len(verified) == 1 and len(failures) == 2, by_type.keys()
        assert verified[0].display_name == "Vera V." and verified[0].likeness == likeness
        assert verified[0].verification_id == v3.id and verified[0].handle == "vera"
        assert {f.verification_id for f in failures} == {v.id, v2.id}
        assert any(c.kind == pb.VERIFICATION_CHECK_KIND_SPOKEN_DIGITS for f in failures for c in f.failed_checks)
