"""Sign-in, sessions and tokens: password sign-in with its attempt limits,
refresh-token rotation (one family per sign-in; a spent token coming back
ends the family), sign-out, and the list of ended sessions every verifier
reads (ListRevokedSessions)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import argon2
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from kinora.identity.v1 import identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_epoch_seconds, set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import InvalidArgument, PermissionDenied, ResourceExhausted, Unauthenticated
from services.identity.core import IdentityCore, now_utc, sha256_hex
from services.identity.models import api_keys, ended_credentials, refresh_tokens, sessions, signin_failures, users


@dataclass
class Issued:
    user: identity_pb2.User
    tokens: identity_pb2.TokenPair


class SignIn:
    def __init__(self, core: IdentityCore):
        self.core, self.sessions, self.settings, self.hasher = core, core.sessions, core.settings, core.hasher
        # Verified against when the handle is unknown, so both paths cost the same.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    def _new_refresh(self, s: Session, session_id: str, now: datetime, client_address: str) -> tuple[str, datetime]:
        token = "rt_" + secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self.settings.refresh_token_ttl_s)
        s.execute(
            refresh_tokens.insert().values(
                token_hash=sha256_hex(token),
                session_id=session_id,
                created_at=now,
                expires_at=expires,
                client_address=client_address[:64],
            )
        )
        return token, expires

    def _pair(
        self, user_id: str, handle: str, teen: bool, refresh: str, refresh_expires: datetime, session_id: str
    ) -> identity_pb2.TokenPair:
        access, access_exp = self.core.access_token(user_id, handle, teen, session_id=session_id)
        pair = identity_pb2.TokenPair(access_token=access, refresh_token=refresh)
        set_epoch_seconds(pair.access_token_expires_at, access_exp)
        set_timestamp(pair.refresh_token_expires_at, refresh_expires)
        return pair

    def issue(self, s: Session, user_id: str, handle: str, teen: bool, client_address: str) -> identity_pb2.TokenPair:
        now = now_utc()
        session_id = str(uuid.uuid4())
        s.execute(sessions.insert().values(id=session_id, user_id=user_id, created_at=now))
        refresh, refresh_exp = self._new_refresh(s, session_id, now, client_address)
        return self._pair(user_id, handle, teen, refresh, refresh_exp, session_id)

    def sign_in(self, handle_raw: str, password: str, client_address: str) -> Issued:
        if not handle_raw.strip() or not password:
            raise InvalidArgument("handle and password are required", "credentials_required")
        handle = handle_raw.strip().lower()[:40]
        address = client_address[:64]
        now = now_utc()
        window = timedelta(seconds=self.settings.signin_window_s)
        # Attempts are counted per (handle typed, client) - so guessing at a handle from one place
        # never locks its owner out elsewhere, and a handle that does not exist is throttled the same
        # way (the limit reveals nothing) - and per client across all handles. Each attempt is
        # counted before the password is checked and taken back if it was right.
        pair, per_address = f"handle:{handle}@{address}", f"address:{address}"
        limit = self.settings.signin_max_failures_account

        def backoff(failures: int) -> timedelta:  # doubles with each failure past the limit, up to the window
            return min(window, timedelta(seconds=self.settings.signin_backoff_s * 2 ** min(failures - limit, 20)))

        with transaction(self.sessions) as s:  # a refusal rolls its counting back
            allowed = not address or self.core.count_attempt(
                s, per_address, self.settings.signin_max_failures_address, now, lambda _: window
            )
            allowed = allowed and self.core.count_attempt(s, pair, limit, now, backoff)
            if not allowed:
                minutes = max(1, self.settings.signin_window_s // 60)
                raise ResourceExhausted(
                    f"too many failed sign-in attempts; wait up to {minutes} minutes and try again",
                    "signin_rate_limited",
                )
            user = s.execute(select(users).where(users.c.handle == handle)).first()
        try:
            # An unknown handle costs the same hash as a known one.
            ok = self.hasher.verify(user.password_hash if user else self._dummy_hash, password) and user is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            ok = False
        with transaction(self.sessions) as s:
            t = signin_failures
            if not ok:
                # Old counters go; rows another attempt holds are left for the next sweep (waiting on
                # them while that attempt waits on a row this sweep took would deadlock).
                stale = (
                    select(t.c.subject)
                    .where(
                        t.c.last_attempt_at < now - 2 * window,
                        or_(t.c.blocked_until.is_(None), t.c.blocked_until < now),
                    )
                    .with_for_update(skip_locked=True)
                )
                s.execute(delete(t).where(t.c.subject.in_(stale.scalar_subquery())))
            else:
                # Rows in the order counting locks them (address, then handle@address): the reverse
                # order deadlocked with a concurrent attempt of the same person from the same place.
                if address:
                    s.execute(
                        update(t)
                        .where(t.c.subject == per_address)
                        .values(
                            failures=func.greatest(t.c.failures - 1, 0),
                            blocked_until=case(
                                (t.c.failures - 1 < self.settings.signin_max_failures_address, None),
                                else_=t.c.blocked_until,
                            ),
                        )
                    )
                s.execute(delete(t).where(t.c.subject == pair))
                assert user is not None  # ok is only True for a known handle
                if self.hasher.check_needs_rehash(user.password_hash):  # parameters were raised since
                    s.execute(
                        update(users).where(users.c.id == user.id).values(password_hash=self.hasher.hash(password))
                    )
                tokens = self.issue(s, user.id, user.handle, user.age_group == "teen", client_address)
                return Issued(self.core.user_proto(s, user, own=True), tokens)
        raise Unauthenticated("the handle or password is not right", "invalid_credentials")

    def refresh(self, token: str, client_address: str) -> identity_pb2.TokenPair:
        if not token:
            raise InvalidArgument("refresh_token is required", "refresh_token_required")
        invalid = Unauthenticated("the refresh token is not valid; sign in again", "invalid_refresh_token")
        now = now_utc()
        with transaction(self.sessions) as s:
            row = s.execute(
                select(refresh_tokens, sessions.c.user_id, sessions.c.revoked_at.label("session_revoked_at"))
                .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
                .where(refresh_tokens.c.token_hash == sha256_hex(token))
                .with_for_update()
            ).first()
            if row is None or row.session_revoked_at is not None or row.expires_at <= now:
                raise invalid
            reused = row.spent_at is not None
            if reused:
                # A spent token came back: it was stolen or replayed. End the whole sign-in.
                s.execute(
                    update(sessions)
                    .where(sessions.c.id == row.session_id)
                    .values(revoked_at=now, revoke_reason="refresh_reuse")
                )
            else:
                s.execute(
                    update(refresh_tokens).where(refresh_tokens.c.token_hash == row.token_hash).values(spent_at=now)
                )
                user = self.core.user(s, row.user_id)
                new_token, new_exp = self._new_refresh(s, row.session_id, now, client_address)
                pair = self._pair(user.id, user.handle, user.age_group == "teen", new_token, new_exp, row.session_id)
        if reused:  # raised after the commit: the revocation must stick
            raise Unauthenticated(
                "this refresh token was already used, so every token from that sign-in has been revoked; sign in again",
                "refresh_token_reused",
            )
        return pair

    def sign_out(self, caller: Principal | None, token: str, all_sessions: bool) -> None:
        now = now_utc()
        with transaction(self.sessions) as s:
            user_id = caller.subject if caller and caller.kind == "user" else None
            session_id = None
            if token:
                row = s.execute(
                    select(sessions.c.id, sessions.c.user_id)
                    .join(refresh_tokens, refresh_tokens.c.session_id == sessions.c.id)
                    .where(refresh_tokens.c.token_hash == sha256_hex(token))
                ).first()
                if row is None:
                    raise Unauthenticated("the refresh token is not valid", "invalid_refresh_token")
                if user_id and row.user_id != user_id:
                    raise PermissionDenied("that refresh token belongs to another account", "not_your_session")
                user_id, session_id = row.user_id, row.id
            if user_id is None:
                raise InvalidArgument("send the refresh token to sign out (or sign in)", "refresh_token_required")
            target = (
                sessions.c.user_id == user_id if all_sessions or session_id is None else sessions.c.id == session_id
            )
            s.execute(
                update(sessions)
                .where(target, sessions.c.revoked_at.is_(None))
                .values(revoked_at=now, revoke_reason="sign_out")
            )

    def revoked_sessions(self) -> list[str]:
        """Sessions ended while an access token of theirs may still be unexpired (the access-token
        TTL, plus a minute for clocks apart); likewise revoked API keys (their tokens' sid is the
        key id) and the sessions and keys of deleted accounts."""
        now = now_utc()
        since = now - timedelta(seconds=self.settings.access_token_ttl_s + 60)
        keys_since = now - timedelta(seconds=self.settings.apikey_token_ttl_s + 60)
        ended_since = min(since, keys_since)
        with self.sessions() as s:
            return [
                *s.execute(select(sessions.c.id).where(sessions.c.revoked_at >= since)).scalars(),
                *s.execute(select(api_keys.c.id).where(api_keys.c.revoked_at >= keys_since)).scalars(),
                *s.execute(select(ended_credentials.c.id).where(ended_credentials.c.ended_at >= ended_since)).scalars(),
            ]
