"""Cameo verification around the liveness check (`liveness.py`): challenges
with single-use nonces, submission, per-check results, likeness assets in the
blob folder and the CameoVerified / VerificationFailed events.

Submitting claims the nonce in its own short transaction before the (slow)
check runs, so two concurrent submissions cannot both use it; if the check
itself crashes, the claim is undone and the user may submit again.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from google.protobuf.json_format import MessageToJson, Parse
from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import events_pb2, identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from kinora.runtime.events import emit
from services.identity import enrolment, liveness
from services.identity.blobs import BlobStore
from services.identity.core import AGE_GROUPS, now_utc, sha256_hex
from services.identity.domain import Identity
from services.identity.erasure import likeness_folder
from services.identity.models import users, verifications
from services.identity.topics import USER_AGGREGATE, VERIFICATIONS_TOPIC

K = identity_pb2
CHECK_KINDS = {
    "challenge": K.VERIFICATION_CHECK_KIND_NONCE,
    "nonce": K.VERIFICATION_CHECK_KIND_NONCE,
    "file": K.VERIFICATION_CHECK_KIND_MEDIA,
    "decode": K.VERIFICATION_CHECK_KIND_MEDIA,
    "duration": K.VERIFICATION_CHECK_KIND_MEDIA,
    "resolution": K.VERIFICATION_CHECK_KIND_MEDIA,
    "one_face": K.VERIFICATION_CHECK_KIND_FACE,
    "still_image": K.VERIFICATION_CHECK_KIND_LIVE_MOTION,
    "head_turns": K.VERIFICATION_CHECK_KIND_HEAD_TURNS,
    "speech": K.VERIFICATION_CHECK_KIND_SPEECH_PRESENT,
    "digits": K.VERIFICATION_CHECK_KIND_SPOKEN_DIGITS,
    "lip_sync": K.VERIFICATION_CHECK_KIND_LIP_SYNC,
    "unique": K.VERIFICATION_CHECK_KIND_UNIQUE,
}
# Every kind a full run reports; kinds missing from a result were not reached.
ALL_KINDS = [
    K.VERIFICATION_CHECK_KIND_MEDIA,
    K.VERIFICATION_CHECK_KIND_NONCE,
    K.VERIFICATION_CHECK_KIND_FACE,
    K.VERIFICATION_CHECK_KIND_HEAD_TURNS,
    K.VERIFICATION_CHECK_KIND_LIVE_MOTION,
    K.VERIFICATION_CHECK_KIND_SPEECH_PRESENT,
    K.VERIFICATION_CHECK_KIND_SPOKEN_DIGITS,
    K.VERIFICATION_CHECK_KIND_LIP_SYNC,
    K.VERIFICATION_CHECK_KIND_UNIQUE,
]
STATUS = {
    "pending": K.VERIFICATION_STATUS_PENDING,
    "checking": K.VERIFICATION_STATUS_PENDING,
    "passed": K.VERIFICATION_STATUS_PASSED,
    "failed": K.VERIFICATION_STATUS_FAILED,
    "expired": K.VERIFICATION_STATUS_EXPIRED,
}
TURNS = {"left": K.HEAD_TURN_LEFT, "right": K.HEAD_TURN_RIGHT, "up": K.HEAD_TURN_UP, "down": K.HEAD_TURN_DOWN}


def check_records(checks: list[liveness.Check], heard_digits: str | None) -> list[dict[str, Any]]:
    """Liveness checks as stored JSON, plus a not-evaluated entry for every kind not reached."""
    records: list[dict[str, Any]] = []
    for c in checks:
        kind = CHECK_KINDS.get(c.name, K.VERIFICATION_CHECK_KIND_UNSPECIFIED)
        observed = heard_digits or "" if c.name == "digits" else ""
        records.append(
            {
                "name": c.name,
                "kind": kind,
                "passed": c.passed,
                "reason": c.reason,
                "observed": observed,
                "evaluated": True,
            }
        )
    seen = {r["kind"] for r in records}
    for kind in ALL_KINDS:
        if kind not in seen:
            records.append(
                {
                    "name": K.VerificationCheckKind.Name(kind).removeprefix("VERIFICATION_CHECK_KIND_").lower(),
                    "kind": kind,
                    "passed": False,
                    "evaluated": False,
                    "observed": "",
                    "reason": "not checked because an earlier check failed",
                }
            )
    return records


def verification_proto(row: Row[Any], nonce: str = "") -> identity_pb2.Verification:
    status = row.status
    if status == "pending" and row.expires_at <= now_utc():
        status = "expired"
    msg = K.Verification(id=row.id, user_id=row.user_id, status=STATUS[status])
    msg.challenge.digits = " ".join(row.digits)
    msg.challenge.head_turns.extend(TURNS[t] for t in row.head_turns.split())
    msg.challenge.nonce = nonce
    set_timestamp(msg.challenge.expires_at, row.expires_at)
    for record in json.loads(row.checks or "[]"):
        msg.checks.add(**record)
    set_timestamp(msg.created_at, row.created_at)
    set_timestamp(msg.completed_at, row.completed_at)
    if row.likeness:
        Parse(row.likeness, msg.likeness)
    return msg


_FACE_TAKEN = liveness.Check(
    "unique",
    False,
    "This face is already verified on another Kinora account. If it is "
    "yours, use that account; if it is not, report it to support.",
)


class Verifications:
    def __init__(self, identity: Identity, blobs: BlobStore, rng: random.Random | None = None):
        self.identity, self.blobs = identity, blobs
        self.sessions, self.tables, self.settings = identity.sessions, identity.tables, identity.settings
        self.rng = rng or random.SystemRandom()  # digits and nonce must be unpredictable

    def start(self, caller: Principal) -> identity_pb2.Verification:
        now = now_utc()
        challenge = liveness.make_challenge(self.rng, now, timedelta(seconds=self.settings.verification_ttl_s))
        verification_id = str(uuid.uuid4())
        with transaction(self.sessions) as s:
            self.identity.core.user(s, caller.subject)
            s.execute(
                verifications.insert().values(
                    id=verification_id,
                    user_id=caller.subject,
                    status="pending",
                    digits=challenge.digits,
                    head_turns=" ".join(challenge.head_turns),
                    nonce_hash=sha256_hex(challenge.nonce),
                    expires_at=challenge.expires_at,
                    created_at=now,
                )
            )
            row = s.execute(select(verifications).where(verifications.c.id == verification_id)).one()
        return verification_proto(row, nonce=challenge.nonce)

    def get(self, caller: Principal, verification_id: str) -> identity_pb2.Verification:
        if not verification_id:
            raise InvalidArgument("verification_id is required", "verification_id_required")
        with self.sessions() as s:
            row = s.execute(select(verifications).where(verifications.c.id == verification_id)).first()
        if row is None or (not caller.is_service and row.user_id != caller.subject):
            raise NotFound("you have no verification with that id", "verification_not_found")
        return verification_proto(row)

    def submit(self, caller: Principal, req: identity_pb2.SubmitVerificationRequest) -> identity_pb2.Verification:
        if req.latest_open_challenge:
            if req.verification_id or req.nonce:
                raise InvalidArgument(
                    "give verification_id and nonce, or latest_open_challenge, not both", "conflicting_challenge"
                )
        elif not req.verification_id:
            raise InvalidArgument("verification_id is required", "verification_id_required")
        elif not req.nonce:
            raise InvalidArgument("nonce is required: send back the one from StartVerification", "nonce_required")
        if not req.video:
            raise InvalidArgument("video is empty: send a 3 to 15 second clip with sound", "video_required")
        if len(req.video) > liveness.MAX_BYTES:
            raise InvalidArgument(
                f"the video is {len(req.video) / 2**20:.0f} MB; the limit is {liveness.MAX_BYTES // 2**20} MB",
                "video_too_large",
            )
        cameo_name = req.cameo_display_name.strip()
        if len(cameo_name) > 80:
            raise InvalidArgument("cameo_display_name is at most 80 characters", "invalid_display_name")
        now = now_utc()
        with transaction(self.sessions) as s:
            if req.latest_open_challenge:  # bound to the caller instead of by the nonce (docs/api.md)
                v = verifications.c
                row = s.execute(
                    select(verifications)
                    .where(v.user_id == caller.subject, v.status == "pending", v.expires_at > now)
                    .order_by(v.created_at.desc())
                    .limit(1)
                    .with_for_update()
                ).first()
                if row is None:
                    raise FailedPrecondition(
                        "you have no open liveness challenge; start a verification first", "no_open_challenge"
                    )
            else:
                row = s.execute(
                    select(verifications).where(verifications.c.id == req.verification_id).with_for_update()
                ).first()
            if row is None or row.user_id != caller.subject:
                raise NotFound("you have no verification with that id", "verification_not_found")
            if row.status != "pending":
                raise FailedPrecondition("this challenge was already used; start a new verification", "nonce_used")
            challenge = liveness.Challenge(
                digits=row.digits, head_turns=row.head_turns.split(), nonce=row.nonce_hash, expires_at=row.expires_at
            )
            spent = {row.nonce_hash} if row.nonce_used_at is not None else set()
            nonce_hash = row.nonce_hash if req.latest_open_challenge else sha256_hex(req.nonce)
            nonce_check = liveness.check_nonce(challenge, nonce_hash, now, spent)
            if not nonce_check.passed:  # a wrong or expired nonce ends this challenge
                status = "expired" if now >= challenge.expires_at else "failed"
                return self._finish_failed(s, row, status, check_records([nonce_check], None), now)
            s.execute(
                update(verifications).where(verifications.c.id == row.id).values(status="checking", nonce_used_at=now)
            )
        try:
            result = liveness.verify(req.video, challenge, now)
            # The face enrolled for recognition on image inputs, remix sources and outputs.
            embeddings = enrolment.embed_crops(result.face_crops) if result.passed else []
        except BaseException:
            with transaction(self.sessions) as s:  # undo the claim: nothing half-done
                s.execute(
                    update(verifications)
                    .where(verifications.c.id == row.id)
                    .values(status="pending", nonce_used_at=None)
                )
            raise
        checks = [nonce_check, *result.checks]
        if result.passed and not embeddings:
            checks.append(
                liveness.Check(
                    "one_face",
                    False,
                    "the face could not be enrolled for recognition: record again facing the camera in even light",
                )
            )
        elif embeddings:
            checks.append(self._unique_face(row.user_id, embeddings))
        records = check_records(checks, result.heard_digits)
        done = now_utc()
        if not all(c.passed for c in checks) or not embeddings:
            with transaction(self.sessions) as s:
                return self._finish_failed(s, row, "failed", records, done)
        try:
            return self._finish_passed(row, records, result, cameo_name, embeddings, done)
        except enrolment.FaceTaken:  # another account enrolled this face while the check ran
            checks[-1] = _FACE_TAKEN
            with transaction(self.sessions) as s:
                return self._finish_failed(s, row, "failed", check_records(checks, result.heard_digits), now_utc())

    def _unique_face(self, user_id: str, embeddings: list[np.ndarray[Any, Any]]) -> liveness.Check:
        """One face, one account: a face another account has verified is refused here,
        so nobody can verify someone else's face from a second account (docs/identity.md)."""
        with self.sessions() as s:
            taken = enrolment.enrolled_elsewhere(s, user_id, embeddings)
        if taken:
            return _FACE_TAKEN
        return liveness.Check("unique", True, "The face is not verified on any other account.")

    def _finish_failed(
        self, s: Session, row: Row[Any], status: str, records: list[dict[str, Any]], now: datetime
    ) -> identity_pb2.Verification:
        s.execute(
            update(verifications)
            .where(verifications.c.id == row.id)
            .values(status=status, nonce_used_at=now, checks=json.dumps(records), completed_at=now)
        )
        fresh = s.execute(select(verifications).where(verifications.c.id == row.id)).one()
        msg = verification_proto(fresh)
        event = events_pb2.VerificationFailed(
            user_id=row.user_id,
            verification_id=row.id,
            failed_checks=[c for c in msg.checks if c.evaluated and not c.passed],
        )
        set_timestamp(event.occurred_at, now)
        emit(s, self.tables, VERIFICATIONS_TOPIC, event, USER_AGGREGATE, row.user_id)
        return msg

    def _finish_passed(
        self,
        row: Row[Any],
        records: list[dict[str, Any]],
        result: liveness.VerificationResult,
        cameo_name: str,
        embeddings: list[np.ndarray[Any, Any]],
        now: datetime,
    ) -> identity_pb2.Verification:
        assert result.voice_profile is not None  # liveness.verify sets it on every passed result
        folder = likeness_folder(row.user_id, row.id)
        likeness = common_pb2.LikenessAssets()
        written: list[str] = []
        try:
            for i, crop in enumerate(result.face_crops):
                likeness.face_crops.append(self.blobs.put(f"{folder}/face_{i}.png", crop, "image/png"))
                written.append(f"{folder}/face_{i}.png")
            profile = json.dumps(result.voice_profile.to_dict(), sort_keys=True).encode()
            likeness.voice_profile.CopyFrom(self.blobs.put(f"{folder}/voice_profile.json", profile, "application/json"))
            written.append(f"{folder}/voice_profile.json")
            with transaction(self.sessions) as s:
                s.execute(
                    update(verifications)
                    .where(verifications.c.id == row.id)
                    .values(
                        status="passed",
                        checks=json.dumps(records),
                        completed_at=now,
                        likeness=MessageToJson(likeness, preserving_proto_field_name=True),
                    )
                )
                user = self.identity.core.user(s, row.user_id, lock=True)
                enrolment.enrol_unique(s, user.id, row.id, embeddings, now)
                if not user.cameo_verified:
                    s.execute(update(users).where(users.c.id == user.id).values(cameo_verified=True, updated_at=now))
                    self.identity.core.user_updated(s, user.id)
                event = events_pb2.CameoVerified(
                    user_id=user.id,
                    handle=user.handle,
                    display_name=cameo_name or user.display_name,
                    verification_id=row.id,
                    owner_age_group=AGE_GROUPS[user.age_group],
                    likeness=likeness,
                )
                set_timestamp(event.occurred_at, now)
                emit(s, self.tables, VERIFICATIONS_TOPIC, event, USER_AGGREGATE, user.id)
                return verification_proto(s.execute(select(verifications).where(verifications.c.id == row.id)).one())
        except BaseException:
            for key in written:  # the row never pointed at them
                self.blobs.delete(key)
            with transaction(self.sessions) as s:
                s.execute(
                    update(verifications)
                    .where(verifications.c.id == row.id)
                    .values(status="pending", nonce_used_at=None)
                )
            raise
