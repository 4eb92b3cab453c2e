"""Page tokens and page sizes, one way for every list.

A token carries the key values the next page starts after (a keyset: the last
row's sort key; or an offset): JSON, base64url without padding, opaque to
clients. A service that must stop clients from editing a token or using one
issued to somebody else gives `PageTokens` a key: the token then carries an
HMAC-SHA256 (truncated to 16 bytes) of its body and of a `scope` the caller
names (e.g. the list and the viewer), so a token altered, or presented for
another scope, is refused. Every malformed, altered or mistyped token gets the
same InvalidArgument, `invalid_page_token`.

`page_size` is the one rule for a requested size: 0 means the call site's
default, a negative size is the caller's error, and sizes above the call
site's maximum are clamped to it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kinora.runtime.errors import InvalidArgument

KeyValue = str | int | datetime
_DATETIME_TAG = "t"  # a datetime is written as {"t": isoformat}
_MAC_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def page_size(requested: int, default: int, maximum: int) -> int:
    """The size to read for a requested page size (PageRequest.page_size)."""
    if requested < 0:
        raise InvalidArgument("page_size cannot be negative", "invalid_page_size")
    return min(requested or default, maximum)


def invalid_token() -> InvalidArgument:
    return InvalidArgument(
        "page_token is not valid: pass back next_page_token unchanged, or start again without one", "invalid_page_token"
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    # A character outside base64url is an error, not skipped (so "token!!" is refused).
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jsonable(value: KeyValue) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME_TAG: value.isoformat()}
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"a page token holds str, int or datetime values, not {type(value).__name__}")
    return value


def _value(raw: Any, kind: type[KeyValue]) -> KeyValue:
    if kind is datetime:
        if not (isinstance(raw, dict) and set(raw) == {_DATETIME_TAG} and isinstance(raw[_DATETIME_TAG], str)):
            raise ValueError("not a datetime")
        return datetime.fromisoformat(raw[_DATETIME_TAG])
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind is str and isinstance(raw, str):
        return raw
    raise ValueError(f"not a {kind.__name__}")


class PageTokens:
    """Encodes the key values a next page starts after, and decodes them from a client's
    token. `key`: sign tokens with it (None: plain, unsigned tokens)."""

    def __init__(self, key: bytes | None = None):
        self._key = key

    def _mac(self, scope: str, body: bytes) -> bytes:
        assert self._key is not None
        return hmac.new(self._key, scope.encode() + b"\0" + body, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, *values: KeyValue, scope: str = "") -> str:
        body = json.dumps([_jsonable(v) for v in values], separators=(",", ":")).encode()
        if self._key is None:
            return _b64(body)
        return f"{_b64(body)}.{_b64(self._mac(scope, body))}"

    def decode(self, token: str, *kinds: type[KeyValue], scope: str = "") -> tuple[KeyValue, ...] | None:
        """The values in `token`, one of each type in `kinds`; None for an empty token (the first
        page). Anything else that is not a token this encoder issued (for this scope) raises
        InvalidArgument."""
        if not token:
            return None
        try:
            if self._key is None:
                body = _unb64(token)
            else:
                body_text, mac_text = token.split(".")
                body = _unb64(body_text)
                if not hmac.compare_digest(self._mac(scope, body), _unb64(mac_text)):
                    raise ValueError("bad signature")
            raw = json.loads(body)
            if not isinstance(raw, list) or len(raw) != len(kinds):
                raise ValueError("wrong shape")
            return tuple(_value(r, k) for r, k in zip(raw, kinds, strict=True))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise invalid_token() from None

    def decode_offset(self, token: str, scope: str = "") -> int:
        """An offset token (from `encode(offset)`): 0 for the first page."""
        values = self.decode(token, int, scope=scope)
        if values is None:
            return 0
        offset = values[0]
        if not isinstance(offset, int) or offset < 0:
            raise invalid_token()
        return offset

    def next_offset(self, offset: int, size: int, more: bool, scope: str = "") -> str:
        """The token for the page after `size` rows read at `offset`; "" when there are no more."""
        return self.encode(offset + size, scope=scope) if more else ""


def keyset_token(tokens: PageTokens, rows: Sequence[Any], size: int, *columns: str, scope: str = "") -> str:
    """For rows read with one to spare (limit size + 1): the token that starts after the last
    row kept, from its `columns`; "" when no row was left over."""
    if len(rows) <= size:
        return ""
    last = rows[size - 1]
    return tokens.encode(*(getattr(last, c) if not isinstance(last, dict) else last[c] for c in columns), scope=scope)
