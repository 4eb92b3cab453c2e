"""Guardian links between an adult and a teen account: one side starts a link
and gets a short code, the other confirms it; a teen who had a guardian needs
that guardian's approval for a new one. An active link ends only by its
guardian or by support (with a reason). Linking and unlinking emit
GuardianLinked / GuardianUnlinked and the teen's UserUpdated."""

from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session

from kinora.identity.v1 import events_pb2, identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.identity.core import IdentityCore, now_utc, sha256_hex
from services.identity.models import guardian_links
from services.identity.validation import INVITE_ALPHABET, normalise_invite

log = logging.getLogger("kinora.identity")

LINK_STATUS = {
    "pending": identity_pb2.GUARDIAN_LINK_STATUS_PENDING,
    "active": identity_pb2.GUARDIAN_LINK_STATUS_ACTIVE,
    "awaiting": identity_pb2.GUARDIAN_LINK_STATUS_AWAITING_APPROVAL,
    "unlinked": identity_pb2.GUARDIAN_LINK_STATUS_UNLINKED,
    "expired": identity_pb2.GUARDIAN_LINK_STATUS_EXPIRED,
}


def link_proto(row: Row[Any]) -> identity_pb2.GuardianLink:
    msg = identity_pb2.GuardianLink(
        id=row.id,
        guardian_user_id=row.guardian_user_id or "",
        teen_user_id=row.teen_user_id or "",
        status=LINK_STATUS[row.status],
        unlinked_by_user_id=row.unlinked_by_user_id or "",
        approver_user_id=row.approver_user_id or "",
    )
    for field in ("created_at", "confirmed_at", "unlinked_at"):
        set_timestamp(getattr(msg, field), getattr(row, field))
    return msg


