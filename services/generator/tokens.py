"""Expiring media download tokens: `<generation>.<variant>.<expiry>.<hmac>`.
Stateless, so any API replica verifies them; the key comes from settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from kinora.runtime.errors import PermissionDenied


class DownloadTokens:
    def __init__(self, secret: bytes, default_ttl_s: int = 3600, max_ttl_s: int = 7 * 24 * 3600):
        if len(secret) < 16:
            raise ValueError("the download token secret must be at least 16 bytes")
        self.secret, self.default_ttl_s, self.max_ttl_s = secret, default_ttl_s, max_ttl_s

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self.secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, generation_id: str, variant: int, ttl_s: int = 0) -> tuple[str, int]:
        ttl = min(ttl_s or self.default_ttl_s, self.max_ttl_s)
        expires = int(time.time()) + ttl
        payload = f"{generation_id}.{variant}.{expires}"
        return f"{payload}.{self._mac(payload)}", expires

    def verify(self, token: str, generation_id: str, variant: int) -> None:
        payload, _, mac = token.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 3 or not hmac.compare_digest(mac, self._mac(payload)):
            raise PermissionDenied("the download link is not valid", "invalid_download_token")
        if parts[0] != generation_id or parts[1] != str(variant):
            raise PermissionDenied("the download link is for a different file", "invalid_download_token")
        if int(parts[2]) < time.time():
            raise PermissionDenied("the download link has expired; ask for a new one", "download_token_expired")
