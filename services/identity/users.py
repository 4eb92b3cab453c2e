"""Users: sign-up (invite, region, age, handle, password; a teen account gets
parental-control defaults), looking users up, and the profile. Changing the
password and deleting the account are in account.py."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kinora.identity.v1 import events_pb2, identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.identity.controls import Controls
from services.identity.core import IdentityCore, now_utc, sha256_hex
from services.identity.models import invites, retired_handles, users
from services.identity.reserved import held_by_character
from services.identity.signin import Issued, SignIn
from services.identity.validation import (
    MIN_AGE,
    age_on,
    check_password,
    normalise_handle,
    normalise_invite,
    parse_birthdate,
)


class Users:
    def __init__(self, core: IdentityCore, signin: SignIn, controls: Controls):
        self.core, self.signin, self.controls = core, signin, controls
        self.sessions, self.settings, self.hasher = core.sessions, core.settings, core.hasher

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
                if s.execute(
                    select(retired_handles).where(retired_handles.c.handle_hash == sha256_hex(handle))
                ).first():
                    raise AlreadyExists(
                        f"the handle {handle} belonged to a deleted account and is retired", "handle_retired"
                    )
                if held_by_character(s, handle):
                    raise AlreadyExists(
                        f"the handle {handle} belongs to a character; choose another handle", "handle_taken"
                    )
                s.execute(
                    users.insert().values(
                        id=user_id,
                        handle=handle,
                        display_name=display_name,
                        password_hash=password_hash,
                        region=region,
                        birthdate=born,
                        age_group=age_group,
                        cameo_verified=False,
                        invited_by_user_id=invite.created_by_user_id,
                        created_at=now,
                        updated_at=now,
                    )
                )
                s.flush()
                s.execute(update(invites).where(invites.c.code == code).values(used_by_user_id=user_id, used_at=now))
                user = self.core.user_proto(s, self.core.user(s, user_id), own=True)
                created = events_pb2.UserCreated(
                    user=user, invite_code=code, invited_by_user_id=invite.created_by_user_id or ""
                )
                set_timestamp(created.occurred_at, now)
                self.core.emit_user(s, created, user_id)
                if age_group == "teen":
                    self.controls.set_teen_defaults(s, user_id, now)
                tokens = self.signin.issue(s, user_id, handle, age_group == "teen", "")
        except IntegrityError:  # a concurrent sign-up took the handle between check and insert
            raise AlreadyExists(f"the handle {handle} is taken", "handle_taken") from None
        return Issued(user, tokens)

    def get_user(self, caller: Principal, user_id: str) -> identity_pb2.User:
        if not user_id:
            raise InvalidArgument("user_id is required", "user_id_required")
        with self.sessions() as s:
            return self.core.user_proto(s, self.core.user(s, user_id), own=caller.subject == user_id, viewer=caller)

    def get_user_by_handle(self, caller: Principal, handle: str) -> identity_pb2.User:
        handle = normalise_handle(handle)
        with self.sessions() as s:
            row = s.execute(select(users).where(users.c.handle == handle)).first()
            if row is None:
                raise NotFound(f"no user has the handle {handle}", "user_not_found")
            return self.core.user_proto(s, row, own=caller.subject == row.id, viewer=caller)

    def batch_get_users(self, caller: Principal, user_ids: list[str]) -> list[identity_pb2.User]:
        if len(user_ids) > 100:
            raise InvalidArgument("ask for at most 100 users at a time", "too_many_ids")
        with self.sessions() as s:
            rows = s.execute(select(users).where(users.c.id.in_(set(user_ids)))).all()
            by_id = {r.id: self.core.user_proto(s, r, own=caller.subject == r.id, viewer=caller) for r in rows}
        return [by_id[i] for i in dict.fromkeys(user_ids) if i in by_id]

    def update_profile(self, caller: Principal, req: identity_pb2.UpdateProfileRequest) -> identity_pb2.User:
        with transaction(self.sessions) as s:
            self.core.user(s, caller.subject, lock=True)
            if req.HasField("display_name"):
                name = req.display_name.strip()
                if not 1 <= len(name) <= 80:
                    raise InvalidArgument("display_name is 1 to 80 characters", "invalid_display_name")
                s.execute(
                    update(users).where(users.c.id == caller.subject).values(display_name=name, updated_at=now_utc())
                )
                self.core.user_updated(s, caller.subject)
            return self.core.user_proto(s, self.core.user(s, caller.subject), own=True)
