"""A cameo's life: a person's cameo made (or refreshed) when they pass
verification, kept in step with identity's user events and a guardian's cap,
renamed by its owner, and deleted (with an optional takedown of its videos)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, delete, insert, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.convert import datetime_or_none, timestamp
from kinora.runtime.errors import InvalidArgument
from services.cameo import models as m
from services.cameo.core import CameoCore
from services.cameo.handles import character_deleted
from services.cameo.ids import new_id, now
from services.cameo.messages import cameo_message
from services.cameo.policy import ACTIVE, DELETED, ONLY_ME, PERSON, effective_max_policy
from services.cameo.takedowns import Takedowns
from services.cameo.topics import publish


class Lifecycle:
    def __init__(self, core: CameoCore, takedowns: Takedowns) -> None:
        self.core, self.tables, self.takedowns = core, core.tables, takedowns

    # identity events

    def upsert_user(
        self,
        s: Session,
        user_id: str,
        handle: str | None = None,
        age_group: int | None = None,
        max_cameo_policy: int | None = None,
        set_cap: bool = False,
    ) -> None:
        values: dict[str, Any] = {"updated_at": now()}
        if handle:
            values["handle"] = handle
        if age_group:
            values["age_group"] = age_group
        if set_cap:
            values["max_cameo_policy"] = max_cameo_policy or None
        done = cast(CursorResult[Any], s.execute(update(m.users).where(m.users.c.user_id == user_id).values(**values)))
        if done.rowcount == 0:
            s.execute(insert(m.users).values(user_id=user_id, **{"handle": "", "age_group": 0, **values}))

    def on_verified(self, s: Session, msg: Any) -> str:
        """Create (or refresh) the profile of a user who passed verification."""
        self.upsert_user(s, msg.user_id, msg.handle, msg.owner_age_group)
        user = s.execute(select(m.users).where(m.users.c.user_id == msg.user_id)).one()
        age = msg.owner_age_group or user.age_group or common.AGE_GROUP_ADULT
        cap = effective_max_policy(age, user.max_cameo_policy)
        likeness = msg.likeness.SerializeToString()
        at = datetime_or_none(msg, "occurred_at") or now()
        existing = s.execute(
            select(m.cameos).where(m.cameos.c.owner_user_id == msg.user_id, m.cameos.c.kind == PERSON).with_for_update()
        ).first()
        if existing is None:
            cameo_id = new_id()
            s.execute(
                insert(m.cameos).values(
                    id=cameo_id,
                    kind=PERSON,
                    owner_user_id=msg.user_id,
                    owner_handle=msg.handle,
                    display_name=msg.display_name or msg.handle,
                    policy=ONLY_ME,
                    status=ACTIVE,
                    verified=True,
                    owner_age_group=age,
                    max_policy=cap,
                    likeness=likeness,
                    verification_id=msg.verification_id,
                    revision=1,
                    verified_at=at,
                    created_at=now(),
                    updated_at=now(),
                )
            )
            revision = 1
        else:
            cameo_id = existing.id
            # A re-verification after deletion starts closed again.
            policy = existing.policy if existing.status == ACTIVE else ONLY_ME
            revision = self.core.bump(
                s,
                cameo_id,
                owner_handle=msg.handle,
                display_name=msg.display_name or msg.handle,
                status=ACTIVE,
                verified=True,
                owner_age_group=age,
                max_policy=cap,
                policy=min(policy, cap),
                likeness=likeness,
                verification_id=msg.verification_id,
                verified_at=at,
            )
        self.core.audit(
            s,
            cameo_id,
            pb.AUDIT_ACTION_CAMEO_CREATED,
            msg.user_id,
            revision,
            verification_id=msg.verification_id,
            refreshed=existing is not None,
        )
        row = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id)).one()
        publish(
            s,
            self.tables,
            ev.CameoCreated(cameo=cameo_message(row), likeness=msg.likeness, occurred_at=timestamp(now())),
            cameo_id,
        )
        return cameo_id

    def on_user(self, s: Session, user: Any, changed_at: datetime | None = None) -> None:
        """UserCreated/UserUpdated: handle, age group, verification withdrawn.

        `changed_at` is set only for UserUpdated: identity's topics are not
        ordered with each other, so a user event older than the verification
        must not undo it."""
        self.upsert_user(s, user.id, user.handle, user.age_group)
        # The person's cameo and their characters: a character has its owner's handle, age and cap.
        rows = s.execute(
            select(m.cameos).where(m.cameos.c.owner_user_id == user.id).order_by(m.cameos.c.id).with_for_update()
        ).all()
        for row in rows:
            changes = {}
            if user.handle and user.handle != row.owner_handle:
                changes["owner_handle"] = user.handle
            if (
                row.kind == PERSON
                and row.verified
                and not user.cameo_verified
                and changed_at is not None
                and changed_at > row.verified_at
            ):
                changes["verified"] = False
            if user.age_group and user.age_group != row.owner_age_group:
                cap = effective_max_policy(
                    user.age_group,
                    s.execute(select(m.users.c.max_cameo_policy).where(m.users.c.user_id == user.id)).scalar(),
                )
                changes.update(owner_age_group=user.age_group, max_policy=cap, policy=min(row.policy, cap))
            if changes:
                revision = self.core.bump(s, row.id, **changes)
                if changes.get("verified") is False:
                    self.core.audit(
                        s, row.id, pb.AUDIT_ACTION_POLICY_CHANGED, "identity", revision, change="verification withdrawn"
                    )

    def on_parental_controls(self, s: Session, teen_user_id: str, guardian_user_id: str, cap: int) -> None:
        self.upsert_user(s, teen_user_id, max_cameo_policy=cap, set_cap=True)
        rows = s.execute(
            select(m.cameos).where(m.cameos.c.owner_user_id == teen_user_id).order_by(m.cameos.c.id).with_for_update()
        ).all()
        for row in rows:
            age = row.owner_age_group
            new_cap = effective_max_policy(age, cap or None)
            new_policy = min(row.policy, new_cap)
            if new_cap == row.max_policy and new_policy == row.policy:
                continue
            revision = self.core.bump(s, row.id, max_policy=new_cap, policy=new_policy)
            self.core.audit(
                s,
                row.id,
                pb.AUDIT_ACTION_POLICY_CHANGED,
                guardian_user_id or "identity",
                revision,
                old_policy=row.policy,
                new_policy=new_policy,
                old_max=row.max_policy,
                new_max=new_cap,
                cause="parental controls",
            )
            if new_policy != row.policy:
                publish(
                    s,
                    self.tables,
                    ev.PolicyChanged(
                        cameo_id=row.id,
                        owner_user_id=row.owner_user_id,
                        old_policy=row.policy,
                        new_policy=new_policy,
                        revision=revision,
                        occurred_at=timestamp(now()),
                    ),
                    row.id,
                )

    # owner RPCs

    def update(self, s: Session, actor: str, cameo_id: str, display_name: str | None) -> Row[Any]:
        row = self.core.lock_owned(s, actor, cameo_id)
        if display_name is not None:
            name = display_name.strip()
            if not name or len(name) > 100:
                raise InvalidArgument("the display name must be 1 to 100 characters", "invalid_display_name")
            s.execute(update(m.cameos).where(m.cameos.c.id == row.id).values(display_name=name, updated_at=now()))
        return self.core.get(s, row.id)

    def delete_cameo(self, s: Session, actor: str, cameo_id: str, takedown: bool) -> tuple[int, int]:
        row = self.core.lock_owned(s, actor, cameo_id)
        # The pointers to the face crops and voice profile go now; identity erases the
        # objects themselves when CameoDeleted reaches it.
        likeness = common.LikenessAssets().SerializeToString()
        revision = self.core.bump(s, row.id, status=DELETED, likeness=likeness)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_CAMEO_DELETED, actor, revision, takedown=takedown)
        if row.kind == PERSON:
            publish(
                s,
                self.tables,
                ev.CameoDeleted(
                    cameo_id=row.id,
                    owner_user_id=actor,
                    takedown=takedown,
                    revision=revision,
                    occurred_at=timestamp(now()),
                    verification_id=row.verification_id or "",
                ),
                row.id,
            )
        else:
            # A character's reference images are ours: erased here, in the same transaction. No
            # CameoDeleted: identity reads it as "erase this person's verified likeness".
            s.execute(delete(m.character_images).where(m.character_images.c.cameo_id == row.id))
            character_deleted(s, self.tables, row)  # its handle is free again (identity hears of it)
        count = 0
        if takedown:
            targets = s.execute(
                select(m.appearances)
                .where(m.appearances.c.cameo_id == row.id, m.appearances.c.state == pb.APPEARANCE_STATE_ACTIVE)
                .with_for_update()
            ).all()
            count = self.takedowns.takedown(s, row, actor, targets, ev.TAKEDOWN_CAUSE_CAMEO_DELETED, revision)
        return revision, count
