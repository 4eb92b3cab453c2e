"""Enrolled faces: the embeddings of every verified person (from the face
crops of their liveness clip) and matching against them (MatchFaces).

Matching reads every enrolled embedding and compares in numpy: 512 bytes a
face, a few faces a person, so ~1.5 MB and a few milliseconds per 1,000
people. Past a few hundred thousand people this wants a vector index.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from kinora.ml import faces
from kinora.runtime.errors import InvalidArgument
from services.identity.models import face_embeddings

MAX_FACES_PER_CALL = 16


def embed_crops(crops: list[bytes]) -> list[np.ndarray[Any, Any]]:
    """One embedding per crop that shows exactly one face (crops where the
    detector finds none, or several, are skipped)."""
    found = []
    for crop in crops:
        in_crop = faces.find_faces(faces.decode(crop))
        if len(in_crop) == 1:
            found.append(in_crop[0].embedding)
    return found


def enrol(
    session: Session, user_id: str, verification_id: str, embeddings: list[np.ndarray[Any, Any]], at: datetime
) -> None:
    """The person's face is now this verification's: earlier enrolments go."""
    session.execute(delete(face_embeddings).where(face_embeddings.c.user_id == user_id))
    for embedding in embeddings:
        session.execute(
            insert(face_embeddings).values(
                id=str(uuid.uuid4()),
                user_id=user_id,
                verification_id=verification_id,
                embedding=faces.to_bytes(embedding),
                created_at=at,
            )
        )


class FaceTaken(Exception):
    """The face is enrolled by another account."""


# Enrolments are serialised by this transaction-scoped advisory lock, so two accounts
# verifying one face at the same moment cannot both pass the one-face-one-account check.
_ENROLMENT_LOCK = 0x6B696E6F72616601


def enrol_unique(
    session: Session, user_id: str, verification_id: str, embeddings: list[np.ndarray[Any, Any]], at: datetime
) -> None:
    """`enrol`, refused with FaceTaken when another account holds one of these faces."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ENROLMENT_LOCK})
    if enrolled_elsewhere(session, user_id, embeddings):
        raise FaceTaken
    enrol(session, user_id, verification_id, embeddings, at)


def enrolled_elsewhere(session: Session, user_id: str, embeddings: list[np.ndarray[Any, Any]]) -> bool:
    """Does any of these faces match one enrolled by another account?"""
    rows = session.execute(
        select(face_embeddings.c.user_id, face_embeddings.c.embedding).where(face_embeddings.c.user_id != user_id)
    ).all()
    if not rows or not embeddings:
        return False
    enrolled = np.stack([faces.from_bytes(r.embedding) for r in rows])
    return bool(faces.match(np.stack(embeddings), enrolled, [r.user_id for r in rows]))


class FaceMatcher:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def match(self, raw_embeddings: list[bytes]) -> list[faces.Match]:
        if len(raw_embeddings) > MAX_FACES_PER_CALL:
            raise InvalidArgument(
                f"at most {MAX_FACES_PER_CALL} faces per call; got {len(raw_embeddings)}", "too_many_faces"
            )
        probes = []
        for i, raw in enumerate(raw_embeddings):
            try:
                probes.append(faces.from_bytes(raw))
            except ValueError as exc:
                raise InvalidArgument(f"embedding {i}: {exc}", "invalid_embedding") from None
        if not probes:
            return []
        with self.sessions() as s:
            rows = s.execute(select(face_embeddings.c.user_id, face_embeddings.c.embedding)).all()
        if not rows:
            return []
        enrolled = np.stack([faces.from_bytes(r.embedding) for r in rows])
        return faces.match(np.stack(probes), enrolled, [r.user_id for r in rows])
