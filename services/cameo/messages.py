"""Rows to protobuf messages: what the servicer answers and the events carry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.runtime.auth import Principal
from kinora.runtime.convert import timestamp


def cameo_message(row: Row[Any], viewer: Principal | None = None) -> pb.Cameo:
    """The cameo as `viewer` (a Principal; None: a service or an event) may see it. Another user
    learns neither the owner's age group nor the cap a guardian set: both tell a teen's account."""
    msg = _cameo_message(row)
    if viewer is not None and not viewer.is_service and viewer.subject != row.owner_user_id:
        msg.ClearField("owner_age_group")
        msg.ClearField("max_policy")
    return msg


def _cameo_message(row: Row[Any]) -> pb.Cameo:
    return pb.Cameo(
        id=row.id,
        owner_user_id=row.owner_user_id,
        owner_handle=row.owner_handle,
        display_name=row.display_name,
        policy=row.policy,
        status=row.status,
        owner_age_group=row.owner_age_group,
        max_policy=row.max_policy,
        verified_at=timestamp(row.verified_at),
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
        revision=row.revision,
        verified=row.verified,
        restriction_count=row.restriction_count,
        kind=row.kind,
        handle=row.handle or row.owner_handle,
        description=row.description,
    )


def approval_message(row: Row[Any]) -> pb.Approval:
    return pb.Approval(
        id=row.id,
        cameo_id=row.cameo_id,
        user_id=row.user_id,
        user_handle=row.user_handle,
        status=row.status,
        message=row.message,
        requested_at=timestamp(row.requested_at),
        decided_at=timestamp(row.decided_at),
    )


def blocked_message(row: Row[Any]) -> pb.BlockedUser:
    return pb.BlockedUser(
        cameo_id=row.cameo_id, user_id=row.user_id, user_handle=row.user_handle, blocked_at=timestamp(row.blocked_at)
    )


def restriction_message(row: Row[Any]) -> pb.Restriction:
    return pb.Restriction(id=row.id, cameo_id=row.cameo_id, text=row.text, created_at=timestamp(row.created_at))


def appearance_message(row: Row[Any]) -> pb.Appearance:
    return pb.Appearance(
        id=row.id,
        cameo_id=row.cameo_id,
        kind=row.kind,
        state=row.state,
        generation_id=row.generation_id,
        post_id=row.post_id,
        creator_user_id=row.creator_user_id,
        creator_handle=row.creator_handle,
        prompt=row.prompt,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )


def notification_message(row: Row[Any]) -> pb.Notification:
    return pb.Notification(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        cameo_id=row.cameo_id,
        actor_user_id=row.actor_user_id,
        actor_handle=row.actor_handle,
        generation_id=row.generation_id,
        post_id=row.post_id,
        message=row.message,
        read=row.read,
        created_at=timestamp(row.created_at),
    )


def audit_message(row: Row[Any]) -> pb.AuditEntry:
    return pb.AuditEntry(
        id=str(row.id),
        cameo_id=row.cameo_id,
        action=row.action,
        actor_user_id=row.actor_user_id,
        subject_user_id=row.subject_user_id,
        detail_json=row.detail_json,
        revision=row.revision,
        created_at=timestamp(row.created_at),
    )
