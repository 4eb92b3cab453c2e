"""Cameo domain: profiles and consent state (policy, approvals, blocks,
restrictions, revokes, deletion), takedowns and notifications. Plain classes
over SQLAlchemy sessions; no gRPC or Kafka here (events go to the outbox in the
caller's transaction, on the topics declared in topics.py).

Consistency ("new enemy"): every change to consent state bumps the cameo's
`revision` in the same transaction, under the cameo's row lock, and commits
before the RPC returns; the consent check (consent.py) reads it with no cache.
Reads live in queries.py, the appearance index in appearances.py.
See docs/cameo.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Row, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.convert import datetime_or_none, timestamp
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kinora.runtime.events import EventTables
from services.cameo import models as m
from services.cameo import queries
from services.cameo.handles import character_deleted
from services.cameo.ids import new_id, now, require_id
from services.cameo.messages import cameo_message
from services.cameo.metrics import TAKEDOWNS
from services.cameo.policy import ACTIVE, DELETED, ONLY_ME, PERSON, POLICY_WORDS, effective_max_policy
from services.cameo.restrictions import MAX_RESTRICTION_CHARS, MAX_RESTRICTIONS, parse_restriction
from services.cameo.topics import TOPICS, publish  # noqa: F401 - TOPICS: read by the chart test


class Cameos:
    """Mutations of consent state. Each method runs inside the caller's
    transaction and bumps the cameo revision when consent changes."""

    def __init__(self, tables: EventTables = m.tables) -> None:
        self.tables = tables

    # helpers

    def _audit(
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

    def _notify(
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

    def _bump(self, s: Session, cameo_id: str, **values: Any) -> int:
        revision: int = s.execute(
            update(m.cameos)
            .where(m.cameos.c.id == cameo_id)
            .values(revision=m.cameos.c.revision + 1, updated_at=now(), **values)
            .returning(m.cameos.c.revision)
        ).scalar_one()
        return revision

    def _target_user(self, s: Session, owner: str, user_id: str) -> str:
        if not user_id:
            raise InvalidArgument("user_id is required", "missing_user")
        user_id = require_id(user_id, "user id")
        if user_id == owner:
            raise InvalidArgument("you can't do this to yourself: it's your own cameo", "self_target")
        return user_id

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
            revision = self._bump(
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
        self._audit(
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
                revision = self._bump(s, row.id, **changes)
                if changes.get("verified") is False:
                    self._audit(
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
            revision = self._bump(s, row.id, max_policy=new_cap, policy=new_policy)
            self._audit(
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

    def on_user_block(self, s: Session, blocker: str, blocked: str, is_blocked: bool) -> None:
        ub = m.user_blocks
        s.execute(delete(ub).where(ub.c.blocker_id == blocker, ub.c.blocked_id == blocked))
        if is_blocked:
            s.execute(insert(ub).values(blocker_id=blocker, blocked_id=blocked, updated_at=now()))
        for cameo in s.execute(
            select(m.cameos.c.id).where(m.cameos.c.owner_user_id == blocker).order_by(m.cameos.c.id).with_for_update()
        ).all():
            revision = self._bump(s, cameo.id)
            self._audit(
                s,
                cameo.id,
                pb.AUDIT_ACTION_BLOCKED if is_blocked else pb.AUDIT_ACTION_UNBLOCKED,
                blocker,
                revision,
                blocked,
                source="feed block",
            )

    def on_follow(self, s: Session, follower: str, followee: str, following: bool) -> None:
        f = m.follows
        if following:
            done = cast(
                CursorResult[Any],
                s.execute(
                    update(f).where(f.c.follower_id == follower, f.c.followee_id == followee).values(updated_at=now())
                ),
            )
            if done.rowcount == 0:
                s.execute(insert(f).values(follower_id=follower, followee_id=followee, updated_at=now()))
        else:
            s.execute(delete(f).where(f.c.follower_id == follower, f.c.followee_id == followee))

    # owner RPCs

    def update(self, s: Session, actor: str, cameo_id: str, display_name: str | None) -> Row[Any]:
        row = self.lock_owned(s, actor, cameo_id)
        if display_name is not None:
            name = display_name.strip()
            if not name or len(name) > 100:
                raise InvalidArgument("the display name must be 1 to 100 characters", "invalid_display_name")
            s.execute(update(m.cameos).where(m.cameos.c.id == row.id).values(display_name=name, updated_at=now()))
        return self.get(s, row.id)

    def set_policy(self, s: Session, actor: str, cameo_id: str, policy: common.CameoPolicy) -> Row[Any]:
        if policy not in POLICY_WORDS:
            raise InvalidArgument("choose a policy: only me, people I approve, mutuals or everyone", "invalid_policy")
        row = self.lock_owned(s, actor, cameo_id)
        if policy > row.max_policy:
            raise FailedPrecondition(
                f"your guardian allows at most \u201c{POLICY_WORDS[row.max_policy]}\u201d for your cameo",
                "policy_above_guardian_cap",
            )
        revision = self._bump(s, row.id, policy=policy)
        self._audit(
            s, row.id, pb.AUDIT_ACTION_POLICY_CHANGED, actor, revision, old_policy=row.policy, new_policy=policy
        )
        publish(
            s,
            self.tables,
            ev.PolicyChanged(
                cameo_id=row.id,
                owner_user_id=actor,
                old_policy=row.policy,
                new_policy=policy,
                revision=revision,
                occurred_at=timestamp(now()),
            ),
            row.id,
        )
        return self.get(s, row.id)

    def _approval(self, s: Session, cameo_id: str, user_id: str) -> Row[Any] | None:
        return s.execute(
            select(m.approvals).where(m.approvals.c.cameo_id == cameo_id, m.approvals.c.user_id == user_id)
        ).first()

    def _is_blocked(self, s: Session, cameo_id: str, user_id: str) -> bool:
        blocked: bool = s.execute(
            select(exists().where(m.blocks.c.cameo_id == cameo_id, m.blocks.c.user_id == user_id))
        ).scalar_one()
        return blocked

    def _set_approval(
        self, s: Session, cameo_id: str, user_id: str, status: int, message: str | None = None, decided: bool = True
    ) -> Row[Any] | None:
        a = m.approvals
        values: dict[str, Any] = {"status": status, "decided_at": now() if decided else None}
        if message is not None:
            values["message"] = message
        if self._approval(s, cameo_id, user_id) is None:
            s.execute(
                insert(a).values(
                    id=new_id(),
                    cameo_id=cameo_id,
                    user_id=user_id,
                    user_handle=self.handle_of(s, user_id),
                    requested_at=now(),
                    **{"message": "", **values},
                )
            )
        else:
            s.execute(update(a).where(a.c.cameo_id == cameo_id, a.c.user_id == user_id).values(**values))
        return self._approval(s, cameo_id, user_id)

    def request_approval(self, s: Session, actor: str, cameo_id: str, message: str) -> Row[Any] | None:
        if len(message) > 500:
            raise InvalidArgument("the note is longer than 500 characters", "message_too_long")
        cameo_id = require_id(cameo_id, "cameo id")
        row = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id).with_for_update()).first()
        if row is None or row.status != ACTIVE:
            raise NotFound("there is no cameo with this id", "cameo_not_found")
        if row.owner_user_id == actor:
            raise InvalidArgument("it's your own cameo: you don't need approval", "self_target")
        if self._is_blocked(s, row.id, actor):
            raise PermissionDenied(f"@{row.owner_handle} doesn't accept requests from you", "blocked")
        current = self._approval(s, row.id, actor)
        if current is not None and current.status == pb.APPROVAL_STATUS_APPROVED:
            return current
        if current is not None and current.status == pb.APPROVAL_STATUS_DENIED:
            raise FailedPrecondition(f"@{row.owner_handle} declined your request", "request_denied")
        approval = self._set_approval(s, row.id, actor, pb.APPROVAL_STATUS_PENDING, message, decided=False)
        handle = self.handle_of(s, actor)
        self._audit(s, row.id, pb.AUDIT_ACTION_APPROVAL_REQUESTED, actor, row.revision, actor)
        self._notify(
            s,
            row.owner_user_id,
            pb.NOTIFICATION_KIND_APPROVAL_REQUESTED,
            row.id,
            f"@{handle or actor} asked to use your cameo" + (f": \u201c{message}\u201d" if message else ""),
            actor,
            handle,
        )
        return approval

    def _decide_approval(
        self, s: Session, actor: str, cameo_id: str, user_id: str, status: int, action: int
    ) -> tuple[Row[Any] | None, int]:
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        if status == pb.APPROVAL_STATUS_APPROVED and self._is_blocked(s, row.id, user_id):
            raise FailedPrecondition("this person is blocked from your cameo; unblock them first", "user_blocked")
        approval = self._set_approval(s, row.id, user_id, status)
        revision = self._bump(s, row.id)
        self._audit(s, row.id, action, actor, revision, user_id)
        word = "approved" if status == pb.APPROVAL_STATUS_APPROVED else "declined"
        self._notify(
            s,
            user_id,
            pb.NOTIFICATION_KIND_APPROVAL_DECIDED,
            row.id,
            f"@{row.owner_handle} {word} your request to use their cameo",
            actor,
            row.owner_handle,
        )
        return approval, revision

    def approve(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any] | None, int]:
        return self._decide_approval(s, actor, cameo_id, user_id, pb.APPROVAL_STATUS_APPROVED, pb.AUDIT_ACTION_APPROVED)

    def deny(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any] | None, int]:
        return self._decide_approval(s, actor, cameo_id, user_id, pb.APPROVAL_STATUS_DENIED, pb.AUDIT_ACTION_DENIED)

    def remove_approval(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any] | None, int]:
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        current = self._approval(s, row.id, user_id)
        if current is None or current.status not in (pb.APPROVAL_STATUS_APPROVED, pb.APPROVAL_STATUS_PENDING):
            raise NotFound("this person has no approval or pending request to remove", "approval_not_found")
        approval = self._set_approval(s, row.id, user_id, pb.APPROVAL_STATUS_REMOVED)
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_APPROVAL_REMOVED, actor, revision, user_id, old_status=current.status)
        return approval, revision

    def block(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any], int]:
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        revision = self._block(s, row, actor, user_id)
        return s.execute(
            select(m.blocks).where(m.blocks.c.cameo_id == row.id, m.blocks.c.user_id == user_id)
        ).one(), revision

    def _block(self, s: Session, row: Row[Any], actor: str, user_id: str) -> int:
        if not self._is_blocked(s, row.id, user_id):
            s.execute(
                insert(m.blocks).values(
                    cameo_id=row.id, user_id=user_id, user_handle=self.handle_of(s, user_id), blocked_at=now()
                )
            )
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_BLOCKED, actor, revision, user_id)
        return revision

    def unblock(self, s: Session, actor: str, cameo_id: str, user_id: str) -> int:
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        gone = cast(
            CursorResult[Any],
            s.execute(delete(m.blocks).where(m.blocks.c.cameo_id == row.id, m.blocks.c.user_id == user_id)),
        )
        if gone.rowcount == 0:
            raise NotFound("this person is not blocked", "not_blocked")
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_UNBLOCKED, actor, revision, user_id)
        return revision

    def add_restriction(self, s: Session, actor: str, cameo_id: str, text: str) -> tuple[Row[Any], int]:
        text = (text or "").strip()
        if not text:
            raise InvalidArgument(
                "the restriction is empty; write what you don't want, e.g. \u201cno horror\u201d", "empty_restriction"
            )
        if len(text) > MAX_RESTRICTION_CHARS:
            raise InvalidArgument(
                f"the restriction is {len(text)} characters; the limit is {MAX_RESTRICTION_CHARS}",
                "restriction_too_long",
            )
        try:
            parse_restriction(text)  # refuses restrictions that name no topic
        except ValueError as exc:
            raise InvalidArgument(str(exc), "invalid_restriction") from None
        row = self.lock_owned(s, actor, cameo_id)
        if row.restriction_count >= MAX_RESTRICTIONS:
            raise FailedPrecondition(
                f"a cameo can have at most {MAX_RESTRICTIONS} restrictions", "too_many_restrictions"
            )
        rid = new_id()
        s.execute(insert(m.restrictions).values(id=rid, cameo_id=row.id, text=text, created_at=now()))
        revision = self._bump(s, row.id, restriction_count=m.cameos.c.restriction_count + 1)
        self._audit(s, row.id, pb.AUDIT_ACTION_RESTRICTION_ADDED, actor, revision, restriction_id=rid, text=text)
        return s.execute(select(m.restrictions).where(m.restrictions.c.id == rid)).one(), revision

    def remove_restriction(self, s: Session, actor: str, cameo_id: str, restriction_id: str) -> int:
        row = self.lock_owned(s, actor, cameo_id)
        rid = require_id(restriction_id, "restriction id")
        gone = s.execute(
            delete(m.restrictions)
            .where(m.restrictions.c.id == rid, m.restrictions.c.cameo_id == row.id)
            .returning(m.restrictions.c.text)
        ).scalar()
        if gone is None:
            raise NotFound("this cameo has no such restriction", "restriction_not_found")
        revision = self._bump(s, row.id, restriction_count=m.cameos.c.restriction_count - 1)
        self._audit(s, row.id, pb.AUDIT_ACTION_RESTRICTION_REMOVED, actor, revision, restriction_id=rid, text=gone)
        return revision

    def revoke_access(self, s: Session, actor: str, cameo_id: str, user_id: str, takedown: bool) -> tuple[int, int]:
        """Approval removed and the user blocked, in one transaction; optionally
        takes down every video of theirs with the cameo."""
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        current = self._approval(s, row.id, user_id)
        if current is not None and current.status in (pb.APPROVAL_STATUS_APPROVED, pb.APPROVAL_STATUS_PENDING):
            self._set_approval(s, row.id, user_id, pb.APPROVAL_STATUS_REMOVED)
        if not self._is_blocked(s, row.id, user_id):
            s.execute(
                insert(m.blocks).values(
                    cameo_id=row.id, user_id=user_id, user_handle=self.handle_of(s, user_id), blocked_at=now()
                )
            )
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_ACCESS_REVOKED, actor, revision, user_id, takedown=takedown)
        publish(
            s,
            self.tables,
            ev.AccessRevoked(
                cameo_id=row.id,
                owner_user_id=actor,
                user_id=user_id,
                takedown=takedown,
                revision=revision,
                occurred_at=timestamp(now()),
            ),
            row.id,
        )
        count = 0
        if takedown:
            targets = s.execute(
                select(m.appearances)
                .where(
                    m.appearances.c.cameo_id == row.id,
                    m.appearances.c.creator_user_id == user_id,
                    m.appearances.c.state == pb.APPEARANCE_STATE_ACTIVE,
                )
                .with_for_update()
            ).all()
            count = self.takedown(s, row, actor, targets, ev.TAKEDOWN_CAUSE_ACCESS_REVOKED, revision)
        return revision, count

    def delete_cameo(self, s: Session, actor: str, cameo_id: str, takedown: bool) -> tuple[int, int]:
        row = self.lock_owned(s, actor, cameo_id)
        # The pointers to the face crops and voice profile go now; identity erases the
        # objects themselves when CameoDeleted reaches it.
        likeness = common.LikenessAssets().SerializeToString()
        revision = self._bump(s, row.id, status=DELETED, likeness=likeness)
        self._audit(s, row.id, pb.AUDIT_ACTION_CAMEO_DELETED, actor, revision, takedown=takedown)
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
            count = self.takedown(s, row, actor, targets, ev.TAKEDOWN_CAUSE_CAMEO_DELETED, revision)
        return revision, count

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

    # takedowns

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
        self._audit(
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
        cameo = self.lock_owned(s, actor, found.cameo_id, allow_deleted=True)
        if found.state == pb.APPEARANCE_STATE_ACTIVE:
            self.takedown(s, cameo, actor, [found], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED, cameo.revision)
        return s.execute(select(m.appearances).where(m.appearances.c.id == aid)).one()
