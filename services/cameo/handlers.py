"""Event handlers. Each runs inside the consumer's de-duplication transaction,
so its effect and the "processed" mark commit together."""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.runtime.consumer import EventMeta
from kinora.runtime.convert import datetime_or_none
from services.cameo.appearances import AppearanceIndex
from services.cameo.domain import Cameos
from services.cameo.erasure import forget_user
from services.cameo.ids import now
from services.cameo.models import tables

_cameos = Cameos(tables)
_index = AppearanceIndex(_cameos)


# identity


def cameo_verified(session: Session, msg: id_ev.CameoVerified, meta: EventMeta) -> None:
    _cameos.on_verified(session, msg)


def user_created(session: Session, msg: id_ev.UserCreated, meta: EventMeta) -> None:
    _cameos.on_user(session, msg.user)


def user_updated(session: Session, msg: id_ev.UserUpdated, meta: EventMeta) -> None:
    changed_at = datetime_or_none(msg, "occurred_at") or now()
    _cameos.on_user(session, msg.user, changed_at)


def user_deleted(session: Session, msg: id_ev.UserDeleted, meta: EventMeta) -> None:
    forget_user(session, _cameos, msg.user_id, msg.anonymous_id)


def parental_controls_changed(session: Session, msg: id_ev.ParentalControlsChanged, meta: EventMeta) -> None:
    _cameos.on_parental_controls(session, msg.teen_user_id, msg.guardian_user_id, msg.controls.max_cameo_policy)


# feed


def follow_changed(session: Session, msg: feed_ev.FollowChanged, meta: EventMeta) -> None:
    # Only the edge the follower changed: records are keyed by the follower,
    # so these arrive in order; `followed_back` may be older than the other
    # user's own events and is not trusted.
    _cameos.on_follow(session, msg.follower_user_id, msg.followee_user_id, msg.following)


def block_changed(session: Session, msg: feed_ev.BlockChanged, meta: EventMeta) -> None:
    _cameos.on_user_block(session, msg.blocker_user_id, msg.blocked_user_id, msg.blocked)


def post_published(session: Session, msg: feed_ev.PostPublished, meta: EventMeta) -> None:
    _index.record(
        session, msg.cameo_ids, msg.generation_id, msg.author_user_id, "", pb.APPEARANCE_KIND_POST, post_id=msg.post_id
    )


def post_removed(session: Session, msg: feed_ev.PostRemoved, meta: EventMeta) -> None:
    if msg.reason != feed_ev.REMOVAL_REASON_UNSPECIFIED:
        _index.post_removed(session, msg.generation_id)


# generator


def generation_requested(session: Session, msg: gen_ev.GenerationRequested, meta: EventMeta) -> None:
    f = msg.facts
    _index.record(session, f.cameo_ids, f.generation_id, f.user_id, msg.prompt, pb.APPEARANCE_KIND_GENERATION)


def generation_completed(session: Session, msg: gen_ev.GenerationCompleted, meta: EventMeta) -> None:
    f = msg.facts
    _index.record(session, f.cameo_ids, f.generation_id, f.user_id, msg.prompt, pb.APPEARANCE_KIND_DRAFT)


def generation_gone(
    session: Session,
    msg: gen_ev.GenerationFailed | gen_ev.GenerationCanceled | gen_ev.GenerationTakenDown | gen_ev.GenerationDeleted,
    meta: EventMeta,
) -> None:
    """Failed, canceled, deleted or taken down: no video exists any more."""
    _index.set_state_for_generation(session, msg.facts.generation_id, pb.APPEARANCE_STATE_REMOVED)


def consumed_events() -> dict[type[Message], Callable[..., None]]:
    """Event type -> handler: one for each type topics.CONSUMES says cameo reads
    (tests/cameo/test_cameo_topics.py holds the two together)."""
    return {
        id_ev.CameoVerified: cameo_verified,
        id_ev.UserCreated: user_created,
        id_ev.UserUpdated: user_updated,
        id_ev.UserDeleted: user_deleted,
        id_ev.ParentalControlsChanged: parental_controls_changed,
        feed_ev.FollowChanged: follow_changed,
        feed_ev.BlockChanged: block_changed,
        feed_ev.PostPublished: post_published,
        feed_ev.PostRemoved: post_removed,
        gen_ev.GenerationRequested: generation_requested,
        gen_ev.GenerationCompleted: generation_completed,
        gen_ev.GenerationFailed: generation_gone,
        gen_ev.GenerationCanceled: generation_gone,
        gen_ev.GenerationTakenDown: generation_gone,
        gen_ev.GenerationDeleted: generation_gone,
    }
