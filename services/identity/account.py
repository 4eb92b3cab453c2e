"""The account's own lifecycle: password change and deletion. Both ask for the
password again (counted like sign-ins, per account, so a stolen access token
cannot guess it either), and both end sessions through the deny list that
ListRevokedSessions serves, so access tokens stop within 30 s.

Deletion erases identity's own data in one transaction (account row, password
hash, sessions and refresh tokens, API keys and their webhooks, guardian links,
parental controls, verifications with their likeness blobs and enrolled faces,
invites' links to the person, sign-in counters, the user's own published
events) and emits UserDeleted, on which every other service erases what it
holds. Kept: the ids of the ended sessions and keys (random, for the deny list)
and a SHA-256 of the handle, which is retired for good."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import argon2
from sqlalchemy import CursorResult, Row, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from kinora.identity.v1 import events_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import InvalidArgument, PermissionDenied, ResourceExhausted
from services.identity.blobs import BlobStore
from services.identity.core import now_utc, sha256_hex
from services.identity.domain import Identity
from services.identity.erasure import likeness_folder
from services.identity.models import (
    api_keys,
    ended_credentials,
    face_embeddings,
    guardian_links,
    invites,
    parental_controls,
    refresh_tokens,
    retired_handles,
    sessions,
    signin_failures,
    users,
    verifications,
)
from services.identity.topics import USER_AGGREGATE
from services.identity.validation import check_password

log = logging.getLogger("kinora.identity.account")


class Accounts:
    def __init__(self, identity: Identity, blobs: BlobStore):
        self.identity, self.blobs = identity, blobs
        self.sessions, self.settings = identity.sessions, identity.settings

    def _reauthenticate(self, caller: Principal, password: str) -> Row[Any]:
        """The caller's account row if `password` is theirs. Wrong passwords are counted per
        account like sign-in failures, and back off the same way."""
        if caller.kind != "user":
            raise PermissionDenied("sign in as a person to do this, not with an API key", "user_required")
        ident, now = self.identity.core, now_utc()
        limit = self.settings.signin_max_failures_account
        window = timedelta(seconds=self.settings.signin_window_s)
        subject = f"reauth:{caller.subject}"

        def backoff(failures: int) -> timedelta:
            return min(window, timedelta(seconds=self.settings.signin_backoff_s * 2 ** min(failures - limit, 20)))

        with transaction(self.sessions) as s:  # a refusal rolls its counting back
            if not ident.count_attempt(s, subject, limit, now, backoff):
                minutes = max(1, self.settings.signin_window_s // 60)
                raise ResourceExhausted(
                    f"too many wrong passwords; wait up to {minutes} minutes and try again", "password_rate_limited"
                )
            user = ident.user(s, caller.subject)
        ok: bool
        try:
            ok = ident.hasher.verify(user.password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            ok = False
        if not ok:
            raise PermissionDenied("the password is not right", "wrong_password")
        with transaction(self.sessions) as s:
            s.execute(delete(signin_failures).where(signin_failures.c.subject == subject))
        return user

    def change_password(self, caller: Principal, current: str, new: str) -> int:
        """Sets a new password and ends every other session; returns how many were ended."""
        if not current or not new:
            raise InvalidArgument("current_password and new_password are required", "password_required")
        check_password(new)
        if new == current:
            raise InvalidArgument("the new password must differ from the current one", "same_password")
        self._reauthenticate(caller, current)
        new_hash = self.identity.hasher.hash(new)  # slow: outside the transaction
        now = now_utc()
        with transaction(self.sessions) as s:
            s.execute(update(users).where(users.c.id == caller.subject).values(password_hash=new_hash, updated_at=now))
            others = [sessions.c.user_id == caller.subject, sessions.c.revoked_at.is_(None)]
            if caller.session_id:
                others.append(sessions.c.id != caller.session_id)
            ended = cast(
                CursorResult[Any],
                s.execute(update(sessions).where(*others).values(revoked_at=now, revoke_reason="password_change")),
            )
        log.info("user %s changed their password; %d other session(s) ended", caller.subject, ended.rowcount)
        return ended.rowcount

    def delete_account(self, caller: Principal, password: str) -> datetime:
        if not password:
            raise InvalidArgument("password is required to delete the account", "password_required")
        self._reauthenticate(caller, password)
        now, user_id = now_utc(), caller.subject
        with transaction(self.sessions) as s:
            user = self.identity.core.user(s, user_id, lock=True)
            self._end_credentials(s, user_id, now)
            self._end_guardianship(s, user_id, now)
            self._erase_likeness(s, user_id)
            s.execute(
                delete(invites).where(invites.c.created_by_user_id == user_id, invites.c.used_by_user_id.is_(None))
            )
            s.execute(update(invites).where(invites.c.created_by_user_id == user_id).values(created_by_user_id=None))
            s.execute(update(invites).where(invites.c.used_by_user_id == user_id).values(used_by_user_id=None))
            s.execute(update(users).where(users.c.invited_by_user_id == user_id).values(invited_by_user_id=None))
            f = signin_failures.c.subject
            s.execute(
                delete(signin_failures).where(
                    or_(f.startswith(f"handle:{user.handle}@", autoescape=True), f == f"reauth:{user_id}")
                )
            )
            s.execute(
                pg_insert(retired_handles)
                .values(handle_hash=sha256_hex(user.handle), retired_at=now)
                .on_conflict_do_nothing()
            )
            # Its own events already published carry its handle and name; unpublished ones still go out.
            outbox = self.identity.tables.outbox.c
            s.execute(
                delete(self.identity.tables.outbox).where(
                    outbox.aggregate_type == USER_AGGREGATE,
                    outbox.aggregate_id == user_id,
                    outbox.published_at.is_not(None),
                )
            )
            s.execute(delete(users).where(users.c.id == user_id))
            event = events_pb2.UserDeleted(user_id=user_id, anonymous_id=str(uuid.uuid4()))
            set_timestamp(event.occurred_at, now)
            self.identity.core.emit_user(s, event, user_id)
        log.info("user %s deleted their account", user_id)
        return now

    def _end_credentials(self, s: Session, user_id: str, now: datetime) -> None:
        """Sessions and API keys go; their ids stay on the deny list until their tokens expire."""
        ids = [
            *s.execute(select(sessions.c.id).where(sessions.c.user_id == user_id)).scalars(),
            *s.execute(select(api_keys.c.id).where(api_keys.c.user_id == user_id)).scalars(),
        ]
        if ids:
            s.execute(
                pg_insert(ended_credentials).values([{"id": i, "ended_at": now} for i in ids]).on_conflict_do_nothing()
            )
        mine = select(sessions.c.id).where(sessions.c.user_id == user_id)
        s.execute(delete(refresh_tokens).where(refresh_tokens.c.session_id.in_(mine)))
        s.execute(delete(sessions).where(sessions.c.user_id == user_id))
        s.execute(delete(api_keys).where(api_keys.c.user_id == user_id))

    def _end_guardianship(self, s: Session, user_id: str, now: datetime) -> None:
        g = guardian_links.c
        linked = or_(g.guardian_user_id == user_id, g.teen_user_id == user_id, g.started_by_user_id == user_id)
        for link in s.execute(select(guardian_links).where(linked, g.status == "active")).all():
            # How the other side hears of it (notifications); feed and cameo keep the teen's controls.
            event = events_pb2.GuardianUnlinked(
                link_id=link.id,
                guardian_user_id=link.guardian_user_id,
                teen_user_id=link.teen_user_id,
                unlinked_by_user_id=user_id,
                reason="account deleted",
            )
            set_timestamp(event.occurred_at, now)
            self.identity.core.emit_user(s, event, link.teen_user_id)
        s.execute(delete(guardian_links).where(linked))
        s.execute(update(guardian_links).where(g.approver_user_id == user_id).values(approver_user_id=None))
        s.execute(update(guardian_links).where(g.unlinked_by_user_id == user_id).values(unlinked_by_user_id=None))
        s.execute(delete(parental_controls).where(parental_controls.c.teen_user_id == user_id))
        s.execute(
            update(parental_controls)
            .where(parental_controls.c.updated_by_user_id == user_id)
            .values(updated_by_user_id=None)
        )

    def _erase_likeness(self, s: Session, user_id: str) -> None:
        """Verifications (challenges, results, likeness pointers), enrolled faces and the blob folder.
        Files go before the commit: a failure rolls the rows back and the caller can try again."""
        ids = list(
            s.execute(select(verifications.c.id).where(verifications.c.user_id == user_id).with_for_update()).scalars()
        )
        s.execute(delete(face_embeddings).where(face_embeddings.c.user_id == user_id))
        s.execute(delete(verifications).where(verifications.c.user_id == user_id))
        for verification_id in ids:
            self.blobs.delete_folder(likeness_folder(user_id, verification_id))
        self.blobs.delete_folder(f"likeness/{user_id}")
