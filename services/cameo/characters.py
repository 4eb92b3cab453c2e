"""Characters: cameos of an animal, an object or a drawing (see docs/cameo.md, "Characters").

A character is a row of `cameos` with kind CHARACTER, so everything a person's cameo has
works on it unchanged: the four policies, approvals, blocks, restrictions, the consent check
(`policy.decide`, not forked), appearances, revocation, takedown and erasure. What differs
is how it is made: by its owner, from an upload searched for human faces
(character_media.py) instead of a liveness check, with its own handle and a description.
It takes its owner's age group and guardian cap, like the owner's own cameo would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.convert import timestamp
from kinora.runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from services.cameo import models as m
from services.cameo.character_media import CharacterMedia
from services.cameo.domain import Cameos
from services.cameo.handles import PersonHolds, character_created, nobody
from services.cameo.ids import new_id, now
from services.cameo.messages import cameo_message
from services.cameo.policy import ACTIVE, CHARACTER, ONLY_ME, PERSON, TEEN, effective_max_policy
from services.cameo.topics import publish

MAX_CHARACTERS = 20  # active characters per owner
MAX_NAME_CHARS, MAX_DESCRIPTION_CHARS = 100, 500
HANDLE_RE = re.compile(r"[a-z0-9_]{3,30}")
MAX_DERIVED_TRIES = 50


@dataclass(frozen=True)
class CharacterInput:
    name: str
    handle: str  # empty: derived from the name
    description: str


def validate(name: str, handle: str, description: str) -> CharacterInput:
    """The request's text fields, checked before the (slow) upload is read."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidArgument(f"give the character a name of 1 to {MAX_NAME_CHARS} characters", "invalid_name")
    handle = (handle or "").strip().lstrip("@")
    if handle and not HANDLE_RE.fullmatch(handle):
        raise InvalidArgument(
            "a character's handle is 3 to 30 lowercase letters, digits or underscores, e.g. rex_the_dog",
            "invalid_handle",
        )
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidArgument(
            f"the description is {len(description)} characters; the limit is {MAX_DESCRIPTION_CHARS}",
            "description_too_long",
        )
    return CharacterInput(name, handle, description)


def handle_from_name(name: str) -> str:
    """A handle made of the name: lowercase letters and digits, words joined by underscores."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:24].strip("_")
    return base if len(base) >= 3 else (base + "_character").strip("_")


def handle_taken(s: Session, handle: str) -> bool:
    """A person's handle (any user cameo knows, with a cameo or not) or a character's. Cameo's copy
    of identity's users lags by an event's trip: `create` asks identity too (handles.py)."""
    c, u = m.cameos.c, m.users.c
    taken = (
        s.execute(select(func.count()).select_from(m.users).where(u.handle == handle)).scalar_one()
        or s.execute(
            select(func.count())
            .select_from(m.cameos)
            .where((c.handle == handle) | ((c.kind == PERSON) & (c.owner_handle == handle)))
        ).scalar_one()
    )
    return bool(taken)


class Characters:
    def __init__(self, cameos: Cameos) -> None:
        self.cameos = cameos

    def create(
        self,
        s: Session,
        owner: str,
        owner_handle: str,
        owner_teen: bool,
        given: CharacterInput,
        media: CharacterMedia,
        person_holds: PersonHolds = nobody,
    ) -> Row[Any]:
        """Creates the character (policy: only me) with its reference images, in the caller's transaction.
        `person_holds` asks identity whether a person has a handle (no handle of a person is taken)."""
        # One creation per owner at a time, so the limit holds under concurrent requests.
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"characters:{owner}"})
        c = m.cameos.c
        count = s.execute(
            select(func.count())
            .select_from(m.cameos)
            .where(c.owner_user_id == owner, c.kind == CHARACTER, c.status == ACTIVE)
        ).scalar_one()
        if count >= MAX_CHARACTERS:
            raise FailedPrecondition(
                f"you have {count} characters, the most one account may have; delete one to make another",
                "too_many_characters",
            )
        self.cameos.upsert_user(s, owner, owner_handle or None, TEEN if owner_teen else None)
        user = s.execute(select(m.users).where(m.users.c.user_id == owner)).one()
        age = TEEN if owner_teen else (user.age_group or common.AGE_GROUP_ADULT)
        cap = effective_max_policy(age, user.max_cameo_policy)
        cameo_id = new_id()
        handle = self._insert(s, cameo_id, owner, user.handle or owner_handle, age, cap, given, person_holds)
        for position, ref in enumerate(media.references):
            s.execute(
                insert(m.character_images).values(cameo_id=cameo_id, position=position, png=ref.png, sha256=ref.sha256)
            )
        self.cameos._audit(
            s,
            cameo_id,
            pb.AUDIT_ACTION_CAMEO_CREATED,
            owner,
            1,
            kind="character",
            handle=handle,
            media=media.kind,
            frames_searched=media.frames_searched,
        )
        row = self.cameos.get(s, cameo_id)
        publish(
            s, self.cameos.tables, ev.CameoCreated(cameo=cameo_message(row), occurred_at=timestamp(now())), cameo_id
        )
        character_created(s, self.cameos.tables, cameo_id, handle, owner)  # identity reserves the handle
        return row

    def _insert(
        self,
        s: Session,
        cameo_id: str,
        owner: str,
        owner_handle: str,
        age: int,
        cap: int,
        given: CharacterInput,
        person_holds: PersonHolds,
    ) -> str:
        """Inserts the row under the given handle, or the first free one derived from the name."""
        base = given.handle or handle_from_name(given.name)
        candidates = [base] if given.handle else [base] + [f"{base}_{n}" for n in range(2, MAX_DERIVED_TRIES + 1)]
        at = now()
        for handle in candidates:
            if handle_taken(s, handle) or person_holds(handle):
                continue
            try:
                with s.begin_nested():
                    s.execute(
                        insert(m.cameos).values(
                            id=cameo_id,
                            kind=CHARACTER,
                            handle=handle,
                            description=given.description,
                            owner_user_id=owner,
                            owner_handle=owner_handle,
                            display_name=given.name,
                            policy=ONLY_ME,
                            status=ACTIVE,
                            verified=True,
                            owner_age_group=age,
                            max_policy=cap,
                            likeness=common.LikenessAssets().SerializeToString(),
                            revision=1,
                            verified_at=at,
                            created_at=at,
                            updated_at=at,
                        )
                    )
                return handle
            except IntegrityError:  # taken by a character made at the same moment
                continue
        if given.handle:
            raise AlreadyExists(
                f"@{given.handle} is taken by a person or another character; choose another handle", "handle_taken"
            )
        raise AlreadyExists(f"no free handle near @{base}; choose one", "handle_taken")
