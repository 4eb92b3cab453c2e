"""One handle namespace for people and characters (docs/cameo.md, "Characters").

A character's handle must be held by no person. Cameo's own copy of identity's users
(from UserCreated) lags by the event's trip, so before a character takes a handle, identity
is asked (GetUserByHandle, with cameo's service token). Identity learns of characters from
CharacterCreated/CharacterDeleted (emitted here, through the outbox) and refuses their handles at
sign-up. A deleted character's handle is free again, here and in identity."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
from sqlalchemy import update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import events_pb2 as ev
from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
from kinora.runtime.clients import TokenSource, channel
from kinora.runtime.convert import timestamp
from kinora.runtime.errors import Unavailable
from kinora.runtime.events import EventTables
from services.cameo import models as m
from services.cameo.ids import now
from services.cameo.topics import publish

IDENTITY_TIMEOUT_S = 5.0
PersonHolds = Callable[[str], bool]


def nobody(handle: str) -> bool:
    """Without identity (no address or no service credentials) only cameo's own copy is asked."""
    return False


class IdentityHandles:
    """Asks identity whether a person holds a handle."""

    def __init__(self, address: str, tokens: TokenSource) -> None:
        self.address, self.tokens = address, tokens
        self._stub: Any = None

    @classmethod
    def from_settings(cls, identity_addr: str | None, tokens: TokenSource | None) -> IdentityHandles | None:
        return cls(identity_addr, tokens) if identity_addr and tokens is not None else None

    async def person_holds(self, handle: str) -> bool:
        if self._stub is None:
            self._stub = identity_pb2_grpc.IdentityServiceStub(channel(self.address, self.tokens))
        try:
            await self._stub.GetUserByHandle(
                identity_pb2.GetUserByHandleRequest(handle=handle), timeout=IDENTITY_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise Unavailable(
                "cannot check with the accounts service that the handle is free; try again in a moment",
                "identity_unavailable",
            ) from None
        return True

    def blocking(self) -> PersonHolds:
        """`person_holds` for a worker thread, run on the calling event loop (call this on the loop)."""
        loop = asyncio.get_running_loop()

        def holds(handle: str) -> bool:
            return asyncio.run_coroutine_threadsafe(self.person_holds(handle), loop).result(IDENTITY_TIMEOUT_S + 5)

        return holds


def person_check(people: IdentityHandles | None) -> PersonHolds:
    """The check a character creation runs in its worker thread (call on the event loop)."""
    return people.blocking() if people is not None else nobody


def character_created(s: Session, tables: EventTables, cameo_id: str, handle: str, owner: str) -> None:
    publish(
        s,
        tables,
        ev.CharacterCreated(cameo_id=cameo_id, handle=handle, owner_user_id=owner, occurred_at=timestamp(now())),
        cameo_id,
    )


def character_deleted(s: Session, tables: EventTables, row: Any) -> None:
    """Frees a deleted character's handle, here and (through the event) in identity."""
    if row.handle is None:
        return
    s.execute(update(m.cameos).where(m.cameos.c.id == row.id).values(handle=None))
    publish(
        s,
        tables,
        ev.CharacterDeleted(
            cameo_id=row.id, handle=row.handle, owner_user_id=row.owner_user_id, occurred_at=timestamp(now())
        ),
        row.id,
    )
