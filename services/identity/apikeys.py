"""API keys: scoped, revocable secrets a person makes for programs (at most
25 active), traded for short-lived access tokens (ExchangeApiKey), and each
key's webhook endpoint with its signing secret."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_epoch_seconds, set_timestamp, to_datetime
from kinora.runtime.db import transaction
from kinora.runtime.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.identity.core import IdentityCore, now_utc, sha256_hex
from services.identity.models import api_keys

API_SCOPES = frozenset(
    {"videos:read", "videos:write", "cameos:read", "cameos:write", "feed:read", "feed:write", "billing:read"}
)
MAX_ACTIVE_API_KEYS = 25


def webhook_proto(row: Row[Any], with_secret: bool) -> identity_pb2.ApiKeyWebhook:
    msg = identity_pb2.ApiKeyWebhook(
        api_key_id=row.id, url=row.webhook_url, secret=row.webhook_secret if with_secret else ""
    )
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


def api_key_proto(row: Row[Any]) -> identity_pb2.ApiKey:
    msg = identity_pb2.ApiKey(id=row.id, name=row.name, prefix=row.prefix, scopes=row.scopes.split())
    for field in ("created_at", "last_used_at", "expires_at", "revoked_at"):
        set_timestamp(getattr(msg, field), getattr(row, field))
    return msg


class ApiKeys:
    def __init__(self, core: IdentityCore):
        self.core, self.sessions, self.settings = core, core.sessions, core.settings

    def create_api_key(
        self, caller: Principal, req: identity_pb2.CreateApiKeyRequest
    ) -> tuple[identity_pb2.ApiKey, str]:
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
            raise InvalidArgument(
                f"unknown scope {unknown[0]!r}; choose from {', '.join(sorted(API_SCOPES))}", "invalid_scope"
            )
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
            self.core.user(s, caller.subject, lock=True)
            active = s.execute(
                select(func.count())
                .select_from(api_keys)
                .where(api_keys.c.user_id == caller.subject, api_keys.c.revoked_at.is_(None))
            ).scalar_one()
            if active >= MAX_ACTIVE_API_KEYS:
                raise ResourceExhausted(
                    f"you already have {MAX_ACTIVE_API_KEYS} active API keys; revoke one first", "too_many_api_keys"
                )
            s.execute(
                api_keys.insert().values(
                    id=key_id,
                    user_id=caller.subject,
                    name=name,
                    prefix=prefix,
                    secret_hash=sha256_hex(secret),
                    scopes=" ".join(scopes),
                    created_at=now,
                    expires_at=expires,
                )
            )
            row = s.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
        return api_key_proto(row), secret

    def list_api_keys(self, caller: Principal, page: common_pb2.PageRequest) -> tuple[list[identity_pb2.ApiKey], str]:
        return self.core.page(api_keys, api_keys.c.id, api_keys.c.user_id == caller.subject, page, api_key_proto)

    def _own_api_key(self, s: Session, caller: Principal, key_id: str, lock: bool = False) -> Row[Any]:
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
            s.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(webhook_url=url, webhook_secret=secret, webhook_updated_at=now_utc())
            )
            row = s.execute(select(api_keys).where(api_keys.c.id == key_id)).one()
        return webhook_proto(row, with_secret=True)

    def get_api_key_webhook(self, caller: Principal, key_id: str) -> identity_pb2.ApiKeyWebhook:
        """The key's endpoint: for its owner without the secret; for a service (the gateway,
        delivering) with it, and only while the key is usable."""
        row: Row[Any] | None
        with transaction(self.sessions) as s:
            if not caller.is_service:
                row = self._own_api_key(s, caller, key_id)
            else:
                if not key_id:
                    raise InvalidArgument("api_key_id is required", "api_key_id_required")
                row = s.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
                if (
                    row is None
                    or row.revoked_at is not None
                    or (row.expires_at is not None and row.expires_at <= now_utc())
                ):
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
            s.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .values(webhook_url=None, webhook_secret=None, webhook_updated_at=now_utc())
            )
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
            user = self.core.user(s, row.user_id)
        scopes = row.scopes.split()
        # sid = the key: revoking it (or deleting the account) puts its tokens on the deny list.
        token, exp = self.core.access_token(
            user.id,
            user.handle,
            user.age_group == "teen",
            kind="apikey",
            scopes=scopes,
            ttl_s=self.settings.apikey_token_ttl_s,
            session_id=row.id,
        )
        reply = identity_pb2.ExchangeApiKeyResponse(
            access_token=token, user_id=user.id, api_key_id=row.id, scopes=scopes
        )
        set_epoch_seconds(reply.expires_at, exp)
        return reply
