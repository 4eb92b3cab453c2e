"""Handles held by characters (docs/identity.md, "Handles"): people and cameo's characters
share one handle namespace. Cameo asks identity (GetUserByHandle) before it gives a character a
handle; identity learns of characters from cameo's CharacterCreated/CharacterDeleted events and
refuses their handles at sign-up. The window in between (both sides claim one new handle before
either hears of the other) is settled for the person: the character's reservation is skipped and
logged, and an `@handle` mention names the person (services/gateway/mentions.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.runtime.convert import datetime_or_none
from services.identity.models import reserved_handles, users

log = logging.getLogger("kinora.identity.handles")


def held_by_character(s: Session, handle: str) -> bool:
    return s.execute(select(reserved_handles.c.cameo_id).where(reserved_handles.c.handle == handle)).first() is not None


def character_created(s: Session, msg: cameo_ev.CharacterCreated) -> None:
    """Reserves the character's handle; idempotent (a redelivered event changes nothing)."""
    if s.execute(select(users.c.id).where(users.c.handle == msg.handle)).first() is not None:
        # A person signed up with it before this event arrived: the person keeps it.
        log.warning(
            "character %s claimed @%s, which a person already holds; mentions of it name the person",
            msg.cameo_id,
            msg.handle,
        )
        return
    at = datetime_or_none(msg, "occurred_at") or datetime.now(UTC)
    s.execute(
        insert(reserved_handles)
        .values(handle=msg.handle, cameo_id=msg.cameo_id, owner_user_id=msg.owner_user_id, reserved_at=at)
        .on_conflict_do_nothing()
    )


def character_deleted(s: Session, msg: cameo_ev.CharacterDeleted) -> None:
    """A deleted character's handle is free again (cameo frees it too)."""
    s.execute(delete(reserved_handles).where(reserved_handles.c.cameo_id == msg.cameo_id))
