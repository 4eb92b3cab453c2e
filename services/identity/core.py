"""What every identity room shares (IdentityCore): the database, the event
tables, the settings, the signing keys and the password hasher, and the few
rules all of them apply: loading a user and showing it to a viewer, the
user's events, the guardian and invite counts a user's view shows, sign-in
attempt counting (sign-in and re-authentication), access-token minting
(sessions and API keys) and keyset paging (invites and API keys)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import argon2
from google.protobuf.message import Message
from sqlalchemy import Column, ColumnElement, Row, Table, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import events_pb2, identity_pb2
from kinora.runtime.auth import Principal, mint_access_token
from kinora.runtime.convert import set_timestamp
from kinora.runtime.errors import NotFound
from kinora.runtime.events import EventTables, emit
from kinora.runtime.paging import PageTokens, page_size
from services.identity.keys import KeyRing
from services.identity.models import guardian_links, invites, signin_failures, users
from services.identity.settings import IdentitySettings
from services.identity.topics import USER_AGGREGATE, USERS_TOPIC

DEFAULT_PAGE, MAX_PAGE = 50, 200
_PAGE_TOKENS = PageTokens()  # (created_at, key) of the last row a page showed
T = TypeVar("T")


def now_utc() -> datetime:
    return datetime.now(UTC)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def page_size_of(page: common_pb2.PageRequest) -> int:
    return page_size(page.page_size, DEFAULT_PAGE, MAX_PAGE)


AGE_GROUPS = {"adult": common_pb2.AGE_GROUP_ADULT, "teen": common_pb2.AGE_GROUP_TEEN}


class IdentityCore:
    def __init__(
        self, sessions_: sessionmaker[Session], tables: EventTables, settings: IdentitySettings, keyring: KeyRing
    ):
        self.sessions, self.tables, self.settings, self.keyring = sessions_, tables, settings, keyring
        self.hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )

    # --- users --------------------------------------------------------------------------------

    def user_proto(
        self, s: Session, row: Row[Any], *, own: bool = False, viewer: Principal | None = None
    ) -> identity_pb2.User:
        """The account as `viewer` may see it: age group and guardian only for the account itself,
        its guardian and services (viewer None: the account's own reply, or an event)."""
        msg = identity_pb2.User(
            id=row.id,
            handle=row.handle,
            display_name=row.display_name,
            region=row.region,
            cameo_verified=row.cameo_verified,
        )
        set_timestamp(msg.created_at, row.created_at)
        set_timestamp(msg.updated_at, row.updated_at)
        guardian = self.active_guardian(s, row.id) if row.age_group == "teen" else None
        if viewer is None or viewer.is_service or viewer.subject in (row.id, guardian):
            msg.age_group = AGE_GROUPS[row.age_group]
            msg.guardian_user_id = guardian or ""
        if own:
            msg.invites_remaining = self.invites_remaining(s, row)
        return msg

    def user(self, s: Session, user_id: str, *, lock: bool = False) -> Row[Any]:
        query = select(users).where(users.c.id == user_id)
        row = s.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound("no such user", "user_not_found")
        return row

    def emit_user(self, s: Session, message: Message, user_id: str) -> None:
        emit(s, self.tables, USERS_TOPIC, message, USER_AGGREGATE, user_id)

    def user_updated(self, s: Session, user_id: str) -> None:
        event = events_pb2.UserUpdated(user=self.user_proto(s, self.user(s, user_id)))
        set_timestamp(event.occurred_at, now_utc())
        self.emit_user(s, event, user_id)

    def active_guardian(self, s: Session, teen_id: str) -> str | None:
        return s.execute(
            select(guardian_links.c.guardian_user_id).where(
                guardian_links.c.teen_user_id == teen_id, guardian_links.c.status == "active"
            )
        ).scalar()

    # --- invites, sign-in attempts, access tokens, paging ---------------------------------------

    def invites_remaining(self, s: Session, user_row: Row[Any]) -> int:
        if not user_row.cameo_verified:
            return 0
        made = s.execute(
            select(func.count()).select_from(invites).where(invites.c.created_by_user_id == user_row.id)
        ).scalar_one()
        return max(0, self.settings.invites_per_user - made)

    def count_attempt(
        self, s: Session, subject: str, limit: int, now: datetime, block_for: Callable[[int], timedelta]
    ) -> bool:
        """Count one sign-in attempt for `subject` in one statement (the row stays locked until the
        transaction ends, so concurrent attempts each see the others); False while it is blocked.
        From `limit` attempts on, each blocks the subject for block_for(attempts); a success lifts it."""
        t = signin_failures
        window_start = now - timedelta(seconds=self.settings.signin_window_s)
        insert = pg_insert(t).values(subject=subject, failures=1, last_attempt_at=now)
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.subject],
            set_={
                "failures": case((t.c.last_attempt_at <= window_start, 1), else_=t.c.failures + 1),
                "last_attempt_at": now,
            },
        ).returning(t.c.failures, t.c.blocked_until)
        failures, blocked_until = s.execute(upsert).one()
        if blocked_until is not None and blocked_until > now:
            return False
        if failures >= limit:
            s.execute(update(t).where(t.c.subject == subject).values(blocked_until=now + block_for(failures)))
        return True

    def access_token(
        self,
        user_id: str,
        handle: str,
        teen: bool,
        *,
        kind: str = "user",
        scopes: list[str] | tuple[str, ...] = (),
        ttl_s: int | None = None,
        session_id: str = "",
    ) -> tuple[str, float]:
        key = self.keyring.signing_key()
        return mint_access_token(
            key.private_key,
            key.kid,
            user_id,
            kind=kind,
            handle=handle,
            scopes=scopes,
            teen=teen,
            ttl_s=ttl_s or self.settings.access_token_ttl_s,
            session_id=session_id,
        )

    def page(
        self,
        table: Table,
        key_col: Column[Any],
        where: ColumnElement[bool],
        page: common_pb2.PageRequest,
        convert: Callable[[Row[Any]], T],
    ) -> tuple[list[T], str]:
        size = page_size_of(page)
        cursor = _PAGE_TOKENS.decode(page.page_token, datetime, str)
        query = select(table).where(where)
        if cursor:
            when, key = cursor
            query = query.where(or_(table.c.created_at < when, and_(table.c.created_at == when, key_col < key)))
        with self.sessions() as s:
            rows = s.execute(query.order_by(table.c.created_at.desc(), key_col.desc()).limit(size + 1)).all()
        more = len(rows) > size
        rows = rows[:size]
        token = _PAGE_TOKENS.encode(rows[-1].created_at, getattr(rows[-1], key_col.name)) if more else ""
        return [convert(r) for r in rows], token
