"""Event handlers. Each runs inside the consumer's de-duplication transaction,
so its effect (and any event it emits) commits with the "processed" mark."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from kinora.cameo.v1 import events_pb2 as cameo_ev
from kinora.common.v1 import common_pb2
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.runtime.consumer import EventMeta
from services.feed.domain import Feed
from services.feed.erasure import forget_user
from services.feed.topics import (
    GENERATION_COMPLETED,
    GENERATION_PENDING,
    TAKEDOWN_TARGET_GENERATION,
    TAKEDOWN_TARGET_POST,
)

_GenerationGone = (
    gen_ev.GenerationFailed | gen_ev.GenerationCanceled | gen_ev.GenerationTakenDown | gen_ev.GenerationDeleted
)
_UserChanged = id_ev.UserCreated | id_ev.UserUpdated

_TARGET_KIND = {
    cameo_ev.TAKEDOWN_TARGET_KIND_POST: TAKEDOWN_TARGET_POST,
    cameo_ev.TAKEDOWN_TARGET_KIND_GENERATION: TAKEDOWN_TARGET_GENERATION,
}


# generator: the feed's copy of each generation (drafts are completed, unpublished ones)


def generation_requested(feed: Feed) -> Callable[[Session, gen_ev.GenerationRequested, EventMeta], None]:
    def handle(session: Session, msg: gen_ev.GenerationRequested, meta: EventMeta) -> None:
        feed.on_generation(session, msg.facts, GENERATION_PENDING, msg.prompt)

    return handle


def generation_completed(feed: Feed) -> Callable[[Session, gen_ev.GenerationCompleted, EventMeta], None]:
    def handle(session: Session, msg: gen_ev.GenerationCompleted, meta: EventMeta) -> None:
        feed.on_generation(session, msg.facts, GENERATION_COMPLETED, msg.prompt)

    return handle


def generation_status(feed: Feed, status: str) -> Callable[[Session, _GenerationGone, EventMeta], None]:
    """Failed, canceled, taken down or deleted; the last two remove its post."""

    def handle(session: Session, msg: _GenerationGone, meta: EventMeta) -> None:
        feed.on_generation(session, msg.facts, status)

    return handle


# cameo


def takedown_requested(feed: Feed) -> Callable[[Session, cameo_ev.TakedownRequested, EventMeta], None]:
    def handle(session: Session, msg: cameo_ev.TakedownRequested, meta: EventMeta) -> None:
        kind = _TARGET_KIND.get(msg.target_kind)
        if kind is not None:
            feed.on_takedown(session, msg.takedown_id, kind, list(msg.target_ids))

    return handle


# identity


def parental_controls_changed(feed: Feed) -> Callable[[Session, id_ev.ParentalControlsChanged, EventMeta], None]:
    def handle(session: Session, msg: id_ev.ParentalControlsChanged, meta: EventMeta) -> None:
        feed.on_parental_controls(
            session, msg.teen_user_id, msg.controls.daily_feed_item_cap, msg.controls.non_personalized_feed
        )

    return handle


def user_changed(feed: Feed) -> Callable[[Session, _UserChanged, EventMeta], None]:
    def handle(session: Session, msg: _UserChanged, meta: EventMeta) -> None:
        u = msg.user
        feed.on_user(session, u.id, u.handle, u.region, u.age_group == common_pb2.AGE_GROUP_TEEN)

    return handle


def user_deleted(feed: Feed) -> Callable[[Session, id_ev.UserDeleted, EventMeta], None]:
    def handle(session: Session, msg: id_ev.UserDeleted, meta: EventMeta) -> None:
        forget_user(session, msg.user_id)

    return handle
