"""Cameo domain: profiles, consent state, the consent check, the appearance
index, notifications and the audit log. Plain classes over SQLAlchemy
sessions; no gRPC or Kafka here (events go to the outbox in the caller's
transaction).

Consistency ("new enemy"): every change to consent state bumps the cameo's
`revision` in the same transaction, under the cameo's row lock, and commits
before the RPC returns. `ConsentChecker.check` keeps no cache of consent state:
it reads the committed state from the primary database in one statement, so a
check that starts after a change was acknowledged sees it, on every replica.
See docs/cameo.md.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from kinora.runtime.events import emit
from services.cameo import models as m
from services.cameo.metrics import TAKEDOWNS
from services.cameo.policy import (APPROVED, EVERYONE, MUTUALS, ONLY_ME, POLICY_WORDS, TEEN, UseFacts, decide,
                                   effective_max_policy)
from services.cameo.restrictions import MAX_PROMPT_CHARS, MAX_RESTRICTION_CHARS, MAX_RESTRICTIONS, \
    RestrictionMatcher, parse_restriction

CONSENT_TOPIC = "kinora.cameo.consent.v1"
TAKEDOWN_TOPIC = "kinora.cameo.takedowns.v1"
NOTIFICATION_TOPIC = "kinora.cameo.notifications.v1"
TOPICS = [CONSENT_TOPIC, TAKEDOWN_TOPIC, NOTIFICATION_TOPIC]

MAX_CAMEOS_PER_USE = 2
ACTIVE = pb.CAMEO_STATUS_ACTIVE
DELETED = pb.CAMEO_STATUS_DELETED
DEFAULT_PAGE, MAX_PAGE = 50, 200


def now() -> datetime:
    return datetime.now(timezone.utc)


def ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def new_id() -> str:
    return str(uuid.uuid4())


def require_id(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(f"{what} {value!r} is not a valid id", f"invalid_{what.replace(' ', '_')}") from None


# -- pages ----------------------------------------------------------------------

def page_bounds(page: common.PageRequest | None) -> tuple[int, int]:
    """(offset, limit) from a PageRequest; tokens are ours and opaque."""
    size = page.page_size if page and page.page_size > 0 else DEFAULT_PAGE
    offset = 0
    if page and page.page_token:
        try:
            data = json.loads(base64.urlsafe_b64decode(page.page_token.encode()))
            offset = int(data["o"])
            assert offset >= 0
        except Exception:  # noqa: BLE001 - any malformed token gets the same answer
            raise InvalidArgument("the page token was not issued by this service", "invalid_page_token") from None
    return offset, min(size, MAX_PAGE)


def next_token(offset: int, limit: int, got: int) -> str:
    if got < limit:
        return ""
    return base64.urlsafe_b64encode(json.dumps({"o": offset + limit}).encode()).decode()


# -- conversions to protobuf ------------------------------------------------------

def cameo_message(row, viewer=None) -> pb.Cameo:
    """The cameo as `viewer` (a Principal; None: a service or an event) may see it. Another user
    learns neither the owner's age group nor the cap a guardian set: both tell a teen's account."""
    msg = _cameo_message(row)
    if viewer is not None and not viewer.is_service and viewer.subject != row.owner_user_id:
        msg.ClearField("owner_age_group")
        msg.ClearField("max_policy")
    return msg


def _cameo_message(row) -> pb.Cameo:
    return pb.Cameo(
        id=row.id, owner_user_id=row.owner_user_id, owner_handle=row.owner_handle, display_name=row.display_name,
        policy=row.policy, status=row.status, owner_age_group=row.owner_age_group, max_policy=row.max_policy,
        verified_at=ts(row.verified_at), created_at=ts(row.created_at), updated_at=ts(row.updated_at),
        revision=row.revision, verified=row.verified, restriction_count=row.restriction_count)


def approval_message(row) -> pb.Approval:
    return pb.Approval(id=row.id, cameo_id=row.cameo_id, user_id=row.user_id, user_handle=row.user_handle,
                       status=row.status, message=row.message, requested_at=ts(row.requested_at),
                       decided_at=ts(row.decided_at))


def appearance_message(row) -> pb.Appearance:
    return pb.Appearance(id=row.id, cameo_id=row.cameo_id, kind=row.kind, state=row.state,
                         generation_id=row.generation_id, post_id=row.post_id, creator_user_id=row.creator_user_id,
                         creator_handle=row.creator_handle, prompt=row.prompt, created_at=ts(row.created_at),
                         updated_at=ts(row.updated_at))


def notification_message(row) -> pb.Notification:
    return pb.Notification(id=row.id, user_id=row.user_id, kind=row.kind, cameo_id=row.cameo_id,
                           actor_user_id=row.actor_user_id, actor_handle=row.actor_handle,
                           generation_id=row.generation_id, post_id=row.post_id, message=row.message,
                           read=row.read, created_at=ts(row.created_at))


def audit_message(row) -> pb.AuditEntry:
    return pb.AuditEntry(id=str(row.id), cameo_id=row.cameo_id, action=row.action, actor_user_id=row.actor_user_id,
                         subject_user_id=row.subject_user_id, detail_json=row.detail_json, revision=row.revision,
                         created_at=ts(row.created_at))


# -- the consent check --------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    cameo_id: str
    allowed: bool
    reason: int
    message: str
    revision: int = 0
    owner_user_id: str = ""
    restriction_id: str = ""
    restriction_text: str = ""


class ConsentChecker:
    """CheckUse. Reads consent state for up to two cameos in ONE statement on
    the primary (no cache), then matches the prompt against restrictions."""

    def __init__(self, matcher: RestrictionMatcher | None):
        self.matcher = matcher

    @staticmethod
    def _facts_query(requester: str, cameo_ids: list[str]):
        c, b, a, f, u, ub = m.cameos, m.blocks, m.approvals, m.follows, m.users, m.user_blocks
        f2 = f.alias("f2")
        return select(
            c.c.id, c.c.owner_user_id, c.c.owner_handle, c.c.policy, c.c.max_policy, c.c.owner_age_group,
            c.c.status, c.c.verified, c.c.revision, c.c.restriction_count,
            or_(exists().where(b.c.cameo_id == c.c.id, b.c.user_id == requester),
                exists().where(ub.c.blocker_id == c.c.owner_user_id, ub.c.blocked_id == requester)).label("blocked"),
            exists().where(a.c.cameo_id == c.c.id, a.c.user_id == requester,
                           a.c.status == pb.APPROVAL_STATUS_APPROVED).label("approved"),
            and_(exists().where(f.c.follower_id == c.c.owner_user_id, f.c.followee_id == requester),
                 exists().where(f2.c.follower_id == requester, f2.c.followee_id == c.c.owner_user_id)).label("mutual"),
            select(u.c.age_group).where(u.c.user_id == requester).scalar_subquery().label("requester_age"),
        ).where(c.c.id.in_(cameo_ids))

    @staticmethod
    def validate(requester: str, cameo_ids: list[str], prompt: str) -> tuple[str, list[str]]:
        if not requester:
            raise InvalidArgument("requester_user_id is required: whose use is being checked?", "missing_requester")
        requester = require_id(requester, "requester id")
        if not cameo_ids:
            raise InvalidArgument("name at least one cameo to check", "no_cameos")
        if len(cameo_ids) > MAX_CAMEOS_PER_USE:
            raise InvalidArgument(f"at most {MAX_CAMEOS_PER_USE} cameos can appear in one video; "
                                  f"this request has {len(cameo_ids)}", "too_many_cameos")
        ids = [require_id(x, "cameo id") for x in cameo_ids]
        if len(set(ids)) != len(ids):
            raise InvalidArgument("the same cameo is listed twice", "duplicate_cameo")
        if not prompt or not prompt.strip():
            raise InvalidArgument("the prompt is empty: describe the video so restrictions can be checked",
                                  "empty_prompt")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidArgument(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}",
                                  "prompt_too_long")
        return requester, ids

    def read(self, session: Session, requester: str, ids: list[str]) -> tuple[list[Decision], dict[str, list]]:
        """Policy decisions plus, for cameos still allowed that have restrictions,
        those restrictions (id, text) to match against the prompt, in the
        caller's session (the takedown safety net reads inside its transaction);
        `fastpath.PgConsentReader` does the same in one prepared statement for CheckUse."""
        rows = {r.id: r for r in session.execute(self._facts_query(requester, ids))}
        decisions, to_match = self.decide_all(requester, ids, rows)
        texts: dict[str, list] = {}
        if to_match:
            # Same transaction; a restriction committed since the first statement
            # is only ever newer state, never older.
            for row in session.execute(select(m.restrictions.c.cameo_id, m.restrictions.c.id, m.restrictions.c.text)
                                       .where(m.restrictions.c.cameo_id.in_(to_match))
                                       .order_by(m.restrictions.c.created_at)):
                texts.setdefault(row.cameo_id, []).append((row.id, row.text))
        return decisions, texts

    @staticmethod
    def decide_all(requester: str, ids: list[str], rows: dict) -> tuple[list[Decision], list[str]]:
        """Decisions in request order, and the cameos whose restrictions must be matched."""
        decisions: list[Decision] = []
        to_match: list[str] = []
        for cameo_id in ids:
            r = rows.get(cameo_id)
            if r is None:
                decisions.append(Decision(cameo_id, False, pb.DECISION_REASON_CAMEO_NOT_FOUND,
                                          "There is no cameo with this id."))
                continue
            verdict = decide(UseFacts(
                owner_handle=r.owner_handle, policy=r.policy, max_policy=r.max_policy,
                owner_teen=r.owner_age_group == TEEN, active=r.status == ACTIVE, verified=r.verified,
                requester_is_owner=r.owner_user_id == requester, blocked=r.blocked, approved=r.approved,
                mutual=bool(r.mutual), requester_teen=r.requester_age == TEEN))
            decisions.append(Decision(cameo_id, verdict.allowed, verdict.reason, verdict.message, r.revision,
                                      r.owner_user_id))
            if verdict.allowed and r.owner_user_id != requester and r.restriction_count:
                to_match.append(cameo_id)
        return decisions, to_match

    def apply_restrictions(self, prompt: str, decisions: list[Decision], texts: dict[str, list]) -> list[Decision]:
        out = []
        for d in decisions:
            rules = texts.get(d.cameo_id)
            if d.allowed and rules:
                conflicts = self.matcher.check(prompt, [text for _, text in rules])
                if conflicts:
                    first = conflicts[0]
                    rid = next(i for i, text in rules if text == first.restriction)
                    d = Decision(d.cameo_id, False, pb.DECISION_REASON_RESTRICTION_CONFLICT,
                                 f"This cameo's owner asked: \u201c{first.restriction}\u201d \u2014 {first.reason}.",
                                 d.revision, d.owner_user_id, rid, first.restriction)
            out.append(d)
        return out


# -- profiles and consent state ------------------------------------------------------

class Cameos:
    """Mutations of consent state. Each method runs inside the caller's
    transaction and bumps the cameo revision when consent changes."""

    def __init__(self, tables=m.tables):
        self.tables = tables

    # helpers

    def _audit(self, s: Session, cameo_id: str, action: int, actor: str, revision: int, subject: str = "",
               **detail) -> None:
        s.execute(insert(m.audit_log).values(cameo_id=cameo_id, action=action, actor_user_id=actor,
                                             subject_user_id=subject, detail_json=json.dumps(detail, sort_keys=True),
                                             revision=revision, created_at=now()))

    def _notify(self, s: Session, user_id: str, kind: int, cameo_id: str, message: str, actor: str = "",
                actor_handle: str = "", generation_id: str = "", post_id: str = "") -> None:
        s.execute(insert(m.notifications).values(id=new_id(), user_id=user_id, kind=kind, cameo_id=cameo_id,
                                                 actor_user_id=actor, actor_handle=actor_handle,
                                                 generation_id=generation_id, post_id=post_id, message=message,
                                                 read=False, created_at=now()))

    @staticmethod
    def handle_of(s: Session, user_id: str) -> str:
        return s.execute(select(m.users.c.handle).where(m.users.c.user_id == user_id)).scalar() or ""

    @staticmethod
    def get(s: Session, cameo_id: str):
        cameo_id = require_id(cameo_id, "cameo id")
        row = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id)).first()
        if row is None:
            raise NotFound("there is no cameo with this id", "cameo_not_found")
        return row

    def lock_owned(self, s: Session, actor: str, cameo_id: str, *, allow_deleted: bool = False):
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

    def _bump(self, s: Session, cameo_id: str, **values) -> int:
        return s.execute(update(m.cameos).where(m.cameos.c.id == cameo_id)
                         .values(revision=m.cameos.c.revision + 1, updated_at=now(), **values)
                         .returning(m.cameos.c.revision)).scalar_one()

    def _target_user(self, s: Session, owner: str, user_id: str) -> str:
        if not user_id:
            raise InvalidArgument("user_id is required", "missing_user")
        user_id = require_id(user_id, "user id")
        if user_id == owner:
            raise InvalidArgument("you can't do this to yourself: it's your own cameo", "self_target")
        return user_id

    # identity events

    def upsert_user(self, s: Session, user_id: str, handle: str | None = None, age_group: int | None = None,
                    max_cameo_policy: int | None = None, set_cap: bool = False) -> None:
        values = {"updated_at": now()}
        if handle:
            values["handle"] = handle
        if age_group:
            values["age_group"] = age_group
        if set_cap:
            values["max_cameo_policy"] = max_cameo_policy or None
        done = s.execute(update(m.users).where(m.users.c.user_id == user_id).values(**values))
        if done.rowcount == 0:
            s.execute(insert(m.users).values(user_id=user_id, **{"handle": "", "age_group": 0, **values}))

    def on_verified(self, s: Session, msg) -> str:
        """Create (or refresh) the profile of a user who passed verification."""
        self.upsert_user(s, msg.user_id, msg.handle, msg.owner_age_group)
        user = s.execute(select(m.users).where(m.users.c.user_id == msg.user_id)).one()
        age = msg.owner_age_group or user.age_group or common.AGE_GROUP_ADULT
        cap = effective_max_policy(age, user.max_cameo_policy)
        likeness = msg.likeness.SerializeToString()
        at = msg.occurred_at.ToDatetime(tzinfo=timezone.utc) if msg.HasField("occurred_at") else now()
        existing = s.execute(select(m.cameos).where(m.cameos.c.owner_user_id == msg.user_id).with_for_update()).first()
        if existing is None:
            cameo_id = new_id()
            s.execute(insert(m.cameos).values(
                id=cameo_id, owner_user_id=msg.user_id, owner_handle=msg.handle,
                display_name=msg.display_name or msg.handle, policy=ONLY_ME, status=ACTIVE, verified=True,
                owner_age_group=age, max_policy=cap, likeness=likeness, verification_id=msg.verification_id,
                revision=1, verified_at=at, created_at=now(), updated_at=now()))
            revision = 1
        else:
            cameo_id = existing.id
            # A re-verification after deletion starts closed again.
            policy = existing.policy if existing.status == ACTIVE else ONLY_ME
            revision = self._bump(s, cameo_id, owner_handle=msg.handle, display_name=msg.display_name or msg.handle,
                                  status=ACTIVE, verified=True, owner_age_group=age, max_policy=cap,
                                  policy=min(policy, cap), likeness=likeness, verification_id=msg.verification_id,
                                  verified_at=at)
        self._audit(s, cameo_id, pb.AUDIT_ACTION_CAMEO_CREATED, msg.user_id, revision,
                    verification_id=msg.verification_id, refreshed=existing is not None)
        row = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id)).one()
        emit(s, self.tables, CONSENT_TOPIC, ev.CameoCreated(cameo=cameo_message(row), likeness=msg.likeness,
                                                            occurred_at=ts(now())), "cameo", cameo_id)
        return cameo_id

    def on_user(self, s: Session, user, changed_at: datetime | None = None) -> None:
        """UserCreated/UserUpdated: handle, age group, verification withdrawn.

        `changed_at` is set only for UserUpdated: identity's topics are not
        ordered with each other, so a user event older than the verification
        must not undo it."""
        self.upsert_user(s, user.id, user.handle, user.age_group)
        row = s.execute(select(m.cameos).where(m.cameos.c.owner_user_id == user.id).with_for_update()).first()
        if row is None:
            return
        changes = {}
        if user.handle and user.handle != row.owner_handle:
            changes["owner_handle"] = user.handle
        if row.verified and not user.cameo_verified and changed_at is not None and changed_at > row.verified_at:
            changes["verified"] = False
        if user.age_group and user.age_group != row.owner_age_group:
            cap = effective_max_policy(user.age_group, s.execute(select(m.users.c.max_cameo_policy).where(
                m.users.c.user_id == user.id)).scalar())
            changes.update(owner_age_group=user.age_group, max_policy=cap, policy=min(row.policy, cap))
        if changes:
            revision = self._bump(s, row.id, **changes)
            if changes.get("verified") is False:
                self._audit(s, row.id, pb.AUDIT_ACTION_POLICY_CHANGED, "identity", revision,
                            change="verification withdrawn")

    def on_parental_controls(self, s: Session, teen_user_id: str, guardian_user_id: str, cap: int) -> None:
        self.upsert_user(s, teen_user_id, max_cameo_policy=cap, set_cap=True)
        row = s.execute(select(m.cameos).where(m.cameos.c.owner_user_id == teen_user_id).with_for_update()).first()
        if row is None:
            return
        age = row.owner_age_group
        new_cap = effective_max_policy(age, cap or None)
        new_policy = min(row.policy, new_cap)
        if new_cap == row.max_policy and new_policy == row.policy:
            return
        revision = self._bump(s, row.id, max_policy=new_cap, policy=new_policy)
        self._audit(s, row.id, pb.AUDIT_ACTION_POLICY_CHANGED, guardian_user_id or "identity", revision,
                    old_policy=row.policy, new_policy=new_policy, old_max=row.max_policy, new_max=new_cap,
                    cause="parental controls")
        if new_policy != row.policy:
            emit(s, self.tables, CONSENT_TOPIC, ev.PolicyChanged(
                cameo_id=row.id, owner_user_id=row.owner_user_id, old_policy=row.policy, new_policy=new_policy,
                revision=revision, occurred_at=ts(now())), "cameo", row.id)

    def on_user_block(self, s: Session, blocker: str, blocked: str, is_blocked: bool) -> None:
        ub = m.user_blocks
        s.execute(delete(ub).where(ub.c.blocker_id == blocker, ub.c.blocked_id == blocked))
        if is_blocked:
            s.execute(insert(ub).values(blocker_id=blocker, blocked_id=blocked, updated_at=now()))
        cameo = s.execute(select(m.cameos.c.id).where(m.cameos.c.owner_user_id == blocker).with_for_update()).first()
        if cameo is not None:
            revision = self._bump(s, cameo.id)
            self._audit(s, cameo.id, pb.AUDIT_ACTION_BLOCKED if is_blocked else pb.AUDIT_ACTION_UNBLOCKED, blocker,
                        revision, blocked, source="feed block")

    def on_follow(self, s: Session, follower: str, followee: str, following: bool) -> None:
        f = m.follows
        if following:
            done = s.execute(update(f).where(f.c.follower_id == follower, f.c.followee_id == followee)
                             .values(updated_at=now()))
            if done.rowcount == 0:
                s.execute(insert(f).values(follower_id=follower, followee_id=followee, updated_at=now()))
        else:
            s.execute(delete(f).where(f.c.follower_id == follower, f.c.followee_id == followee))

    # owner RPCs

    def update(self, s: Session, actor: str, cameo_id: str, display_name: str | None):
        row = self.lock_owned(s, actor, cameo_id)
        if display_name is not None:
            name = display_name.strip()
            if not name or len(name) > 100:
                raise InvalidArgument("the display name must be 1 to 100 characters", "invalid_display_name")
            s.execute(update(m.cameos).where(m.cameos.c.id == row.id).values(display_name=name, updated_at=now()))
        return self.get(s, row.id)

    def set_policy(self, s: Session, actor: str, cameo_id: str, policy: int):
        if policy not in POLICY_WORDS:
            raise InvalidArgument("choose a policy: only me, people I approve, mutuals or everyone", "invalid_policy")
        row = self.lock_owned(s, actor, cameo_id)
        if policy > row.max_policy:
            raise FailedPrecondition(f"your guardian allows at most \u201c{POLICY_WORDS[row.max_policy]}\u201d "
                                     f"for your cameo", "policy_above_guardian_cap")
        revision = self._bump(s, row.id, policy=policy)
        self._audit(s, row.id, pb.AUDIT_ACTION_POLICY_CHANGED, actor, revision, old_policy=row.policy,
                    new_policy=policy)
        emit(s, self.tables, CONSENT_TOPIC, ev.PolicyChanged(
            cameo_id=row.id, owner_user_id=actor, old_policy=row.policy, new_policy=policy, revision=revision,
            occurred_at=ts(now())), "cameo", row.id)
        return self.get(s, row.id)

    def _approval(self, s: Session, cameo_id: str, user_id: str):
        return s.execute(select(m.approvals).where(m.approvals.c.cameo_id == cameo_id,
                                                   m.approvals.c.user_id == user_id)).first()

    def _is_blocked(self, s: Session, cameo_id: str, user_id: str) -> bool:
        return s.execute(select(exists().where(m.blocks.c.cameo_id == cameo_id,
                                               m.blocks.c.user_id == user_id))).scalar()

    def _set_approval(self, s: Session, cameo_id: str, user_id: str, status: int, message: str | None = None,
                      decided: bool = True):
        a = m.approvals
        values = {"status": status, "decided_at": now() if decided else None}
        if message is not None:
            values["message"] = message
        if self._approval(s, cameo_id, user_id) is None:
            s.execute(insert(a).values(id=new_id(), cameo_id=cameo_id, user_id=user_id,
                                       user_handle=self.handle_of(s, user_id), requested_at=now(),
                                       **{"message": "", **values}))
        else:
            s.execute(update(a).where(a.c.cameo_id == cameo_id, a.c.user_id == user_id).values(**values))
        return self._approval(s, cameo_id, user_id)

    def request_approval(self, s: Session, actor: str, cameo_id: str, message: str):
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
        self._notify(s, row.owner_user_id, pb.NOTIFICATION_KIND_APPROVAL_REQUESTED, row.id,
                     f"@{handle or actor} asked to use your cameo" + (f": \u201c{message}\u201d" if message else ""),
                     actor, handle)
        return approval

    def _decide_approval(self, s: Session, actor: str, cameo_id: str, user_id: str, status: int, action: int):
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        if status == pb.APPROVAL_STATUS_APPROVED and self._is_blocked(s, row.id, user_id):
            raise FailedPrecondition("this person is blocked from your cameo; unblock them first", "user_blocked")
        approval = self._set_approval(s, row.id, user_id, status)
        revision = self._bump(s, row.id)
        self._audit(s, row.id, action, actor, revision, user_id)
        word = "approved" if status == pb.APPROVAL_STATUS_APPROVED else "declined"
        self._notify(s, user_id, pb.NOTIFICATION_KIND_APPROVAL_DECIDED, row.id,
                     f"@{row.owner_handle} {word} your request to use their cameo", actor, row.owner_handle)
        return approval, revision

    def approve(self, s, actor, cameo_id, user_id):
        return self._decide_approval(s, actor, cameo_id, user_id, pb.APPROVAL_STATUS_APPROVED, pb.AUDIT_ACTION_APPROVED)

    def deny(self, s, actor, cameo_id, user_id):
        return self._decide_approval(s, actor, cameo_id, user_id, pb.APPROVAL_STATUS_DENIED, pb.AUDIT_ACTION_DENIED)

    def remove_approval(self, s: Session, actor: str, cameo_id: str, user_id: str):
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        current = self._approval(s, row.id, user_id)
        if current is None or current.status not in (pb.APPROVAL_STATUS_APPROVED, pb.APPROVAL_STATUS_PENDING):
            raise NotFound("this person has no approval or pending request to remove", "approval_not_found")
        approval = self._set_approval(s, row.id, user_id, pb.APPROVAL_STATUS_REMOVED)
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_APPROVAL_REMOVED, actor, revision, user_id,
                    old_status=current.status)
        return approval, revision

    def block(self, s: Session, actor: str, cameo_id: str, user_id: str):
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        revision = self._block(s, row, actor, user_id)
        return s.execute(select(m.blocks).where(m.blocks.c.cameo_id == row.id, m.blocks.c.user_id == user_id)).one(), \
            revision

    def _block(self, s: Session, row, actor: str, user_id: str) -> int:
        if not self._is_blocked(s, row.id, user_id):
            s.execute(insert(m.blocks).values(cameo_id=row.id, user_id=user_id, user_handle=self.handle_of(s, user_id),
                                              blocked_at=now()))
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_BLOCKED, actor, revision, user_id)
        return revision

    def unblock(self, s: Session, actor: str, cameo_id: str, user_id: str) -> int:
        row = self.lock_owned(s, actor, cameo_id)
        user_id = self._target_user(s, actor, user_id)
        gone = s.execute(delete(m.blocks).where(m.blocks.c.cameo_id == row.id, m.blocks.c.user_id == user_id))
        if gone.rowcount == 0:
            raise NotFound("this person is not blocked", "not_blocked")
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_UNBLOCKED, actor, revision, user_id)
        return revision

    def add_restriction(self, s: Session, actor: str, cameo_id: str, text: str):
        text = (text or "").strip()
        if not text:
            raise InvalidArgument("the restriction is empty; write what you don't want, e.g. \u201cno horror\u201d",
                                  "empty_restriction")
        if len(text) > MAX_RESTRICTION_CHARS:
            raise InvalidArgument(f"the restriction is {len(text)} characters; the limit is {MAX_RESTRICTION_CHARS}",
                                  "restriction_too_long")
        try:
            parse_restriction(text)  # refuses restrictions that name no topic
        except ValueError as exc:
            raise InvalidArgument(str(exc), "invalid_restriction") from None
        row = self.lock_owned(s, actor, cameo_id)
        if row.restriction_count >= MAX_RESTRICTIONS:
            raise FailedPrecondition(f"a cameo can have at most {MAX_RESTRICTIONS} restrictions", "too_many_restrictions")
        rid = new_id()
        s.execute(insert(m.restrictions).values(id=rid, cameo_id=row.id, text=text, created_at=now()))
        revision = self._bump(s, row.id, restriction_count=m.cameos.c.restriction_count + 1)
        self._audit(s, row.id, pb.AUDIT_ACTION_RESTRICTION_ADDED, actor, revision, restriction_id=rid, text=text)
        return s.execute(select(m.restrictions).where(m.restrictions.c.id == rid)).one(), revision

    def remove_restriction(self, s: Session, actor: str, cameo_id: str, restriction_id: str) -> int:
        row = self.lock_owned(s, actor, cameo_id)
        rid = require_id(restriction_id, "restriction id")
        gone = s.execute(delete(m.restrictions).where(m.restrictions.c.id == rid, m.restrictions.c.cameo_id == row.id)
                         .returning(m.restrictions.c.text)).scalar()
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
            s.execute(insert(m.blocks).values(cameo_id=row.id, user_id=user_id, user_handle=self.handle_of(s, user_id),
                                              blocked_at=now()))
        revision = self._bump(s, row.id)
        self._audit(s, row.id, pb.AUDIT_ACTION_ACCESS_REVOKED, actor, revision, user_id, takedown=takedown)
        emit(s, self.tables, CONSENT_TOPIC, ev.AccessRevoked(
            cameo_id=row.id, owner_user_id=actor, user_id=user_id, takedown=takedown, revision=revision,
            occurred_at=ts(now())), "cameo", row.id)
        count = 0
        if takedown:
            targets = s.execute(select(m.appearances).where(
                m.appearances.c.cameo_id == row.id, m.appearances.c.creator_user_id == user_id,
                m.appearances.c.state == pb.APPEARANCE_STATE_ACTIVE).with_for_update()).all()
            count = self.takedown(s, row, actor, targets, ev.TAKEDOWN_CAUSE_ACCESS_REVOKED, revision)
        return revision, count

    def delete_cameo(self, s: Session, actor: str, cameo_id: str, takedown: bool) -> tuple[int, int]:
        row = self.lock_owned(s, actor, cameo_id)
        # The pointers to the face crops and voice profile go now; identity erases the
        # objects themselves when CameoDeleted reaches it.
        likeness = common.LikenessAssets().SerializeToString()
        revision = self._bump(s, row.id, status=DELETED, likeness=likeness)
        self._audit(s, row.id, pb.AUDIT_ACTION_CAMEO_DELETED, actor, revision, takedown=takedown)
        emit(s, self.tables, CONSENT_TOPIC, ev.CameoDeleted(
            cameo_id=row.id, owner_user_id=actor, takedown=takedown, revision=revision, occurred_at=ts(now()),
            verification_id=row.verification_id or ""), "cameo", row.id)
        count = 0
        if takedown:
            targets = s.execute(select(m.appearances).where(
                m.appearances.c.cameo_id == row.id,
                m.appearances.c.state == pb.APPEARANCE_STATE_ACTIVE).with_for_update()).all()
            count = self.takedown(s, row, actor, targets, ev.TAKEDOWN_CAUSE_CAMEO_DELETED, revision)
        return revision, count

    # takedowns

    def takedown(self, s: Session, cameo, actor: str, targets: list, cause: int, revision: int) -> int:
        """Mark appearances as takedown-requested and emit one TakedownRequested
        for their generations (generator deletes media) and one for their posts
        (feed hides them)."""
        if not targets:
            return 0
        takedown_id = new_id()
        s.execute(update(m.appearances).where(m.appearances.c.id.in_([t.id for t in targets]))
                  .values(state=pb.APPEARANCE_STATE_TAKEDOWN_REQUESTED, updated_at=now()))
        generations = sorted({t.generation_id for t in targets if t.generation_id})
        posts = sorted({t.post_id for t in targets if t.post_id})
        for kind, ids in ((ev.TAKEDOWN_TARGET_KIND_GENERATION, generations), (ev.TAKEDOWN_TARGET_KIND_POST, posts)):
            if ids:
                emit(s, self.tables, TAKEDOWN_TOPIC, ev.TakedownRequested(
                    takedown_id=takedown_id, cameo_id=cameo.id, owner_user_id=cameo.owner_user_id, target_kind=kind,
                    target_ids=ids, cause=cause, occurred_at=ts(now())), "cameo", cameo.id)
        TAKEDOWNS.labels(ev.TakedownCause.Name(cause)).inc(len(targets))
        self._audit(s, cameo.id, pb.AUDIT_ACTION_TAKEDOWN_REQUESTED, actor, revision, takedown_id=takedown_id,
                    cause=ev.TakedownCause.Name(cause), generation_ids=generations, post_ids=posts)
        return len(targets)

    def delete_appearance(self, s: Session, actor: str, appearance_id: str):
        aid = require_id(appearance_id, "appearance id")
        found = s.execute(select(m.appearances).where(m.appearances.c.id == aid).with_for_update()).first()
        if found is None:
            raise NotFound("there is no appearance with this id", "appearance_not_found")
        cameo = self.lock_owned(s, actor, found.cameo_id, allow_deleted=True)
        if found.state == pb.APPEARANCE_STATE_ACTIVE:
            self.takedown(s, cameo, actor, [found], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED, cameo.revision)
        return s.execute(select(m.appearances).where(m.appearances.c.id == aid)).one()


# -- appearance index (generator and feed events) ------------------------------------

class AppearanceIndex:
    """Every generation, draft and post containing a cameo, built from events."""

    def __init__(self, cameos: Cameos):
        self.cameos = cameos

    def _find(self, s: Session, cameo_id: str, generation_id: str):
        return s.execute(select(m.appearances).where(m.appearances.c.cameo_id == cameo_id,
                                                     m.appearances.c.generation_id == generation_id)
                         .with_for_update()).first()

    def record(self, s: Session, cameo_ids, generation_id: str, creator: str, prompt: str, kind: int,
               post_id: str = "", notify: bool = True) -> None:
        for cameo_id in cameo_ids:
            cameo = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id).with_for_update()).first()
            if cameo is None:
                continue  # not a cameo we know (ids are validated by CheckUse upstream)
            row = self._find(s, cameo_id, generation_id)
            if row is None:
                handle = self.cameos.handle_of(s, creator)
                aid = new_id()
                s.execute(insert(m.appearances).values(
                    id=aid, cameo_id=cameo_id, kind=kind, state=pb.APPEARANCE_STATE_ACTIVE,
                    generation_id=generation_id, post_id=post_id, creator_user_id=creator, creator_handle=handle,
                    prompt=prompt, created_at=now(), updated_at=now()))
                if creator != cameo.owner_user_id and notify:
                    self._notify_use(s, cameo, creator, handle, generation_id, post_id, kind)
                self._enforce(s, cameo, creator, aid)
            else:
                values = {"updated_at": now()}
                if prompt and not row.prompt:
                    values["prompt"] = prompt
                # A post outranks a draft, a draft outranks a running generation.
                if kind > row.kind:
                    values["kind"] = kind
                if post_id:
                    values["post_id"] = post_id
                s.execute(update(m.appearances).where(m.appearances.c.id == row.id).values(**values))
                if kind == pb.APPEARANCE_KIND_POST and row.kind != pb.APPEARANCE_KIND_POST \
                        and creator != cameo.owner_user_id:
                    self._notify_use(s, cameo, creator, row.creator_handle, generation_id, post_id, kind)
                if row.state == pb.APPEARANCE_STATE_TAKEDOWN_REQUESTED and post_id:
                    # Published after the takedown was requested: take the post down too.
                    post_only = SimpleNamespace(id=row.id, generation_id="", post_id=post_id)
                    self.cameos.takedown(s, cameo, "system", [post_only], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED,
                                         cameo.revision)

    def _notify_use(self, s: Session, cameo, creator: str, handle: str, generation_id: str, post_id: str, kind: int):
        posted = kind == pb.APPEARANCE_KIND_POST
        who = f"@{handle}" if handle else "Someone"
        self.cameos._notify(s, cameo.owner_user_id,
                            pb.NOTIFICATION_KIND_CAMEO_POSTED if posted else pb.NOTIFICATION_KIND_CAMEO_USED, cameo.id,
                            f"{who} {'posted a video with' if posted else 'made a video with'} your cameo",
                            creator, handle, generation_id, post_id)
        if not posted:
            emit(s, self.cameos.tables, NOTIFICATION_TOPIC, ev.CameoUsed(
                cameo_id=cameo.id, owner_user_id=cameo.owner_user_id, user_id=creator, user_handle=handle,
                generation_id=generation_id, purpose=pb.USE_PURPOSE_GENERATE, occurred_at=ts(now())),
                "cameo", cameo.id)

    def _enforce(self, s: Session, cameo, creator: str, appearance_id: str) -> None:
        """Safety net for check-then-act: a generation created after its
        creator lost access (revoked between CheckUse and job creation) is
        taken down as soon as it is indexed."""
        if creator == cameo.owner_user_id:
            return
        decisions, _ = ConsentChecker(None).read(s, creator, [cameo.id])
        if not decisions[0].allowed:
            row = s.execute(select(m.appearances).where(m.appearances.c.id == appearance_id)).one()
            self.cameos.takedown(s, cameo, "system", [row], ev.TAKEDOWN_CAUSE_ACCESS_REVOKED, cameo.revision)

    def set_state_for_generation(self, s: Session, generation_id: str, state: int) -> None:
        s.execute(update(m.appearances).where(m.appearances.c.generation_id == generation_id)
                  .values(state=state, updated_at=now()))

    def post_removed(self, s: Session, generation_id: str) -> None:
        # The video is a draft again (or gone, which the generator reports separately).
        s.execute(update(m.appearances).where(m.appearances.c.generation_id == generation_id,
                                              m.appearances.c.kind == pb.APPEARANCE_KIND_POST)
                  .values(kind=pb.APPEARANCE_KIND_DRAFT, updated_at=now()))


# -- queries ------------------------------------------------------------------------

def usable_filter(requester: str, requester_teen: bool):
    """SQL form of policy.decide (without restrictions) for ListCameos."""
    c, b, a, f, ub = m.cameos, m.blocks, m.approvals, m.follows, m.user_blocks
    f2 = f.alias("f2")
    policy = c.c.policy  # stored policy is always clamped to the cap
    approved = exists().where(a.c.cameo_id == c.c.id, a.c.user_id == requester,
                              a.c.status == pb.APPROVAL_STATUS_APPROVED)
    mutual = and_(exists().where(f.c.follower_id == c.c.owner_user_id, f.c.followee_id == requester),
                  exists().where(f2.c.follower_id == requester, f2.c.followee_id == c.c.owner_user_id))
    everyone = policy >= EVERYONE
    if not requester_teen:
        everyone = and_(everyone, c.c.owner_age_group != TEEN)
    return and_(c.c.status == ACTIVE, c.c.verified, or_(
        c.c.owner_user_id == requester,
        and_(~exists().where(b.c.cameo_id == c.c.id, b.c.user_id == requester),
             ~exists().where(ub.c.blocker_id == c.c.owner_user_id, ub.c.blocked_id == requester),
             or_(and_(policy >= APPROVED, approved), and_(policy >= MUTUALS, mutual), everyone))))