class GuardianLinks:
    def __init__(self, core: IdentityCore):
        self.core, self.sessions, self.settings = core, core.sessions, core.settings

    def start_guardian_link(self, caller: Principal, role: int) -> tuple[identity_pb2.GuardianLink, str, datetime]:
        if caller.kind != "user":
            raise PermissionDenied("sign in as a person to link accounts", "user_required")
        if role not in (identity_pb2.GUARDIAN_ROLE_GUARDIAN, identity_pb2.GUARDIAN_ROLE_TEEN):
            raise InvalidArgument("role must be GUARDIAN or TEEN: your side of the link", "invalid_role")
        now = now_utc()
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
        expires = now + timedelta(seconds=self.settings.guardian_code_ttl_s)
        link_id = str(uuid.uuid4())
        with transaction(self.sessions) as s:
            user = self.core.user(s, caller.subject)
            as_guardian = role == identity_pb2.GUARDIAN_ROLE_GUARDIAN
            if as_guardian and user.age_group != "adult":
                raise FailedPrecondition("only adult accounts can be guardians", "guardian_must_be_adult")
            if not as_guardian and user.age_group != "teen":
                raise FailedPrecondition("only teen accounts can link to a guardian as the teen", "not_a_teen")
            s.execute(
                guardian_links.insert().values(
                    id=link_id,
                    guardian_user_id=user.id if as_guardian else None,
                    teen_user_id=None if as_guardian else user.id,
                    started_by_user_id=user.id,
                    status="pending",
                    code_hash=sha256_hex(code),
                    code_expires_at=expires,
                    created_at=now,
                )
            )
            row = s.execute(select(guardian_links).where(guardian_links.c.id == link_id)).one()
        return link_proto(row), code, expires

    def confirm_guardian_link(self, caller: Principal, code_raw: str) -> identity_pb2.GuardianLink:
        code = normalise_invite(code_raw)
        if not code:
            raise InvalidArgument("code is required", "code_required")
        if caller.kind != "user":
            raise PermissionDenied("sign in as a person to link accounts", "user_required")
        now = now_utc()
        with transaction(self.sessions) as s:
            link = s.execute(
                select(guardian_links).where(guardian_links.c.code_hash == sha256_hex(code)).with_for_update()
            ).first()
            if link is None or link.status != "pending":
                raise NotFound("that link code is not valid or was already used", "invalid_link_code")
            if link.code_expires_at <= now:
                raise FailedPrecondition("that link code has expired; start a new link", "link_code_expired")
            if link.started_by_user_id == caller.subject:
                raise FailedPrecondition("the other person must confirm the link", "confirm_own_link")
            user = self.core.user(s, caller.subject)
            guardian_id, teen_id = link.guardian_user_id, link.teen_user_id
            if guardian_id is None:  # the teen started; the caller is the guardian
                if user.age_group != "adult":
                    raise FailedPrecondition("only adult accounts can be guardians", "guardian_must_be_adult")
                guardian_id = user.id
            else:
                if user.age_group != "teen":
                    raise FailedPrecondition(
                        "this code links a teen account; sign in as the teen to confirm it", "not_a_teen"
                    )
                teen_id = user.id
            self.core.user(s, teen_id, lock=True)  # one guardian per teen, even under concurrent confirms
            if self.core.active_guardian(s, teen_id) == guardian_id:
                raise FailedPrecondition("you are already linked to each other", "already_linked")
            s.execute(
                update(guardian_links)
                .where(guardian_links.c.id == link.id)
                .values(guardian_user_id=guardian_id, teen_user_id=teen_id, code_hash=None)
            )
            approver = self._approver(s, teen_id, guardian_id)
            if approver:  # the teen had a guardian: that guardian decides (approve_guardian_link)
                s.execute(
                    update(guardian_links)
                    .where(guardian_links.c.id == link.id)
                    .values(status="awaiting", approver_user_id=approver)
                )
            else:
                self._activate(s, link.id, guardian_id, teen_id, now)
            return link_proto(s.execute(select(guardian_links).where(guardian_links.c.id == link.id)).one())

    def _approver(self, s: Session, teen_id: str, new_guardian: str) -> str | None:
        """Who must approve a new guardian for this teen: the current guardian, or else the last one
        (unless support ended that link); None when nobody was the teen's guardian before."""
        current = self.core.active_guardian(s, teen_id)
        if current:
            return current
        last = s.execute(
            select(guardian_links.c.guardian_user_id, guardian_links.c.unlinked_by_user_id)
            .where(
                guardian_links.c.teen_user_id == teen_id,
                guardian_links.c.status == "unlinked",
                guardian_links.c.confirmed_at.is_not(None),
            )
            .order_by(guardian_links.c.unlinked_at.desc())
            .limit(1)
        ).first()
        if (
            last is None
            or (last.unlinked_by_user_id or "").startswith("service:")
            or last.guardian_user_id == new_guardian
        ):
            return None
        guardian: str | None = last.guardian_user_id
        return guardian

    def _activate(self, s: Session, link_id: str, guardian_id: str, teen_id: str, now: datetime) -> None:
        s.execute(
            update(guardian_links)
            .where(guardian_links.c.id == link_id)
            .values(status="active", confirmed_at=now, approver_user_id=None)
        )
        event = events_pb2.GuardianLinked(link_id=link_id, guardian_user_id=guardian_id, teen_user_id=teen_id)
        set_timestamp(event.occurred_at, now)
        self.core.emit_user(s, event, teen_id)
        self.core.user_updated(s, teen_id)

    def _end_link(self, s: Session, link: Row[Any], by: str, now: datetime, reason: str = "") -> None:
        s.execute(
            update(guardian_links)
            .where(guardian_links.c.id == link.id)
            .values(
                status="unlinked", code_hash=None, unlinked_at=now, unlinked_by_user_id=by, unlink_reason=reason or None
            )
        )
        if link.status == "active":
            # The event is how the guardian hears of it (notifications consume it), and the audit
            # record of a support unlink.
            event = events_pb2.GuardianUnlinked(
                link_id=link.id,
                guardian_user_id=link.guardian_user_id,
                teen_user_id=link.teen_user_id,
                unlinked_by_user_id=by,
                reason=reason,
            )
            set_timestamp(event.occurred_at, now)
            self.core.emit_user(s, event, link.teen_user_id)
            self.core.user_updated(s, link.teen_user_id)

    def approve_guardian_link(self, caller: Principal, link_id: str) -> identity_pb2.GuardianLink:
        """The teen's current or previous guardian approves a new link; a current one is replaced."""
        if not link_id:
            raise InvalidArgument("link_id is required", "link_id_required")
        now = now_utc()
        with transaction(self.sessions) as s:
            link = s.execute(select(guardian_links).where(guardian_links.c.id == link_id).with_for_update()).first()
            if link is None or caller.subject not in (link.guardian_user_id, link.teen_user_id, link.approver_user_id):
                raise NotFound("you have no guardian link with that id", "link_not_found")
            if link.status != "awaiting":
                raise FailedPrecondition("that link is not waiting for an approval", "link_not_awaiting")
            self.core.user(s, link.teen_user_id, lock=True)
            approver = self._approver(s, link.teen_user_id, link.guardian_user_id)
            if caller.subject != approver:
                raise PermissionDenied(
                    "only the teen's current or previous guardian can approve a new guardian", "approver_only"
                )
            current = s.execute(
                select(guardian_links).where(
                    guardian_links.c.teen_user_id == link.teen_user_id, guardian_links.c.status == "active"
                )
            ).first()
            if current is not None:
                self._end_link(s, current, caller.subject, now)
            self._activate(s, link_id, link.guardian_user_id, link.teen_user_id, now)
            return link_proto(s.execute(select(guardian_links).where(guardian_links.c.id == link_id)).one())

    def unlink_guardian(self, caller: Principal, link_id: str, reason: str = "") -> identity_pb2.GuardianLink:
        """An active link ends only by its guardian, or by support (the admin service) giving a
        reason; a link not yet active may be withdrawn by anyone in it."""
        if not link_id:
            raise InvalidArgument("link_id is required", "link_id_required")
        support = caller.is_service
        reason = reason.strip()
        if support and not reason:
            raise InvalidArgument(
                "support must give the reason for unlinking; it is kept with the link", "reason_required"
            )
        if len(reason) > 500:
            raise InvalidArgument("the reason is at most 500 characters", "invalid_reason")
        now = now_utc()
        with transaction(self.sessions) as s:
            link = s.execute(select(guardian_links).where(guardian_links.c.id == link_id).with_for_update()).first()
            if (
                link is None
                or not support
                and caller.subject not in (link.guardian_user_id, link.teen_user_id, link.approver_user_id)
            ):
                raise NotFound("you have no guardian link with that id", "link_not_found")
            if link.status not in ("active", "pending", "awaiting"):
                raise FailedPrecondition(f"the link is already {link.status}", "link_not_active")
            if link.status == "active" and not support and caller.subject != link.guardian_user_id:
                raise PermissionDenied("only your guardian can end this link", "guardian_only")
            if support:
                log.warning(
                    "support unlinked guardian link %s (teen %s, guardian %s) as %s: %s",
                    link_id,
                    link.teen_user_id,
                    link.guardian_user_id,
                    caller.subject,
                    reason,
                )
            self._end_link(s, link, caller.subject, now, reason if support else "")
            return link_proto(s.execute(select(guardian_links).where(guardian_links.c.id == link_id)).one())

    def list_guardian_links(self, caller: Principal) -> list[identity_pb2.GuardianLink]:
        with self.sessions() as s:
            rows = s.execute(
                select(guardian_links)
                .where(
                    or_(
                        guardian_links.c.guardian_user_id == caller.subject,
                        guardian_links.c.teen_user_id == caller.subject,
                        guardian_links.c.approver_user_id == caller.subject,
                    )
                )
                .order_by(guardian_links.c.created_at.desc())
            ).all()
        now = now_utc()
        out = []
        for row in rows:
            link = link_proto(row)
            if row.status == "pending" and row.code_expires_at <= now:
                link.status = identity_pb2.GUARDIAN_LINK_STATUS_EXPIRED
            out.append(link)
        return out
