"""A passed verification enrols the person's face from the liveness clip, and
MatchFaces (generator only) recognises other pictures of that face."""

import importlib.util
import io
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
import skimage.data
from identity_harness import Running, settings_for
from PIL import Image
from sqlalchemy import select

from kinora.identity.v1 import identity_pb2 as pb
from kinora.ml import faces
from kinora.testing import bearer
from services.identity.models import face_embeddings

_name = "identity_liveness_fixtures"
if _name not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_name, Path(__file__).with_name("fixtures.py"))
    sys.modules[_name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_name])
fx = sys.modules[_name]

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "face_eval"
TURN_NAMES = {pb.HEAD_TURN_LEFT: "left", pb.HEAD_TURN_RIGHT: "right"}


def embedding_of(rgb: np.ndarray) -> bytes:
    found = faces.find_faces(rgb)
    assert len(found) == 1
    return faces.to_bytes(found[0].embedding)


async def verify(stub, md) -> pb.Verification:
    for _ in range(60):  # espeak-ng's 6, 8 and 9 are misheard by pocketsphinx (see test_liveness.py)
        v = (await stub.StartVerification(pb.StartVerificationRequest(), metadata=md)).verification
        if not set(v.challenge.digits) & set("689"):
            break
    clip = fx.clip_for_challenge(v.challenge.digits, [TURN_NAMES[t] for t in v.challenge.head_turns])
    return (
        await stub.SubmitVerification(
            pb.SubmitVerificationRequest(verification_id=v.id, nonce=v.challenge.nonce, video=clip), metadata=md
        )
    ).verification


async def test_verified_face_is_enrolled_and_matched_only_for_the_generator(pg_url, tmp_path):
    async with Running(settings_for(pg_url, tmp_path / "blobs")) as idsvc:
        stub = idsvc.stub
        alice = await idsvc.sign_up("alice")
        md = bearer(alice.tokens.access_token)
        generator = idsvc.service_md("generator")

        # Nothing enrolled yet: a photo of the astronaut matches nobody.
        photo = Image.fromarray(skimage.data.astronaut()).resize((400, 400))
        buf = io.BytesIO()
        photo.save(buf, "JPEG", quality=60)
        astronaut = embedding_of(faces.decode(buf.getvalue()))
        reply = await stub.MatchFaces(pb.MatchFacesRequest(embeddings=[astronaut]), metadata=generator)
        assert list(reply.matches) == []

        passed = await verify(stub, md)
        assert passed.status == pb.VERIFICATION_STATUS_PASSED, [(c.name, c.reason) for c in passed.checks]
        with idsvc.service.ctx.engine.connect() as c:
            rows = c.execute(select(face_embeddings).where(face_embeddings.c.user_id == alice.user.id)).all()
        assert rows and all(r.verification_id == passed.id and len(r.embedding) == 512 for r in rows)

        stranger = embedding_of(np.asarray(Image.open(EVAL / "t1_0.jpg").convert("RGB")))
        reply = await stub.MatchFaces(pb.MatchFacesRequest(embeddings=[stranger, astronaut]), metadata=generator)
        assert [(m.face_index, m.user_id) for m in reply.matches] == [(1, alice.user.id)]
        assert reply.matches[0].distance < faces.MATCH_DISTANCE

        # Who may ask: the generator only; people (even the face's owner) may not probe the enrolled faces.
        for who in (md, idsvc.service_md("feed")):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.MatchFaces(pb.MatchFacesRequest(embeddings=[astronaut]), metadata=who)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Bad input is refused with a reason.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.MatchFaces(pb.MatchFacesRequest(embeddings=[b"\x00" * 7]), metadata=generator)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "128" in info.value.details()

        # A second verification replaces the enrolment instead of adding to it.
        again = await verify(stub, md)
        assert again.status == pb.VERIFICATION_STATUS_PASSED
        with idsvc.service.ctx.engine.connect() as c:
            ids = {r.verification_id for r in c.execute(select(face_embeddings)).all()}
        assert ids == {again.id}
