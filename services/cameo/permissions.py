"""Who may use a cameo, as its owner decides: the policy, approvals asked for
and decided, blocks (the owner's own and feed blocks), restrictions, and access
revoked (approval removed and the person blocked, optionally with a takedown).
Follows are kept for the mutuals policy. Every change bumps the revision
(core.py), so the consent check (consent.py) sees it at once."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Row, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.convert import timestamp
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.cameo import models as m
from services.cameo.core import CameoCore
from services.cameo.ids import new_id, now, require_id
from services.cameo.policy import ACTIVE, POLICY_WORDS
from services.cameo.restrictions import MAX_RESTRICTION_CHARS, MAX_RESTRICTIONS, parse_restriction
from services.cameo.takedowns import Takedowns
from services.cameo.topics import publish


class Permissions:
    def __init__(self, core: CameoCore, takedowns: Takedowns) -> None:
        self.core, self.tables, self.takedowns = core, core.tables, takedowns

    def _target_user(self, s: Session, owner: str, user_id: str) -> str:
        if not user_id:
            raise InvalidArgument("user_id is required", "missing_user")
        user_id = require_id(user_id, "user id")
        if user_id == owner:
            raise InvalidArgument("you can't do this to yourself: it's your own cameo", "self_target")
        return user_id

    # feed events

    def on_user_block(self, s: Session, blocker: str, blocked: str, is_blocked: bool) -> None:
        ub = m.user_blocks
        s.execute(delete(ub).where(ub.c.blocker_id == blocker, ub.c.blocked_id == blocked))
        if is_blocked:
            s.execute(insert(ub).values(blocker_id=blocker, blocked_id=blocked, updated_at=now()))
        for cameo in s.execute(
            select(m.cameos.c.id).where(m.cameos.c.owner_user_id == blocker).order_by(m.cameos.c.id).with_for_update()
        ).all():
            revision = self.core.bump(s, cameo.id)
            self.core.audit(
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

    def set_policy(self, s: Session, actor: str, cameo_id: str, policy: common.CameoPolicy) -> Row[Any]:
        if policy not in POLICY_WORDS:
            raise InvalidArgument("choose a policy: only me, people I approve, mutuals or everyone", "invalid_policy")
        row = self.core.lock_owned(s, actor, cameo_id)
        if policy > row.max_policy:
            raise FailedPrecondition(
                f"your guardian allows at most \u201c{POLICY_WORDS[row.max_policy]}\u201d for your cameo",
                "policy_above_guardian_cap",
            )
        revision = self.core.bump(s, row.id, policy=policy)
        self.core.audit(
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
        return self.core.get(s, row.id)

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
                    user_handle=self.core.handle_of(s, user_id),
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
        handle = self.core.handle_of(s, actor)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_APPROVAL_REQUESTED, actor, row.revision, actor)
        self.core.notify(
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
        row = self.core.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        if status == pb.APPROVAL_STATUS_APPROVED and self._is_blocked(s, row.id, user_id):
            raise FailedPrecondition("this person is blocked from your cameo; unblock them first", "user_blocked")
        approval = self._set_approval(s, row.id, user_id, status)
        revision = self.core.bump(s, row.id)
        self.core.audit(s, row.id, action, actor, revision, user_id)
        word = "approved" if status == pb.APPROVAL_STATUS_APPROVED else "declined"
        self.core.notify(
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
        row = self.core.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        current = self._approval(s, row.id, user_id)
        if current is None or current.status not in (pb.APPROVAL_STATUS_APPROVED, pb.APPROVAL_STATUS_PENDING):
            raise NotFound("this person has no approval or pending request to remove", "approval_not_found")
        approval = self._set_approval(s, row.id, user_id, pb.APPROVAL_STATUS_REMOVED)
        revision = self.core.bump(s, row.id)
        self.core.audit(
            s, row.id, pb.AUDIT_ACTION_APPROVAL_REMOVED, actor, revision, user_id, old_status=current.status
        )
        return approval, revision

    def block(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any], int]:
        row = self.core.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        revision = self._block(s, row, actor, user_id)
        return s.execute(
            select(m.blocks).where(m.blocks.c.cameo_id == row.id, m.blocks.c.user_id == user_id)
        ).one(), revision

    def _block(self, s: Session, row: Row[Any], actor: str, user_id: str) -> int:
        if not self._is_blocked(s, row.id, user_id):
            s.execute(
                insert(m.blocks).values(
                    cameo_id=row.id, user_id=user_id, user_handle=self.core.handle_of(s, user_id), blocked_at=now()
                )
            )
        revision = self.core.bump(s, row.id)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_BLOCKED, actor, revision, user_id)
        return revision

    def unblock(self, s: Session, actor: str, cameo_id: str, user_id: str) -> int:
        row = self.core.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        gone = cast(
            CursorResult[Any],
            s.execute(delete(m.blocks).where(m.blocks.c.cameo_id == row.id, m.blocks.c.user_id == user_id)),
        )
        if gone.rowcount == 0:
            raise NotFound("this person is not blocked", "not_blocked")
        revision = self.core.bump(s, row.id)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_UNBLOCKED, actor, revision, user_id)
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
        row = self.core.lock_owned(s, actor, cameo_id)
        if row.restriction_count >= MAX_RESTRICTIONS:
            raise FailedPrecondition(
                f"a cameo can have at most {MAX_RESTRICTIONS} restrictions", "too_many_restrictions"
            )
        rid = new_id()
        s.execute(insert(m.restrictions).values(id=rid, cameo_id=row.id, text=text, created_at=now()))
        revision = self.core.bump(s, row.id, restriction_count=m.cameos.c.restriction_count + 1)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_RESTRICTION_ADDED, actor, revision, restriction_id=rid, text=text)
        return s.execute(select(m.restrictions).where(m.restrictions.c.id == rid)).one(), revision

    def remove_restriction(self, s: Session, actor: str, cameo_id: str, restriction_id: str) -> int:
        row = self.core.lock_owned(s, actor, cameo_id)
        rid = require_id(restriction_id, "restriction id")
        gone = s.execute(
            delete(m.restrictions)
            .where(m.restrictions.c.id == rid, m.restrictions.c.cameo_id == row.id)
            .returning(m.restrictions.c.text)
        ).scalar()
        if gone is None:
            raise NotFound("this cameo has no such restriction", "restriction_not_found")
        revision = self.core.bump(s, row.id, restriction_count=m.cameos.c.restriction_count - 1)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_RESTRICTION_REMOVED, actor, revision, restriction_id=rid, text=gone)
        return revision

    def revoke_access(self, s: Session, actor: str, cameo_id: str, user_id: str, takedown: bool) -> tuple[int, int]:
        """Approval removed and the user blocked, in one transaction; optionally
        takes down every video of theirs with the cameo."""
        row = self.core.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        current = self._approval(s, row.id, user_id)
        if current is not None and current.status in (pb.APPROVAL_STATUS_APPROVED, pb.APPROVAL_STATUS_PENDING):
            self._set_approval(s, row.id, user_id, pb.APPROVAL_STATUS_REMOVED)
        if not self._is_blocked(s, row.id, user_id):
            s.execute(
                insert(m.blocks).values(
                    cameo_id=row.id, user_id=user_id, user_handle=self.core.handle_of(s, user_id), blocked_at=now()
                )
            )
        revision = self.core.bump(s, row.id)
        self.core.audit(s, row.id, pb.AUDIT_ACTION_ACCESS_REVOKED, actor, revision, user_id, takedown=takedown)
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
            count = self.takedowns.takedown(s, row, actor, targets, ev.TAKEDOWN_CAUSE_ACCESS_REVOKED, revision)
        return revision, count
