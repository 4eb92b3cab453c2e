"""Ids and the clock, shared by cameo's domain, reads and consent check."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from kinora.runtime.errors import InvalidArgument


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def require_id(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(f"{what} {value!r} is not a valid id", f"invalid_{what.replace(' ', '_')}") from None
