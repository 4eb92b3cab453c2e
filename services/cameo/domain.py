"""Cameo domain: profiles and consent state (policy, approvals, blocks,
restrictions, revokes, deletion), takedowns and notifications. Plain classes
over SQLAlchemy sessions; no gRPC or Kafka here (events go to the outbox in the
caller's transaction, on the topics declared in topics.py).

`Cameos` is the public front the server, the event handlers and the other rooms
call; each rule lives in its room (docs/cameo.md, "Where each concept lives"):

- core.py (CameoCore): the audit log, notifications, the owner's lock and the
  revision bump every room uses;
- lifecycle.py: a person's cameo made on verification, kept in step with
  identity's user events and a guardian's cap, renamed, deleted;
- permissions.py: policy, approvals, blocks, restrictions, revoked access, and
  the feed's blocks and follows;
- takedowns.py: takedowns of a cameo's appearances, an appearance deleted.

Consistency ("new enemy"): every change to consent state bumps the cameo's
`revision` in the same transaction, under the cameo's row lock, and commits
before the RPC returns; the consent check (consent.py) reads it with no cache.
Reads live in queries.py, the appearance index in appearances.py.
See docs/cameo.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.events import EventTables
from services.cameo import models as m
from services.cameo.core import CameoCore
from services.cameo.lifecycle import Lifecycle
from services.cameo.permissions import Permissions
from services.cameo.takedowns import Takedowns


class Cameos:
    """Mutations of consent state. Each method runs inside the caller's
    transaction and bumps the cameo revision when consent changes; it hands
    over to the room that owns it."""

    def __init__(self, tables: EventTables = m.tables) -> None:
        self.tables = tables
        self.core = CameoCore(tables)
        self.takedowns = Takedowns(self.core)
        self.lifecycle = Lifecycle(self.core, self.takedowns)
        self.permissions = Permissions(self.core, self.takedowns)

    # shared helpers (core.py): appearances.py and characters.py call these too

    def _audit(
        self, s: Session, cameo_id: str, action: int, actor: str, revision: int, subject: str = "", **detail: Any
    ) -> None:
        self.core.audit(s, cameo_id, action, actor, revision, subject, **detail)

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
        self.core.notify(s, user_id, kind, cameo_id, message, actor, actor_handle, generation_id, post_id)

    @staticmethod
    def handle_of(s: Session, user_id: str) -> str:
        return CameoCore.handle_of(s, user_id)

    @staticmethod
    def get(s: Session, cameo_id: str) -> Row[Any]:
        return CameoCore.get(s, cameo_id)

    def lock_owned(self, s: Session, actor: str, cameo_id: str, *, allow_deleted: bool = False) -> Row[Any]:
        return self.core.lock_owned(s, actor, cameo_id, allow_deleted=allow_deleted)

    # identity events, renaming and deletion (lifecycle.py)

    def upsert_user(
        self,
        s: Session,
        user_id: str,
        handle: str | None = None,
        age_group: int | None = None,
        max_cameo_policy: int | None = None,
        set_cap: bool = False,
    ) -> None:
        self.lifecycle.upsert_user(s, user_id, handle, age_group, max_cameo_policy, set_cap)

    def on_verified(self, s: Session, msg: Any) -> str:
        return self.lifecycle.on_verified(s, msg)

    def on_user(self, s: Session, user: Any, changed_at: datetime | None = None) -> None:
        self.lifecycle.on_user(s, user, changed_at)

    def on_parental_controls(self, s: Session, teen_user_id: str, guardian_user_id: str, cap: int) -> None:
        self.lifecycle.on_parental_controls(s, teen_user_id, guardian_user_id, cap)

    def update(self, s: Session, actor: str, cameo_id: str, display_name: str | None) -> Row[Any]:
        return self.lifecycle.update(s, actor, cameo_id, display_name)

    def delete_cameo(self, s: Session, actor: str, cameo_id: str, takedown: bool) -> tuple[int, int]:
        return self.lifecycle.delete_cameo(s, actor, cameo_id, takedown)

    # who may use the cameo (permissions.py)

    def on_user_block(self, s: Session, blocker: str, blocked: str, is_blocked: bool) -> None:
        self.permissions.on_user_block(s, blocker, blocked, is_blocked)

    def on_follow(self, s: Session, follower: str, followee: str, following: bool) -> None:
        self.permissions.on_follow(s, follower, followee, following)

    def set_policy(self, s: Session, actor: str, cameo_id: str, policy: common.CameoPolicy) -> Row[Any]:
        return self.permissions.set_policy(s, actor, cameo_id, policy)

    def request_approval(self, s: Session, actor: str, cameo_id: str, message: str) -> Row[Any] | None:
        return self.permissions.request_approval(s, actor, cameo_id, message)

    def approve(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any] | None, int]:
        return self.permissions.approve(s, actor, cameo_id, user_id)

    def deny(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any] | None, int]:
        return self.permissions.deny(s, actor, cameo_id, user_id)

    def remove_approval(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any] | None, int]:
        return self.permissions.remove_approval(s, actor, cameo_id, user_id)

    def block(self, s: Session, actor: str, cameo_id: str, user_id: str) -> tuple[Row[Any], int]:
        return self.permissions.block(s, actor, cameo_id, user_id)

    def unblock(self, s: Session, actor: str, cameo_id: str, user_id: str) -> int:
        return self.permissions.unblock(s, actor, cameo_id, user_id)

    def add_restriction(self, s: Session, actor: str, cameo_id: str, text: str) -> tuple[Row[Any], int]:
        return self.permissions.add_restriction(s, actor, cameo_id, text)

    def remove_restriction(self, s: Session, actor: str, cameo_id: str, restriction_id: str) -> int:
        return self.permissions.remove_restriction(s, actor, cameo_id, restriction_id)

    def revoke_access(self, s: Session, actor: str, cameo_id: str, user_id: str, takedown: bool) -> tuple[int, int]:
        return self.permissions.revoke_access(s, actor, cameo_id, user_id, takedown)

    # notifications (core.py)

    @staticmethod
    def mark_notifications_read(s: Session, user_id: str, notification_ids: Iterable[str]) -> int:
        return CameoCore.mark_notifications_read(s, user_id, notification_ids)

    # takedowns (takedowns.py)

    def takedown(
        self, s: Session, cameo: Any, actor: str, targets: Sequence[Any], cause: ev.TakedownCause, revision: int
    ) -> int:
        return self.takedowns.takedown(s, cameo, actor, targets, cause, revision)

    def delete_appearance(self, s: Session, actor: str, appearance_id: str) -> Row[Any]:
        return self.takedowns.delete_appearance(s, actor, appearance_id)
