"""What every cameo room shares (CameoCore): the outbox tables, the audit log,
notifications, the owner's lock on a cameo and the revision bump that every
change of consent state makes in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, Row, insert, select, update
from sqlalchemy.orm import Session

from kinora.runtime.errors import FailedPrecondition, NotFound, PermissionDenied
from kinora.runtime.events import EventTables
from services.cameo import models as m
from services.cameo import queries
from services.cameo.ids import new_id, now, require_id
from services.cameo.policy import ACTIVE


class CameoCore:
    def __init__(self, tables: EventTables = m.tables) -> None:
        self.tables = tables

    def audit(
        self, s: Session, cameo_id: str, action: int, actor: str, revision: int, subject: str = "", **detail: Any
    ) -> None:
        s.execute(
            insert(m.audit_log).values(
                cameo_id=cameo_id,
                action=action,
                actor_user_id=actor,
                subject_user_id=subject,
                detail_json=json.dumps(detail, sort_keys=True),
                revision=revision,
                created_at=now(),
            )
        )

    def notify(
        self,
        s: Session,
        user_id: str,
        kind: int,
        cameo_id: str,
        message: str,
        actor: str = "",
        actor_handle: str = "",
        generation_id: str = "",
        post_id: str = "",
    ) -> None:
        s.execute(
            insert(m.notifications).values(
                id=new_id(),
                user_id=user_id,
                kind=kind,
                cameo_id=cameo_id,
                actor_user_id=actor,
                actor_handle=actor_handle,
                generation_id=generation_id,
                post_id=post_id,
                message=message,
                read=False,
                created_at=now(),
            )
        )

    @staticmethod
    def handle_of(s: Session, user_id: str) -> str:
        return s.execute(select(m.users.c.handle).where(m.users.c.user_id == user_id)).scalar() or ""

    @staticmethod
    def get(s: Session, cameo_id: str) -> Row[Any]:
        return queries.cameo(s, cameo_id)

    def lock_owned(self, s: Session, actor: str, cameo_id: str, *, allow_deleted: bool = False) -> Row[Any]:
        """The cameo row, locked for update, after checking the caller owns it."""
        cameo_id = require_id(cameo_id, "cameo id")
        row = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id).with_for_update()).first()
        if row is None:
            raise NotFound("there is no cameo with this id", "cameo_not_found")
        if row.owner_user_id != actor:
            raise PermissionDenied("only the cameo's owner can do this", "not_owner")
        if row.status != ACTIVE and not allow_deleted:
            raise FailedPrecondition("this cameo was deleted", "cameo_deleted")
        return row

    def bump(self, s: Session, cameo_id: str, **values: Any) -> int:
        revision: int = s.execute(
            update(m.cameos)
            .where(m.cameos.c.id == cameo_id)
            .values(revision=m.cameos.c.revision + 1, updated_at=now(), **values)
            .returning(m.cameos.c.revision)
        ).scalar_one()
        return revision

    # notifications

    @staticmethod
    def mark_notifications_read(s: Session, user_id: str, notification_ids: Iterable[str]) -> int:
        """Marks the user's unread notifications (all, or those listed) read; how many were marked."""
        n = m.notifications
        ids = [require_id(i, "notification id") for i in notification_ids]
        q = update(n).where(n.c.user_id == user_id, ~n.c.read)
        if ids:
            q = q.where(n.c.id.in_(ids))
        marked: int = cast(CursorResult[Any], s.execute(q.values(read=True))).rowcount
        return marked
