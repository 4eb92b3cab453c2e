"""Event handlers: cameo takedowns delete a generation's media; a deleted
cameo's voice leaves the scene plans."""

from __future__ import annotations

import logging

from kinora.cameo.v1 import events_pb2 as cameo_events
from kinora.identity.v1 import events_pb2 as identity_events
from services.generator.domain import take_down
from services.generator.erasure import forget_cameo, forget_user

log = logging.getLogger("kinora.generator")


def on_takedown(tables, blobs):
    def handle(session, message: cameo_events.TakedownRequested, meta) -> None:
        if message.target_kind != cameo_events.TAKEDOWN_TARGET_KIND_GENERATION:
            return
        for generation_id in message.target_ids:
            if take_down(session, tables, blobs, generation_id, message.takedown_id):
                log.info("took down %s (takedown %s)", generation_id, message.takedown_id)

    return handle


def on_cameo_deleted(session, message: cameo_events.CameoDeleted, meta) -> None:
    if changed := forget_cameo(session, message.cameo_id):
        log.info("forgot the voice of deleted cameo %s in %d scene plan(s)", message.cameo_id, changed)


def on_user_deleted(blobs):
    def handle(session, message, meta) -> None:
        if gone := forget_user(session, blobs, message.user_id):
            log.info("erased %d generation(s) of deleted user %s", gone, message.user_id)

    return handle


def consumed_events(tables, blobs) -> dict:
    """Event type -> handler: one for each type topics.CONSUMES declares the generator reads."""
    return {
        cameo_events.TakedownRequested: on_takedown(tables, blobs),
        cameo_events.CameoDeleted: on_cameo_deleted,
        identity_events.UserDeleted: on_user_deleted(blobs),
    }
