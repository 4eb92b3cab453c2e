"""A deleted account leaves cameo (identity's UserDeleted).

The person's cameo is deleted the way its owner deletes it, with a takedown:
CameoDeleted (identity and generator erase the likeness) and TakedownRequested
for every clip it is in (generator deletes the media, feed the posts). Then
what cameo holds of the person goes: approvals and blocks given or received,
restrictions, the follow and block copies, notifications to them, the copy of
the user. Records that are about other people too are kept with the person
replaced by the deletion's anonymous id: the cameo row (so other people's
appearances still point to a deleted cameo), appearances of other cameos in the
person's clips (state removed, prompt blanked) and the audit log (the action,
time and revision stay; ids replaced, details blanked; the append-only trigger
allows exactly that, see migration 0004)."""

from __future__ import annotations

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from services.cameo import models as m
from services.cameo.domain import Cameos
from services.cameo.policy import DELETED


def forget_user(s: Session, cameos: Cameos, user_id: str, anonymous_id: str) -> None:
    """Idempotent: run again, it finds nothing left of the person."""
    handle = s.execute(select(m.users.c.handle).where(m.users.c.user_id == user_id)).scalar() or ""
    # The person's cameo and their characters (a character's reference images go with it).
    owned = s.execute(select(m.cameos).where(m.cameos.c.owner_user_id == user_id).order_by(m.cameos.c.id)).all()
    for cameo in owned:
        if cameo.status != DELETED:
            cameos.delete_cameo(s, user_id, cameo.id, takedown=True)
        handle = handle or cameo.owner_handle
        s.execute(sql_delete(m.approvals).where(m.approvals.c.cameo_id == cameo.id))
        s.execute(sql_delete(m.blocks).where(m.blocks.c.cameo_id == cameo.id))
        s.execute(sql_delete(m.restrictions).where(m.restrictions.c.cameo_id == cameo.id))
        s.execute(sql_delete(m.character_images).where(m.character_images.c.cameo_id == cameo.id))
        s.execute(
            update(m.cameos)
            .where(m.cameos.c.id == cameo.id)
            .values(
                owner_user_id=anonymous_id,
                owner_handle="",
                display_name="",
                verification_id="",
                restriction_count=0,
                handle=None,
                description="",
            )
        )
    s.execute(sql_delete(m.approvals).where(m.approvals.c.user_id == user_id))
    s.execute(sql_delete(m.blocks).where(m.blocks.c.user_id == user_id))
    s.execute(sql_delete(m.follows).where(or_(m.follows.c.follower_id == user_id, m.follows.c.followee_id == user_id)))
    s.execute(
        sql_delete(m.user_blocks).where(
            or_(m.user_blocks.c.blocker_id == user_id, m.user_blocks.c.blocked_id == user_id)
        )
    )
    s.execute(
        update(m.appearances)
        .where(m.appearances.c.creator_user_id == user_id)
        .values(creator_user_id=anonymous_id, creator_handle="", prompt="", state=pb.APPEARANCE_STATE_REMOVED)
    )
    s.execute(sql_delete(m.notifications).where(m.notifications.c.user_id == user_id))
    n = m.notifications.c
    message = func.replace(n.message, f"@{handle}", "a deleted account") if handle else n.message
    s.execute(
        update(m.notifications)
        .where(n.actor_user_id == user_id)
        .values(actor_user_id=anonymous_id, actor_handle="", message=message)
    )
    s.execute(text("SET LOCAL kinora.erasure = 'on'"))
    a = m.audit_log.c
    mine = [cameo.id for cameo in owned]
    s.execute(
        update(m.audit_log)
        .where(or_(a.actor_user_id == user_id, a.cameo_id.in_(mine)))
        .values(actor_user_id=func.replace(a.actor_user_id, user_id, anonymous_id), detail_json="{}")
    )
    s.execute(
        update(m.audit_log).where(a.subject_user_id == user_id).values(subject_user_id=anonymous_id, detail_json="{}")
    )
    s.execute(text("SET LOCAL kinora.erasure = 'off'"))
    s.execute(sql_delete(m.users).where(m.users.c.user_id == user_id))
