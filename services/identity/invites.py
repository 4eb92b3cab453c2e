"""Invites: a verified person's allowance of single-use, expiring sign-up
codes (and the admin service's, when KINORA_SERVICE_INVITES allows)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, select

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, PermissionDenied, ResourceExhausted
from services.identity.core import IdentityCore, now_utc
from services.identity.models import invites
from services.identity.validation import INVITE_ALPHABET


def invite_proto(row: Row[Any]) -> identity_pb2.Invite:
    msg = identity_pb2.Invite(
        code=row.code, created_by_user_id=row.created_by_user_id or "", used_by_user_id=row.used_by_user_id or ""
    )
    set_timestamp(msg.created_at, row.created_at)
    set_timestamp(msg.expires_at, row.expires_at)
    set_timestamp(msg.used_at, row.used_at)
    return msg


class Invites:
    def __init__(self, core: IdentityCore):
        self.core, self.sessions, self.settings = core, core.sessions, core.settings

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
                user = self.core.user(s, caller.subject, lock=True)  # the lock serialises the allowance check
                if not user.cameo_verified:
                    raise FailedPrecondition("verify your cameo to get invites", "not_verified")
                if self.core.invites_remaining(s, user) <= 0:
                    raise ResourceExhausted("you have no invites left", "no_invites_left")
                creator = user.id
            s.execute(
                invites.insert().values(code=code, created_by_user_id=creator, created_at=now, expires_at=expires)
            )
            return invite_proto(s.execute(select(invites).where(invites.c.code == code)).one())

    def list_invites(self, caller: Principal, page: common_pb2.PageRequest) -> tuple[list[identity_pb2.Invite], str]:
        return self.core.page(
            invites, invites.c.code, invites.c.created_by_user_id == caller.subject, page, invite_proto
        )
