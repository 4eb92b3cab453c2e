"""Event handlers. Each runs inside the consumer's de-duplication transaction,
so its effect and the "processed" mark commit together."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.runtime.consumer import EventMeta
from services.identity.blobs import BlobStore
from services.identity.erasure import erase_likeness
from services.identity.reserved import character_created, character_deleted


def consumed_events(blobs: BlobStore) -> dict[type[Message], Callable[..., None]]:
    def cameo_deleted(session: Session, msg: cameo_ev.CameoDeleted, meta: EventMeta) -> None:
        erase_likeness(session, blobs, msg.owner_user_id, msg.verification_id)

    return {
        cameo_ev.CameoDeleted: cameo_deleted,
        cameo_ev.CharacterCreated: lambda session, msg, meta: character_created(session, msg),
        cameo_ev.CharacterDeleted: lambda session, msg, meta: character_deleted(session, msg),
    }
