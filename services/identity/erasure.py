"""Erasure of a person's likeness when their cameo is deleted (CameoDeleted):
the face crops and voice profile of their verifications, the pointers to them
and their enrolled faces. After it, no picture of the person matches anyone
(MatchFaces), and the generator has no face or voice of theirs to draw.

Only verifications up to the one the deleted cameo was made from are erased:
a newer one (the person verified again before the event arrived) made a new
cameo and keeps its likeness. Files are deleted inside the consumer's
transaction, before it commits: a failure rolls the rows back and the
redelivered event deletes again (deleting a missing file is no error)."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.identity.blobs import BlobStore
from services.identity.models import face_embeddings, verifications

log = logging.getLogger("kinora.identity.erasure")


def likeness_folder(user_id: str, verification_id: str) -> str:
    """Where a passed verification's likeness assets are kept (verification.py writes there)."""
    return f"likeness/{user_id}/{verification_id}"


def erase_likeness(session: Session, blobs: BlobStore, user_id: str, up_to_verification_id: str = "") -> int:
    """Erases the likeness of `user_id`'s verifications up to and including
    `up_to_verification_id` (all of them when it is empty or unknown).
    Returns how many verifications were erased; idempotent."""
    v = verifications.c
    mine = select(v.id, v.created_at).where(v.user_id == user_id)
    bound = None
    if up_to_verification_id:
        bound = session.execute(
            select(v.created_at).where(v.id == up_to_verification_id, v.user_id == user_id)
        ).scalar()
    if bound is not None:
        mine = mine.where(v.created_at <= bound)
    ids = [r.id for r in session.execute(mine.with_for_update()).all()]
    if not ids:
        return 0
    session.execute(
        delete(face_embeddings).where(face_embeddings.c.user_id == user_id, face_embeddings.c.verification_id.in_(ids))
    )
    session.execute(update(verifications).where(v.id.in_(ids)).values(likeness=None))
    for verification_id in ids:
        blobs.delete_folder(likeness_folder(user_id, verification_id))
    log.info("erased the likeness of %d verification(s) of user %s", len(ids), user_id)
    return len(ids)
