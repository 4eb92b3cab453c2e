"""Takedown requests in the generator's domain, on PostgreSQL: what approval finds
(the clip named, a re-encoded and cropped copy, remixes and extensions transitively,
clips made from its frames), what it leaves (an unrelated clip), the blocklist, the
decision rules and the audit trail. The path through the real services and the
public endpoint: tests/gateway/test_takedown_requests.py."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from kinora.media import fingerprint as fp
from kinora.media.encode import encode_mp4
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.generator.models import blocked_hashes, fingerprints, generations, outbox_rows, takedown_audit


def synthetic_clip(seed: int, seconds: int = 3, fps: int = 24, size=(360, 640)) -> list[np.ndarray]:
    """A textured scene with a moving ball (stands in for a model's clip)."""
    rng = np.random.default_rng(seed)
    h, w = size
    base = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 25)
    base = ((base - base.min()) / (np.ptp(base) + 1e-6) * 255).astype(np.uint8)
    frames = []
    for i in range(seconds * fps):
        frame = base.copy()
        x = int(w * (0.2 + 0.6 * i / (seconds * fps)))
        cv2.circle(frame, (x, h // 2), h // 8, (255, 255, 255), -1)
        frames.append(frame)
    return frames


def reencoded_crop(frames: list[np.ndarray], crop: float = 0.1, crf: int = 28) -> bytes:
    h, w = frames[0].shape[:2]
    ch, cw = int(h * (1 - crop)) // 2 * 2, int(w * (1 - crop)) // 2 * 2
    y0, x0 = int(h * crop * 0.3), int(w * crop * 0.7)
    out = [np.ascontiguousarray(f[y0 : y0 + ch, x0 : x0 + cw]) for f in frames]
    return encode_mp4(out, cw, ch, 24, None, crf=crf)


def png(frame: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return data.tobytes()


@pytest.fixture
def store(pg_url, tmp_path):
    from kinora.runtime.db import make_engine, session_factory
    from kinora.runtime.migrations import upgrade
    from services.generator.blobs import FilesystemBlobStore
    from services.generator.models import tables
    from services.generator.server import MIGRATIONS
    from services.generator.takedowns import Takedowns

    upgrade(MIGRATIONS, pg_url)
    engine = make_engine(pg_url, pool_size=2)
    sessions = session_factory(engine)
    blobs = FilesystemBlobStore(tmp_path)
    yield Takedowns(sessions, tables, blobs), sessions, blobs
    engine.dispose()


def add_generation(sessions, blobs, gid: str, frames=None, remix_of="", extend_of="", input_frame=None):
    from kinora.runtime.db import transaction
    from services.generator.domain import now

    key = f"{gid}/a1/video.mp4"
    blobs.put(key, b"video bytes")
    with transaction(sessions) as s:
        s.execute(
            generations.insert().values(
                id=gid,
                user_id="u_" + gid,
                request_hash="h",
                status="completed",
                prompt="p",
                model="standard",
                seconds=3,
                width=360,
                height=640,
                seed=1,
                tier=1,
                created_at=now(),
                updated_at=now(),
                remix_of=remix_of,
                extend_of=extend_of,
                media=json.dumps([{"key": key, "variant": 1}]),
            )
        )
        if frames is not None:
            mp4 = encode_mp4(frames, frames[0].shape[1], frames[0].shape[0], 24, None)
            s.execute(
                fingerprints.insert(),
                [
                    {"generation_id": gid, "kind": "frame", "position": i, "hash": h}
                    for i, h in enumerate(fp.clip_hashes(mp4))
                ],
            )
        if input_frame is not None:
            s.execute(
                fingerprints.insert().values(
                    generation_id=gid, kind="input", position=0, hash=fp.image_hash(png(input_frame))
                )
            )


def filing(**kw):
    from services.generator.takedowns import Filing

    base = dict(
        contact="someone@example.com", statement="This clip shows me and I never agreed to it.", kind="likeness"
    )
    base.update(kw)
    return Filing(**base)


def test_approval_removes_clip_copies_remixes_and_frame_inputs(store):
    from services.generator.takedowns import is_blocked

    takedowns, sessions, blobs = store
    alice = synthetic_clip(1)
    add_generation(sessions, blobs, "gen_alice", alice)
    add_generation(sessions, blobs, "gen_bob_remix", synthetic_clip(2), remix_of="gen_alice")
    add_generation(sessions, blobs, "gen_bob_ext", synthetic_clip(3), extend_of="gen_bob_remix")
    add_generation(sessions, blobs, "gen_carol", synthetic_clip(4), input_frame=alice[37])
    add_generation(sessions, blobs, "gen_dave", synthetic_clip(5), input_frame=synthetic_clip(6)[10])

    copy = reencoded_crop(alice)
    request = takedowns.file(filing(file_kind="video", file_sha256="x", probe=fp.probe_video(copy)))
    assert request.status == "pending"
    with sessions() as s:  # nothing removed before an operator approves
        assert not any(r.taken_down for r in s.execute(select(generations)).all())

    done = takedowns.approve(request.id, "ops@kinora")
    targets = {t["generation_id"]: t["why"] for t in json.loads(done.targets)}
    assert targets == {
        "gen_alice": "copy",
        "gen_bob_remix": "remix",
        "gen_bob_ext": "extension",
        "gen_carol": "from_frame",
    }
    assert done.status == "completed" and done.decided_by == "ops@kinora"
    assert done.removal_seconds is not None and 0 <= done.removal_seconds < 60
    with sessions() as s:
        rows = {r.id: r for r in s.execute(select(generations)).all()}
        events = s.execute(
            select(outbox_rows()).where(outbox_rows().c.event_type == "kinora.generator.v1.GenerationTakenDown")
        ).all()
        audit = [(a.action, a.detail) for a in s.execute(select(takedown_audit).order_by(takedown_audit.c.id))]
        assert is_blocked(s, fp.image_hash(png(alice[37])))
        assert is_blocked(s, fp.image_hash(png(alice[12])))
        assert not is_blocked(s, fp.image_hash(png(synthetic_clip(5)[20])))
        assert s.execute(select(blocked_hashes)).first() is not None
    assert all(rows[g].taken_down and rows[g].media == "[]" for g in targets)
    assert not rows["gen_dave"].taken_down and blobs.exists("gen_dave/a1/video.mp4")
    assert not blobs.exists("gen_alice/a1/video.mp4")
    assert len(events) == 4
    assert [a for a, _ in audit] == ["filed", "approved", "removed", "removed", "removed", "removed", "completed"]

    with pytest.raises(FailedPrecondition):
        takedowns.approve(request.id, "ops@kinora")

    # A clip whose frames are blocked can't be a remix or extension source either.
    from services.generator.takedowns import blocked_generation

    add_generation(sessions, blobs, "gen_lookalike", alice[:48])
    with sessions() as s:
        assert blocked_generation(s, "gen_lookalike") and not blocked_generation(s, "gen_dave")


def test_request_for_an_unrelated_clip_leaves_others(store):
    takedowns, sessions, blobs = store
    add_generation(sessions, blobs, "gen_a", synthetic_clip(1))
    add_generation(sessions, blobs, "gen_b", synthetic_clip(2))
    one = takedowns.file(filing(generation_id="gen_b", kind="intimate"))
    done = takedowns.approve(one.id, "ops")
    assert [t["generation_id"] for t in json.loads(done.targets)] == ["gen_b"]
    with sessions() as s:
        assert not s.execute(select(generations.c.taken_down).where(generations.c.id == "gen_a")).scalar()
    # A frame of a (single image) finds a only.
    two = takedowns.file(filing(file_kind="image", probe=[fp.probe_image(png(synthetic_clip(1)[30]))]))
    assert [t["generation_id"] for t in json.loads(takedowns.approve(two.id, "ops").targets)] == ["gen_a"]


def test_reject_list_and_validation(store):
    takedowns, sessions, blobs = store
    with pytest.raises(InvalidArgument) as bad:
        takedowns.file(filing(contact="not an email", generation_id="gen_x"))
    assert bad.value.code == "invalid_contact"
    for kw, code in (
        (dict(statement="short", generation_id="g"), "invalid_statement"),
        (dict(kind="other", generation_id="g"), "invalid_kind"),
        (dict(), "nothing_to_take_down"),
    ):
        with pytest.raises(InvalidArgument) as bad:
            takedowns.file(filing(**kw))
        assert bad.value.code == code
    first = takedowns.file(filing(generation_id="gen_x"))
    second = takedowns.file(filing(link="https://kinora.example/p/post_1"))
    pending, more = takedowns.list("pending")
    assert [r.id for r in pending] == [first.id, second.id] and not more
    with pytest.raises(InvalidArgument):
        takedowns.reject(first.id, "ops", "  ")
    rejected = takedowns.reject(first.id, "ops", "the clip does not show the requester")
    assert rejected.status == "rejected" and rejected.decision_reason.startswith("the clip")
    assert [r.id for r in takedowns.list("pending")[0]] == [second.id]
    with pytest.raises(NotFound):
        takedowns.approve("tdr_nosuch", "ops")
    assert [a.action for a in takedowns.audit(first.id)] == ["filed", "rejected"]
