"""A deleted cameo's likeness leaves the generator's records: the voice
profile the model copied into a clip's scene plan (worldsim marks it
`from_cameo`), which a remix would otherwise reuse. Face crops are never kept
here: they are read from identity's folder for each job.

The clip itself follows the owner's choice on deletion (takedown or not),
through TakedownRequested."""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from services.generator.models import generations


def without_cameo_voices(report: dict) -> bool:
    """Drops every cameo-derived voice from a scene report's plan; True if one was there.
    A plan names its cameos by display name, not id, so in a clip with two cameos
    both voices go (a remix then speaks with a neutral voice)."""
    plan = report.get("plan")
    entities = plan.get("entities") if isinstance(plan, dict) else None
    changed = False
    for entity in entities if isinstance(entities, list) else []:
        voice = entity.get("voice") if isinstance(entity, dict) else None
        if isinstance(voice, dict) and voice.get("from_cameo"):
            del entity["voice"]
            changed = True
    return changed


def forget_cameo(session: Session, cameo_id: str) -> int:
    """Scrubs the cameo's voice from the scene reports of every generation it
    is in; returns how many changed (0 when run again)."""
    g = generations.c
    # cameo_ids is a JSON list of ids: a substring match finds candidates, the parse confirms.
    rows = session.execute(
        select(g.id, g.cameo_ids, g.scene_report)
        .where(g.cameo_ids.contains(cameo_id, autoescape=True), g.scene_report != "")
        .with_for_update()
    ).all()
    changed = 0
    for row in rows:
        if cameo_id not in json.loads(row.cameo_ids):
            continue
        report = json.loads(row.scene_report)
        if isinstance(report, dict) and without_cameo_voices(report):
            session.execute(update(generations).where(g.id == row.id).values(scene_report=json.dumps(report)))
            changed += 1
    return changed


def forget_user(session: Session, blobs, user_id: str) -> int:
    """A deleted account (identity's UserDeleted): every generation of the user goes, rows and
    blobs (videos, thumbnails, spritesheets, input images). No events are emitted for them: each
    service erases the person on UserDeleted itself, and a GenerationCanceled now would make
    billing record an outcome under the old user id again. A worker still holding one of the
    jobs finds its row gone and stores nothing. Returns how many generations went; idempotent."""
    from services.generator.domain import blob_keys

    g = generations.c
    rows = session.execute(select(generations).where(g.user_id == user_id).with_for_update()).all()
    for row in rows:
        for key in blob_keys(row):
            blobs.delete(key)
    session.execute(delete(generations).where(g.user_id == user_id))
    return len(rows)
