"""Takedowns of a cameo's appearances (its owner deleted it or revoked someone's
access, or deleted one appearance): the appearances are marked takedown-requested,
and one TakedownRequested goes out for their generations (the generator deletes
the media) and one for their posts (the feed hides them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.runtime.convert import timestamp
from kinora.runtime.errors import NotFound
from services.cameo import models as m
from services.cameo.core import CameoCore
from services.cameo.ids import new_id, now, require_id
from services.cameo.metrics import TAKEDOWNS
from services.cameo.topics import publish


class Takedowns:
    def __init__(self, core: CameoCore) -> None:
        self.core, self.tables = core, core.tables

    def takedown(
        self, s: Session, cameo: Any, actor: str, targets: Sequence[Any], cause: ev.TakedownCause, revision: int
    ) -> int:
        """Mark appearances as takedown-requested and emit one TakedownRequested
        for their generations (generator deletes media) and one for their posts
        (feed hides them)."""
        if not targets:
            return 0
        takedown_id = new_id()
        s.execute(
            update(m.appearances)
            .where(m.appearances.c.id.in_([t.id for t in targets]))
            .values(state=pb.APPEARANCE_STATE_TAKEDOWN_REQUESTED, updated_at=now())
        )
        generations = sorted({t.generation_id for t in targets if t.generation_id})
        posts = sorted({t.post_id for t in targets if t.post_id})
        for kind, ids in ((ev.TAKEDOWN_TARGET_KIND_GENERATION, generations), (ev.TAKEDOWN_TARGET_KIND_POST, posts)):
            if ids:
                publish(
                    s,
                    self.tables,
                    ev.TakedownRequested(
                        takedown_id=takedown_id,
                        cameo_id=cameo.id,
                        owner_user_id=cameo.owner_user_id,
                        target_kind=kind,
                        target_ids=ids,
                        cause=cause,
                        occurred_at=timestamp(now()),
                    ),
                    cameo.id,
                )
        TAKEDOWNS.labels(ev.TakedownCause.Name(cause)).inc(len(targets))
        self.core.audit(
            s,
            cameo.id,
            pb.AUDIT_ACTION_TAKEDOWN_REQUESTED,
            actor,
            revision,
            takedown_id=takedown_id,
            cause=ev.TakedownCause.Name(cause),
            generation_ids=generations,
            post_ids=posts,
        )
        return len(targets)

    def delete_appearance(self, s: Session, actor: str, appearance_id: str) -> Row[Any]:
        aid = require_id(appearance_id, "appearance id")
        found = s.execute(select(m.appearances).where(m.appearances.c.id == aid).with_for_update()).first()
        if found is None:
            raise NotFound("there is no appearance with this id", "appearance_not_found")
        cameo = self.core.lock_owned(s, actor, found.cameo_id, allow_deleted=True)
        if found.state == pb.APPEARANCE_STATE_ACTIVE:
            self.takedown(s, cameo, actor, [found], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED, cameo.revision)
        return s.execute(select(m.appearances).where(m.appearances.c.id == aid)).one()
