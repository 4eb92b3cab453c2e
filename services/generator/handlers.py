"""Event handlers: cameo takedowns delete a generation's media."""

from __future__ import annotations

import logging

from kinora.cameo.v1 import events_pb2 as cameo_events
from services.generator.domain import take_down

log = logging.getLogger("kinora.generator")


def on_takedown(tables, blobs):
    def handle(session, message: cameo_events.TakedownRequested, meta) -> None:
        if message.target_kind != cameo_events.TAKEDOWN_TARGET_KIND_GENERATION:
            return
        for generation_id in message.target_ids:
            if take_down(session, tables, blobs, generation_id, message.takedown_id):
                log.info("took down %s (takedown %s)", generation_id, message.takedown_id)

    return handle
