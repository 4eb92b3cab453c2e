"""Identity domain: accounts, invites, sessions and tokens, API keys, guardian
links and parental controls. Plain synchronous code over SQLAlchemy; the gRPC
servicer runs it in threads. Every change and its events commit together.

Verification lives in `verification.py`; signing keys in `keys.py`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import argon2
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import events_pb2, identity_pb2
from kinora.runtime.auth import Principal, mint_access_token
from kinora.runtime.convert import set_timestamp, to_datetime
from kinora.runtime.db import transaction
from kinora.runtime.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied,
                                   ResourceExhausted, Unauthenticated)
from kinora.runtime.events import EventTables, emit
from kinora.runtime.paging import PageTokens, page_size
from services.identity.keys import KeyRing
from services.identity.models import (api_keys, ended_credentials, guardian_links, invites, parental_controls,
                                      refresh_tokens, retired_handles, sessions, signin_failures, users)
from services.identity.settings import IdentitySettings
from services.identity.topics import USER_AGGREGATE, USERS_TOPIC, VERIFICATIONS_TOPIC  # noqa: F401 - re-exported

log = logging.getLogger("kinora.identity")

HANDLE_RE = re.compile(r"^[a-z0-9_.]{3,30}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 256  # the cap keeps argon2 input (and CPU) bounded
MIN_AGE, MAX_AGE = 13, 120
API_SCOPES = frozenset({"videos:read", "videos:write", "cameos:read", "cameos:write", "feed:read",
                        "feed:write", "billing:read"})
MAX_ACTIVE_API_KEYS = 25
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: easy to read aloud
DEFAULT_PAGE, MAX_PAGE = 50, 200
_PAGE_TOKENS = PageTokens()  # (created_at, key) of the last row a page showed


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- validation -------------------------------------------------------------------------------


def normalise_handle(raw: str) -> str:
    handle = raw.strip().lower()
    if not HANDLE_RE.match(handle):
        raise InvalidArgument("a handle is 3 to 30 characters of a-z, 0-9, underscore and dot", "invalid_handle")
    return handle


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidArgument(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters long", "invalid_password")


def parse_birthdate(raw: str, today: date) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            raise ValueError
        born = date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidArgument("birthdate must be a date written YYYY-MM-DD, e.g. 2001-04-30", "invalid_birthdate") from None
    if born > today or age_on(born, today) > MAX_AGE:
        raise InvalidArgument("birthdate is not a plausible date of birth", "invalid_birthdate")
    return born


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def normalise_invite(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw).upper()


def page_size_of(page) -> int:
    return page_size(page.page_size, DEFAULT_PAGE, MAX_PAGE)


# --- conversions ------------------------------------------------------------------------------

AGE_GROUPS = {"adult": common_pb2.AGE_GROUP_ADULT, "teen": common_pb2.AGE_GROUP_TEEN}
LINK_STATUS = {"pending": identity_pb2.GUARDIAN_LINK_STATUS_PENDING, "active": identity_pb2.GUARDIAN_LINK_STATUS_ACTIVE,
               "awaiting": identity_pb2.GUARDIAN_LINK_STATUS_AWAITING_APPROVAL,
               "unlinked": identity_pb2.GUARDIAN_LINK_STATUS_UNLINKED,
               "expired": identity_pb2.GUARDIAN_LINK_STATUS_EXPIRED}


def invite_proto(row) -> identity_pb2.Invite:
    msg = identity_pb2.Invite(code=row.code, created_by_user_id=row.created_by_user_id or "",
                              used_by_user_id=row.used_by_user_id or "")
    set_timestamp(msg.created_at, row.created_at)
    set_timestamp(msg.expires_at, row.expires_at)
    set_timestamp(msg.used_at, row.used_at)
    return msg


def webhook_proto(row, with_secret: bool) -> identity_pb2.ApiKeyWebhook:
    msg = identity_pb2.ApiKeyWebhook(api_key_id=row.id, url=row.webhook_url,
                                     secret=row.webhook_secret if with_secret else "")
    set_timestamp(msg.updated_at, row.webhook_updated_at)
    return msg


def webhook_url(url: str) -> str:
    """A webhook URL as given, or InvalidArgument saying what is wrong with it."""
    url = url.strip()
    if not url:
        raise InvalidArgument("url is required", "url_required")
    if len(url) > 2048:
        raise InvalidArgument("the webhook URL is longer than 2,048 characters", "invalid_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise InvalidArgument("the webhook URL is not a valid URL", "invalid_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument("the webhook URL must be http:// or https:// with a host name", "invalid_url")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidArgument("the webhook URL must not contain spaces or control characters", "invalid_url")
    return url


def api_key_proto(row) -> identity_pb2.ApiKey:
    msg = identity_pb2.ApiKey(id=row.id, name=row.name, prefix=row.prefix, scopes=row.scopes.split())
    for field in ("created_at", "last_used_at", "expires_at", "revoked_at"):
        set_timestamp(getattr(msg, field), getattr(row, field))
    return msg


def link_proto(row) -> identity_pb2.GuardianLink:
    msg = identity_pb2.GuardianLink(id=row.id, guardian_user_id=row.guardian_user_id or "",
                                    teen_user_id=row.teen_user_id or "", status=LINK_STATUS[row.status],
                                    unlinked_by_user_id=row.unlinked_by_user_id or "",
                                    approver_user_id=row.approver_user_id or "")
    for field in ("created_at", "confirmed_at", "unlinked_at"):
        set_timestamp(getattr(msg, field), getattr(row, field))
    return msg


def controls_proto(row) -> identity_pb2.ParentalControls:
    msg = identity_pb2.ParentalControls(daily_feed_item_cap=row.daily_feed_item_cap,
                                        non_personalized_feed=row.non_personalized_feed,
                                        max_cameo_policy=row.max_cameo_policy,
                                        updated_by_user_id=row.updated_by_user_id or "")
    set_timestamp(msg.updated_at, row.updated_at)
    return msg


@dataclass
class Issued:
    user: identity_pb2.User
    tokens: identity_pb2.TokenPair


class Identity:
    def __init__(self, sessions_: sessionmaker[Session], tables: EventTables, settings: IdentitySettings,
                 keyring: KeyRing):
        self.sessions, self.tables, self.settings, self.keyring = sessions_, tables, settings, keyring
        self.hasher = argon2.PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib,
                                            parallelism=settings.argon2_parallelism, type=argon2.Type.ID)
        # Verified against when the handle is unknown, so both paths cost the same.
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    # --- users --------------------------------------------------------------------------------

    def _user_proto(self, s: Session, row, *, own: bool = False, viewer: Principal | None = None) -> identity_pb2.User:
        """The account as `viewer` may see it: age group and guardian only for the account itself,
        its guardian and services (viewer None: the account's own reply, or an event)."""
        msg = identity_pb2.User(id=row.id, handle=row.handle, display_name=row.display_name, region=row.region,
                                cameo_verified=row.cameo_verified)
        set_timestamp(msg.created_at, row.created_at)
        set_timestamp(msg.updated_at, row.updated_at)
        guardian = self._active_guardian(s, row.id) if row.age_group == "teen" else None
        if viewer is None or viewer.is_service or viewer.subject in (row.id, guardian):
            msg.age_group = AGE_GROUPS[row.age_group]
            msg.guardian_user_id = guardian or ""
        if own:
            msg.invites_remaining = self._invites_remaining(s, row)
        return msg

    def _user(self, s: Session, user_id: str, *, lock: bool = False):
        query = select(users).where(users.c.id == user_id)
        row = s.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound("no such user", "user_not_found")
        return row

    def _emit_user(self, s: Session, message, user_id: str) -> None:
        emit(s, self.tables, USERS_TOPIC, message, USER_AGGREGATE, user_id)

    def _user_updated(self, s: Session, user_id: str) -> None:
        event = events_pb2.UserUpdated(user=self._user_proto(s, self._user(s, user_id)))
        event.occurred_at.GetCurrentTime()
        self._emit_user(s, event, user_id)

    def sign_up(self, req: identity_pb2.SignUpRequest) -> Issued:
        code = normalise_invite(req.invite_code)
        if not code:
            raise InvalidArgument("an invite code is needed to sign up", "invite_required")
        handle = normalise_handle(req.handle)
        check_password(req.password)
        region = req.region.strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", region):
            raise InvalidArgument("region must be a two-letter country code such as US", "invalid_region")
        if region not in self.settings.allowed_regions:
            raise PermissionDenied(f"Kinora is not available in {region} yet", "region_not_allowed")
        today = now_utc().date()
        born = parse_birthdate(req.birthdate, today)
        age = age_on(born, today)
        if age < MIN_AGE:
            raise PermissionDenied("you must be at least 13 years old to use Kinora", "too_young")
        display_name = req.display_name.strip() or handle
        if len(display_name) > 80:
            raise InvalidArgument("display_name is at most 80 characters", "invalid_display_name")
        password_hash = self.hasher.hash(req.password)  # slow: outside the transaction
        now = now_utc()
        user_id = str(uuid.uuid4())
        age_group = "teen" if age < 18 else "adult"
        try:
            with transaction(self.sessions) as s:
                invite = s.execute(select(invites).where(invites.c.code == code).with_for_update()).first()
                if invite is None:
                    raise InvalidArgument("that invite code does not exist; check it and try again", "invalid_invite")
                if invite.used_by_user_id is not None:
                    raise FailedPrecondition("that invite code has already been used", "invite_used")
                if invite.expires_at <= now:
                    raise FailedPrecondition("that invite code has expired; ask for a new one", "invite_expired")
                if s.execute(select(users.c.id).where(users.c.handle == handle)).first():
                    raise AlreadyExists(f"the handle {handle} is taken", "handle_taken")
                if s.execute(select(retired_handles).where(retired_handles.c.handle_hash == sha256_hex(handle))).first():
                    raise AlreadyExists(f"the handle {handle} belonged to a deleted account and is retired",
                                        "handle_retired")
                s.execute(users.insert().values(
                    id=user_id, handle=handle, display_name=display_name, password_hash=password_hash, region=region,
                    birthdate=born, age_group=age_group, cameo_verified=False,
                    invited_by_user_id=invite.created_by_user_id, created_at=now, updated_at=now))
                s.flush()
                s.execute(update(invites).where(invites.c.code == code).values(used_by_user_id=user_id, used_at=now))
                user = self._user_proto(s, self._user(s, user_id), own=True)
                created = events_pb2.UserCreated(user=user, invite_code=code,
                                                 invited_by_user_id=invite.created_by_user_id or "")
                set_timestamp(created.occurred_at, now)
                self._emit_user(s, created, user_id)
                if age_group == "teen":
                    self._set_teen_defaults(s, user_id, now)
                tokens = self._issue(s, user_id, handle, age_group == "teen", "")
        except IntegrityError:  # a concurrent sign-up took the handle between check and insert
            raise AlreadyExists(f"the handle {handle} is taken", "handle_taken") from None
        return Issued(user, tokens)

    def get_user(self, caller: Principal, user_id: str) -> identity_pb2.User:
        if not user_id:
            raise InvalidArgument("user_id is required", "user_id_required")
        with self.sessions() as s:
            return self._user_proto(s, self._user(s, user_id), own=caller.subject == user_id, viewer=caller)

    def get_user_by_handle(self, caller: Principal, handle: str) -> identity_pb2.User:
        handle = normalise_handle(handle)
        with self.sessions() as s:
            row = s.execute(select(users).where(users.c.handle == handle)).first()
            if row is None:
                raise NotFound(f"no user has the handle {handle}", "user_not_found")
            return self._user_proto(s, row, own=caller.subject == row.id, viewer=caller)

    def batch_get_users(self, caller: Principal, user_ids: list[str]) -> list[identity_pb2.User]:
        if len(user_ids) > 100:
            raise InvalidArgument("ask for at most 100 users at a time", "too_many_ids")
        with self.sessions() as s:
            rows = s.execute(select(users).where(users.c.id.in_(set(user_ids)))).all()
            by_id = {r.id: self._user_proto(s, r, own=caller.subject == r.id, viewer=caller) for r in rows}
        return [by_id[i] for i in dict.fromkeys(user_ids) if i in by_id]

    def update_profile(self, caller: Principal, req: identity_pb2.UpdateProfileRequest) -> identity_pb2.User:
        with transaction(self.sessions) as s:
            self._user(s, caller.subject, lock=True)
            if req.HasField("display_name"):
                name = req.display_name.strip()
                if not 1 <= len(name) <= 80:
                    raise InvalidArgument("display_name is 1 to 80 characters", "invalid_display_name")
                s.execute(update(users).where(users.c.id == caller.subject).values(display_name=name,
                                                                                    updated_at=now_utc()))
                self._user_updated(s, caller.subject)
            return self._user_proto(s, self._user(s, caller.subject), own=True)

    # --- sessions and tokens ------------------------------------------------------------------

    def _access_token(self, user_id: str, handle: str, teen: bool, *, kind: str = "user", scopes=(),
                      ttl_s: int | None = None, session_id: str = "") -> tuple[str, float]:
        key = self.keyring.signing_key()
        return mint_access_token(key.private_key, key.kid, user_id, kind=kind, handle=handle, scopes=scopes,
                                 teen=teen, ttl_s=ttl_s or self.settings.access_token_ttl_s, session_id=session_id)

    def _new_refresh(self, s: Session, session_id: str, now: datetime, client_address: str) -> tuple[str, datetime]:
        token = "rt_" + secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self.settings.refresh_token_ttl_s)
        s.execute(refresh_tokens.insert().values(token_hash=sha256_hex(token), session_id=session_id, created_at=now,
                                                 expires_at=expires, client_address=client_address[:64]))
        return token, expires

    def _pair(self, user_id, handle, teen, refresh: str, refresh_expires: datetime,
              session_id: str) -> identity_pb2.TokenPair:
        access, access_exp = self._access_token(user_id, handle, teen, session_id=session_id)
        pair = identity_pb2.TokenPair(access_token=access, refresh_token=refresh)
        pair.access_token_expires_at.FromSeconds(int(access_exp))
        set_timestamp(pair.refresh_token_expires_at, refresh_expires)
        return pair

    def _issue(self, s: Session, user_id: str, handle: str, teen: bool, client_address: str) -> identity_pb2.TokenPair:
        now = now_utc()
        session_id = str(uuid.uuid4())
        s.execute(sessions.insert().values(id=session_id, user_id=user_id, created_at=now))
        refresh, refresh_exp = self._new_refresh(s, session_id, now, client_address)
        return self._pair(user_id, handle, teen, refresh, refresh_exp, session_id)

    def _count_attempt(self, s: Session, subject: str, limit: int, now: datetime,
                       block_for: Callable[[int], timedelta]) -> bool:
        """Count one sign-in attempt for `subject` in one statement (the row stays locked until the
        transaction ends, so concurrent attempts each see the others); False while it is blocked.
        From `limit` attempts on, each blocks the subject for block_for(attempts); a success lifts it."""
        t = signin_failures
        window_start = now - timedelta(seconds=self.settings.signin_window_s)
        upsert = pg_insert(t).values(subject=subject, failures=1, last_attempt_at=now)
        upsert = upsert.on_conflict_do_update(index_elements=[t.c.subject], set_={
            "failures": case((t.c.last_attempt_at <= window_start, 1), else_=t.c.failures + 1),
            "last_attempt_at": now}).returning(t.c.failures, t.c.blocked_until)
        failures, blocked_until = s.execute(upsert).one()
        if blocked_until is not None and blocked_until > now:
            return False
        if failures >= limit:
            s.execute(update(t).where(t.c.subject == subject).values(blocked_until=now + block_for(failures)))
        return True

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
            allowed = not address or self._count_attempt(s, per_address, self.settings.signin_max_failures_address,
                                                          now, lambda _: window)
            allowed = allowed and self._count_attempt(s, pair, limit, now, backoff)
            if not allowed:
                minutes = max(1, self.settings.signin_window_s // 60)
                raise ResourceExhausted(f"too many failed sign-in attempts; wait up to {minutes} minutes and "
                                        "try again", "signin_rate_limited")
            user = s.execute(select(users).where(users.c.handle == handle)).first()
        try:
            # An unknown handle costs the same hash as a known one.
            ok = self.hasher.verify(user.password_hash if user else self._dummy_hash, password) and user is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            ok = False
        with transaction(self.sessions) as s:
            if not ok:
                s.execute(delete(signin_failures).where(signin_failures.c.last_attempt_at < now - 2 * window,
                                                        or_(signin_failures.c.blocked_until.is_(None),
                                                            signin_failures.c.blocked_until < now)))
            else:
                s.execute(delete(signin_failures).where(signin_failures.c.subject == pair))
                if address:
                    t = signin_failures
                    s.execute(update(t).where(t.c.subject == per_address).values(
                        failures=func.greatest(t.c.failures - 1, 0),
                        blocked_until=case((t.c.failures - 1 < self.settings.signin_max_failures_address, None),
                                           else_=t.c.blocked_until)))
                if self.hasher.check_needs_rehash(user.password_hash):  # parameters were raised since
                    s.execute(update(users).where(users.c.id == user.id)
                              .values(password_hash=self.hasher.hash(password)))
                tokens = self._issue(s, user.id, user.handle, user.age_group == "teen", client_address)
                return Issued(self._user_proto(s, user, own=True), tokens)
        raise Unauthenticated("the handle or password is not right", "invalid_credentials")

    def refresh(self, token: str, client_address: str) -> identity_pb2.TokenPair:
        if not token:
            raise InvalidArgument("refresh_token is required", "refresh_token_required")
        invalid = Unauthenticated("the refresh token is not valid; sign in again", "invalid_refresh_token")
        now = now_utc()
        with transaction(self.sessions) as s:
            row = s.execute(select(refresh_tokens, sessions.c.user_id, sessions.c.revoked_at.label("session_revoked_at"))
                            .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
                            .where(refresh_tokens.c.token_hash == sha256_hex(token))
                            .with_for_update()).first()
            if row is None or row.session_revoked_at is not None or row.expires_at <= now:
                raise invalid
            reused = row.spent_at is not None
            if reused:
                # A spent token came back: it was stolen or replayed. End the whole sign-in.
                s.execute(update(sessions).where(sessions.c.id == row.session_id)
                          .values(revoked_at=now, revoke_reason="refresh_reuse"))
            else:
                s.execute(update(refresh_tokens).where(refresh_tokens.c.token_hash == row.token_hash)
                          .values(spent_at=now))
                user = self._user(s, row.user_id)
                new_token, new_exp = self._new_refresh(s, row.session_id, now, client_address)
                pair = self._pair(user.id, user.handle, user.age_group == "teen", new_token, new_exp, row.session_id)
        if reused:  # raised after the commit: the revocation must stick
            raise Unauthenticated("this refresh token was already used, so every token from that sign-in has "
                                  "been revoked; sign in again", "refresh_token_reused")
        return pair

    def sign_out(self, caller: Principal | None, token: str, all_sessions: bool) -> None:
        now = now_utc()
        with transaction(self.sessions) as s:
            user_id = caller.subject if caller and caller.kind == "user" else None
            session_id = None
            if token:
                row = s.execute(select(sessions.c.id, sessions.c.user_id)
                                .join(refresh_tokens, refresh_tokens.c.session_id == sessions.c.id)
                                .where(refresh_tokens.c.token_hash == sha256_hex(token))).first()
                if row is None:
                    raise Unauthenticated("the refresh token is not valid", "invalid_refresh_token")
                if user_id and row.user_id != user_id:
                    raise PermissionDenied("that refresh token belongs to another account", "not_your_session")
                user_id, session_id = row.user_id, row.id
            if user_id is None:
                raise InvalidArgument("send the refresh token to sign out (or sign in)", "refresh_token_required")
            target = sessions.c.user_id == user_id if all_sessions or session_id is None else sessions.c.id == session_id
            s.execute(update(sessions).where(target, sessions.c.revoked_at.is_(None))
                      .values(revoked_at=now, revoke_reason="sign_out"))

    def revoked_sessions(self) -> list[str]:
        """Sessions ended while an access token of theirs may still be unexpired (the access-token
        TTL, plus a minute for clocks apart); likewise revoked API keys (their tokens' sid is the
        key id) and the sessions and keys of deleted accounts."""
        now = now_utc()
        since = now - timedelta(seconds=self.settings.access_token_ttl_s + 60)
        keys_since = now - timedelta(seconds=self.settings.apikey_token_ttl_s + 60)
        ended_since = min(since, keys_since)
        with self.sessions() as s:
            return [*s.execute(select(sessions.c.id).where(sessions.c.revoked_at >= since)).scalars(),
                    *s.execute(select(api_keys.c.id).where(api_keys.c.revoked_at >= keys_since)).scalars(),
                    *s.execute(select(ended_credentials.c.id).where(ended_credentials.c.ended_at >= ended_since))
                    .scalars()]

    # --- invites ------------------------------------------------------------------------------

    def _invites_remaining(self, s: Session, user_row) -> int:
        if not user_row.cameo_verified:
            return 0
        made = s.execute(select(func.count()).select_from(invites)
                         .where(invites.c.created_by_user_id == user_row.id)).scalar_one()
        return max(0, self.settings.invites_per_user - made)

    def create_invite(self, caller: Principal) -> identity_pb2.Invite:
        now = now_utc()
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(12))
        expires = now + timedelta(days=self.settings.invite_ttl_days)
        with transaction(self.sessions) as s:
            creator = None
            if caller.is_service:
                if not self.settings.service_invites:
                    raise PermissionDenied("admin invites are turned off (KINORA_SERVICE_INVITES)", "admin_invites_off")
            elif caller.kind != "user":
                raise PermissionDenied("API keys cannot create invites", "apikey_not_allowed")
            else:
                user = self._user(s, caller.subject, lock=True)  # the lock serialises the allowance check
                if not user.cameo_verified:
                    raise FailedPrecondition("verify your cameo to get invites", "not_verified")
                if self._invites_remaining(s, user) <= 0:
                    raise ResourceExhausted("you have no invites left", "no_invites_left")
                creator = user.id
            s.execute(invites.insert().values(code=code, created_by_user_id=creator, created_at=now, expires_at=expires))
            return invite_proto(s.execute(select(invites).where(invites.c.code == code)).one())

    def list_invites(self, caller: Principal, page) -> tuple[list[identity_pb2.Invite], str]:
        return self._page(invites, invites.c.code, invites.c.created_by_user_id == caller.subject, page, invite_proto)

    def _page(self, table, key_col, where, page, convert):
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

    # --- API keys -----------------------------------------------------------------------------

    def create_api_key(self, caller: Principal, req: identity_pb2.CreateApiKeyRequest):
        if caller.kind != "user":
            raise PermissionDenied("sign in as a person to create API keys", "user_required")
        name = req.name.strip()
        if not 1 <= len(name) <= 80:
            raise InvalidArgument("name is 1 to 80 characters", "invalid_name")
        scopes = sorted(set(req.scopes))
        if not scopes:
            raise InvalidArgument(f"give at least one scope; choose from {', '.join(sorted(API_SCOPES))}", "no_scopes")
        unknown = [sc for sc in scopes if sc not in API_SCOPES]
        if unknown:
            raise InvalidArgument(f"unknown scope {unknown[0]!r}; choose from {', '.join(sorted(API_SCOPES))}",
                                  "invalid_scope")
        now = now_utc()
        expires = None
        if req.HasField("expires_at") and (req.expires_at.seconds or req.expires_at.nanos):
            expires = to_datetime(req.expires_at, "expires_at")
            if expires <= now:
                raise InvalidArgument("expires_at must be in the future", "invalid_expiry")
        prefix = "kin_" + secrets.token_hex(4)
        secret = f"{prefix}_{secrets.token_urlsafe(32)}"
        key_id = str(uuid.uuid4())
        with transaction(self.sessions) as s:
            self._user(s, caller.subject, lock=True)
            active = s.execute(select(func.count()).select_from(api_keys).where(
                api_keys.c.user_id == caller.subject, api_keys.c.revoked_at.is_(None))).scalar_one()
            if active >= MAX_ACTIVE_API_KEYS:
                raise ResourceExhausted(f"you already have {MAX_ACTIVE_API_KEYS} active API keys; revoke one first",
                                        "too_many_api_keys")
            s.execute(api_keys.insert().values(id=key_id, user_id=caller.subject, name=name, prefix=prefix,
                                               secret_hash=sha256_hex(secret), scopes=" ".join(scopes),
                                               created_at=now, expires_at=expires))
            row = s.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
        return api_key_proto(row), secret

    def list_api_keys(self, caller: Principal, page):
        return self._page(api_keys, api_keys.c.id, api_keys.c.user_id == caller.subject, page, api_key_proto)

    def _own_api_key(self, s: Session, caller: Principal, key_id: str, lock: bool = False):
        if not key_id:
            raise InvalidArgument("api_key_id is required", "api_key_id_required")
        query = select(api_keys).where(api_keys.c.id == key_id, api_keys.c.user_id == caller.subject)
        row = s.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound("you have no API key with that id", "api_key_not_found")
        return row

    def revoke_api_key(self, caller: Principal, key_id: str) -> identity_pb2.ApiKey:
        with transaction(self.sessions) as s:
            row = self._own_api_key(s, caller, key_id)
            if row.revoked_at is None:
                s.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now_utc()))
            return api_key_proto(s.execute(select(api_keys).where(api_keys.c.id == key_id)).one())

    def set_api_key_webhook(self, caller: Principal, key_id: str, url: str) -> identity_pb2.ApiKeyWebhook:
        """Point the key's events at `url`, with a new signing secret (returned only here)."""
        url = webhook_url(url)
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        with transaction(self.sessions) as s:
            row = self._own_api_key(s, caller, key_id, lock=True)
            if row.revoked_at is not None:
                raise FailedPrecondition("the API key has been revoked", "api_key_revoked")
            s.execute(update(api_keys).where(api_keys.c.id == key_id).values(
                webhook_url=url, webhook_secret=secret, webhook_updated_at=now_utc()))
            row = s.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
        return webhook_proto(row, with_secret=True)

    def get_api_key_webhook(self, caller: Principal, key_id: str) -> identity_pb2.ApiKeyWebhook:
        """The key's endpoint: for its owner without the secret; for a service (the gateway,
        delivering) with it, and only while the key is usable."""
        with transaction(self.sessions) as s:
            if not caller.is_service:
                row = self._own_api_key(s, caller, key_id)
            else:
                if not key_id:
                    raise InvalidArgument("api_key_id is required", "api_key_id_required")
                row = s.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
                if row is None or row.revoked_at is not None or (
                        row.expires_at is not None and row.expires_at <= now_utc()):
                    raise NotFound("no usable API key with that id", "api_key_not_found")
        if row.webhook_url is None:
            raise NotFound("this API key has no webhook endpoint", "no_webhook")
        return webhook_proto(row, with_secret=caller.is_service)

    def delete_api_key_webhook(self, caller: Principal, key_id: str) -> bool:
        """Remove the key's endpoint; False if it had none."""
        with transaction(self.sessions) as s:
            row = self._own_api_key(s, caller, key_id, lock=True)
            if row.webhook_url is None:
                return False
            s.execute(update(api_keys).where(api_keys.c.id == key_id).values(
                webhook_url=None, webhook_secret=None, webhook_updated_at=now_utc()))
        return True

    def exchange_api_key(self, secret: str) -> identity_pb2.ExchangeApiKeyResponse:
        if not secret:
            raise InvalidArgument("secret is required", "secret_required")
        now = now_utc()
        with transaction(self.sessions) as s:
            row = s.execute(select(api_keys).where(api_keys.c.secret_hash == sha256_hex(secret))).first()
            if row is None:
                raise Unauthenticated("the API key is not valid", "invalid_api_key")
            if row.revoked_at is not None:
                raise Unauthenticated("the API key has been revoked", "api_key_revoked")
            if row.expires_at is not None and row.expires_at <= now:
                raise Unauthenticated("the API key has expired", "api_key_expired")
            s.execute(update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now))
            user = self._user(s, row.user_id)
        scopes = row.scopes.split()
        # sid = the key: revoking it (or deleting the account) puts its tokens on the deny list.
        token, exp = self._access_token(user.id, user.handle, user.age_group == "teen", kind="apikey", scopes=scopes,
                                        ttl_s=self.settings.apikey_token_ttl_s, session_id=row.id)
        reply = identity_pb2.ExchangeApiKeyResponse(access_token=token, user_id=user.id, api_key_id=row.id,
                                                    scopes=scopes)
        reply.expires_at.FromSeconds(int(exp))
        return reply

    # --- guardians and parental controls ------------------------------------------------------

    def _set_teen_defaults(self, s: Session, teen_id: str, now: datetime) -> None:
        values = dict(daily_feed_item_cap=self.settings.teen_daily_feed_cap, non_personalized_feed=True,
                      max_cameo_policy=common_pb2.CAMEO_POLICY_APPROVED, updated_at=now, updated_by_user_id=None)
        s.execute(parental_controls.insert().values(teen_user_id=teen_id, **values))
        self._controls_changed(s, teen_id, "")

    def _controls_changed(self, s: Session, teen_id: str, guardian_id: str) -> identity_pb2.ParentalControls:
        controls = controls_proto(s.execute(select(parental_controls)
                                            .where(parental_controls.c.teen_user_id == teen_id)).one())
        event = events_pb2.ParentalControlsChanged(teen_user_id=teen_id, guardian_user_id=guardian_id,
                                                   controls=controls)
        event.occurred_at.GetCurrentTime()
        self._emit_user(s, event, teen_id)
        return controls

    def _active_guardian(self, s: Session, teen_id: str) -> str | None:
        return s.execute(select(guardian_links.c.guardian_user_id).where(
            guardian_links.c.teen_user_id == teen_id, guardian_links.c.status == "active")).scalar()

    def start_guardian_link(self, caller: Principal, role: int):
        if caller.kind != "user":
            raise PermissionDenied("sign in as a person to link accounts", "user_required")
        if role not in (identity_pb2.GUARDIAN_ROLE_GUARDIAN, identity_pb2.GUARDIAN_ROLE_TEEN):
            raise InvalidArgument("role must be GUARDIAN or TEEN: your side of the link", "invalid_role")
        now = now_utc()
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
        expires = now + timedelta(seconds=self.settings.guardian_code_ttl_s)
        link_id = str(uuid.uuid4())
        with transaction(self.sessions) as s:
            user = self._user(s, caller.subject)
            as_guardian = role == identity_pb2.GUARDIAN_ROLE_GUARDIAN
            if as_guardian and user.age_group != "adult":
                raise FailedPrecondition("only adult accounts can be guardians", "guardian_must_be_adult")
            if not as_guardian and user.age_group != "teen":
                raise FailedPrecondition("only teen accounts can link to a guardian as the teen", "not_a_teen")
            s.execute(guardian_links.insert().values(
                id=link_id, guardian_user_id=user.id if as_guardian else None,
                teen_user_id=None if as_guardian else user.id, started_by_user_id=user.id, status="pending",
                code_hash=sha256_hex(code), code_expires_at=expires, created_at=now))
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
            link = s.execute(select(guardian_links).where(guardian_links.c.code_hash == sha256_hex(code))
                             .with_for_update()).first()
            if link is None or link.status != "pending":
                raise NotFound("that link code is not valid or was already used", "invalid_link_code")
            if link.code_expires_at <= now:
                raise FailedPrecondition("that link code has expired; start a new link", "link_code_expired")
            if link.started_by_user_id == caller.subject:
                raise FailedPrecondition("the other person must confirm the link", "confirm_own_link")
            user = self._user(s, caller.subject)
            guardian_id, teen_id = link.guardian_user_id, link.teen_user_id
            if guardian_id is None:  # the teen started; the caller is the guardian
                if user.age_group != "adult":
                    raise FailedPrecondition("only adult accounts can be guardians", "guardian_must_be_adult")
                guardian_id = user.id
            else:
                if user.age_group != "teen":
                    raise FailedPrecondition("this code links a teen account; sign in as the teen to confirm it",
                                             "not_a_teen")
                teen_id = user.id
            self._user(s, teen_id, lock=True)  # one guardian per teen, even under concurrent confirms
            if self._active_guardian(s, teen_id) == guardian_id:
                raise FailedPrecondition("you are already linked to each other", "already_linked")
            s.execute(update(guardian_links).where(guardian_links.c.id == link.id).values(
                guardian_user_id=guardian_id, teen_user_id=teen_id, code_hash=None))
            approver = self._approver(s, teen_id, guardian_id)
            if approver:  # the teen had a guardian: that guardian decides (approve_guardian_link)
                s.execute(update(guardian_links).where(guardian_links.c.id == link.id).values(
                    status="awaiting", approver_user_id=approver))
            else:
                self._activate(s, link.id, guardian_id, teen_id, now)
            return link_proto(s.execute(select(guardian_links).where(guardian_links.c.id == link.id)).one())

    def _approver(self, s: Session, teen_id: str, new_guardian: str) -> str | None:
        """Who must approve a new guardian for this teen: the current guardian, or else the last one
        (unless support ended that link); None when nobody was the teen's guardian before."""
        current = self._active_guardian(s, teen_id)
        if current:
            return current
        last = s.execute(select(guardian_links.c.guardian_user_id, guardian_links.c.unlinked_by_user_id).where(
            guardian_links.c.teen_user_id == teen_id, guardian_links.c.status == "unlinked",
            guardian_links.c.confirmed_at.is_not(None)).order_by(guardian_links.c.unlinked_at.desc()).limit(1)).first()
        if last is None or (last.unlinked_by_user_id or "").startswith("service:") or last.guardian_user_id == new_guardian:
            return None
        return last.guardian_user_id

    def _activate(self, s: Session, link_id: str, guardian_id: str, teen_id: str, now: datetime) -> None:
        s.execute(update(guardian_links).where(guardian_links.c.id == link_id).values(
            status="active", confirmed_at=now, approver_user_id=None))
        event = events_pb2.GuardianLinked(link_id=link_id, guardian_user_id=guardian_id, teen_user_id=teen_id)
        set_timestamp(event.occurred_at, now)
        self._emit_user(s, event, teen_id)
        self._user_updated(s, teen_id)

    def _end_link(self, s: Session, link, by: str, now: datetime, reason: str = "") -> None:
        s.execute(update(guardian_links).where(guardian_links.c.id == link.id).values(
            status="unlinked", code_hash=None, unlinked_at=now, unlinked_by_user_id=by, unlink_reason=reason or None))
        if link.status == "active":
            # The event is how the guardian hears of it (notifications consume it), and the audit
            # record of a support unlink.
            event = events_pb2.GuardianUnlinked(link_id=link.id, guardian_user_id=link.guardian_user_id,
                                                teen_user_id=link.teen_user_id, unlinked_by_user_id=by, reason=reason)
            set_timestamp(event.occurred_at, now)
            self._emit_user(s, event, link.teen_user_id)
            self._user_updated(s, link.teen_user_id)

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
            self._user(s, link.teen_user_id, lock=True)
            approver = self._approver(s, link.teen_user_id, link.guardian_user_id)
            if caller.subject != approver:
                raise PermissionDenied("only the teen's current or previous guardian can approve a new guardian",
                                       "approver_only")
            current = s.execute(select(guardian_links).where(guardian_links.c.teen_user_id == link.teen_user_id,
                                                             guardian_links.c.status == "active")).first()
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
            raise InvalidArgument("support must give the reason for unlinking; it is kept with the link", "reason_required")
        if len(reason) > 500:
            raise InvalidArgument("the reason is at most 500 characters", "invalid_reason")
        now = now_utc()
        with transaction(self.sessions) as s:
            link = s.execute(select(guardian_links).where(guardian_links.c.id == link_id).with_for_update()).first()
            if link is None or not support and caller.subject not in (
                    link.guardian_user_id, link.teen_user_id, link.approver_user_id):
                raise NotFound("you have no guardian link with that id", "link_not_found")
            if link.status not in ("active", "pending", "awaiting"):
                raise FailedPrecondition(f"the link is already {link.status}", "link_not_active")
            if link.status == "active" and not support and caller.subject != link.guardian_user_id:
                raise PermissionDenied("only your guardian can end this link", "guardian_only")
            if support:
                log.warning("support unlinked guardian link %s (teen %s, guardian %s) as %s: %s", link_id,
                            link.teen_user_id, link.guardian_user_id, caller.subject, reason)
            self._end_link(s, link, caller.subject, now, reason if support else "")
            return link_proto(s.execute(select(guardian_links).where(guardian_links.c.id == link_id)).one())

    def list_guardian_links(self, caller: Principal) -> list[identity_pb2.GuardianLink]:
        with self.sessions() as s:
            rows = s.execute(select(guardian_links).where(or_(guardian_links.c.guardian_user_id == caller.subject,
                                                              guardian_links.c.teen_user_id == caller.subject,
                                                              guardian_links.c.approver_user_id == caller.subject))
                             .order_by(guardian_links.c.created_at.desc())).all()
        now = now_utc()
        out = []
        for row in rows:
            link = link_proto(row)
            if row.status == "pending" and row.code_expires_at <= now:
                link.status = identity_pb2.GUARDIAN_LINK_STATUS_EXPIRED
            out.append(link)
        return out

    def _teen_for_controls(self, s: Session, caller: Principal, teen_id: str, *, write: bool):
        if not teen_id:
            raise InvalidArgument("teen_user_id is required", "teen_user_id_required")
        teen = self._user(s, teen_id, lock=write)
        if teen.age_group != "teen":
            raise FailedPrecondition("parental controls apply to teen accounts only", "not_a_teen")
        guardian = self._active_guardian(s, teen_id)
        if caller.is_service and not write:
            return teen, guardian
        if caller.subject == guardian or (not write and caller.subject == teen_id):
            return teen, guardian
        if write and caller.subject == teen_id:
            raise PermissionDenied("only a linked guardian can change parental controls", "guardian_only")
        raise PermissionDenied("you are not this teen's guardian", "not_guardian")

    def get_parental_controls(self, caller: Principal, teen_id: str) -> identity_pb2.ParentalControls:
        with self.sessions() as s:
            self._teen_for_controls(s, caller, teen_id, write=False)
            return controls_proto(s.execute(select(parental_controls)
                                            .where(parental_controls.c.teen_user_id == teen_id)).one())

    def set_parental_controls(self, caller: Principal, teen_id: str,
                              controls: identity_pb2.ParentalControls) -> identity_pb2.ParentalControls:
        if not 0 <= controls.daily_feed_item_cap <= 1000:
            raise InvalidArgument("daily_feed_item_cap is 0 (no cap) to 1000", "invalid_feed_cap")
        if controls.max_cameo_policy not in common_pb2.CameoPolicy.values() or \
                controls.max_cameo_policy == common_pb2.CAMEO_POLICY_UNSPECIFIED:
            raise InvalidArgument("max_cameo_policy must be ONLY_ME, APPROVED, MUTUALS or EVERYONE",
                                  "invalid_cameo_policy")
        with transaction(self.sessions) as s:
            self._teen_for_controls(s, caller, teen_id, write=True)
            s.execute(update(parental_controls).where(parental_controls.c.teen_user_id == teen_id).values(
                daily_feed_item_cap=controls.daily_feed_item_cap, non_personalized_feed=controls.non_personalized_feed,
                max_cameo_policy=controls.max_cameo_policy, updated_at=now_utc(), updated_by_user_id=caller.subject))
            return self._controls_changed(s, teen_id, caller.subject)
