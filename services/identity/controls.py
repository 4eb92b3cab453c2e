"""Parental controls of a teen account: the defaults set at sign-up, and
reading and changing them (a linked guardian changes them; the teen and
services may read them). Every change emits ParentalControlsChanged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from kinora.common.v1 import common_pb2
from kinora.identity.v1 import events_pb2, identity_pb2
from kinora.runtime.auth import Principal
from kinora.runtime.convert import set_timestamp
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.identity.core import IdentityCore, now_utc
from services.identity.models import parental_controls


def controls_proto(row: Row[Any]) -> identity_pb2.ParentalControls:
    msg = identity_pb2.ParentalControls(
        daily_feed_item_cap=row.daily_feed_item_cap,
        non_personalized_feed=row.non_personalized_feed,
        max_cameo_policy=row.max_cameo_policy,
        updated_by_user_id=row.updated_by_user_id or "",
    )
    set_timestamp(msg.updated_at, row.updated_at)
    return msg


class Controls:
    def __init__(self, core: IdentityCore):
        self.core, self.sessions, self.settings = core, core.sessions, core.settings

    def set_teen_defaults(self, s: Session, teen_id: str, now: datetime) -> None:
        values = dict(
            daily_feed_item_cap=self.settings.teen_daily_feed_cap,
            non_personalized_feed=True,
            max_cameo_policy=common_pb2.CAMEO_POLICY_APPROVED,
            updated_at=now,
            updated_by_user_id=None,
        )
        s.execute(parental_controls.insert().values(teen_user_id=teen_id, **values))
        self._controls_changed(s, teen_id, "")

    def _controls_changed(self, s: Session, teen_id: str, guardian_id: str) -> identity_pb2.ParentalControls:
        controls = controls_proto(
            s.execute(select(parental_controls).where(parental_controls.c.teen_user_id == teen_id)).one()
        )
        event = events_pb2.ParentalControlsChanged(
            teen_user_id=teen_id, guardian_user_id=guardian_id, controls=controls
        )
        set_timestamp(event.occurred_at, now_utc())
        self.core.emit_user(s, event, teen_id)
        return controls

    def _teen_for_controls(
        self, s: Session, caller: Principal, teen_id: str, *, write: bool
    ) -> tuple[Row[Any], str | None]:
        if not teen_id:
            raise InvalidArgument("teen_user_id is required", "teen_user_id_required")
        teen = self.core.user(s, teen_id, lock=write)
        if teen.age_group != "teen":
            raise FailedPrecondition("parental controls apply to teen accounts only", "not_a_teen")
        guardian = self.core.active_guardian(s, teen_id)
        if caller.is_service and not write:
            return teen, guardian
        if caller.subject == guardian or (not write and caller.subject == teen_id):
            return teen, guardian
        if write and caller.subject == teen_id:
            raise PermissionDenied("only a linked guardian can change parental controls", "guardian_only")
        raise PermissionDenied("you are not this teen's guardian", "not_guardian")

    def get_parental_controls(self, caller: Principal, teen_id: str) -> identity_pb2.ParentalControls:
        with self.sessions() as s:
            self._teen_for_controls(s, caller, teen_id, write=False)
            return controls_proto(
                s.execute(select(parental_controls).where(parental_controls.c.teen_user_id == teen_id)).one()
            )

    def set_parental_controls(
        self, caller: Principal, teen_id: str, controls: identity_pb2.ParentalControls
    ) -> identity_pb2.ParentalControls:
        if not 0 <= controls.daily_feed_item_cap <= 1000:
            raise InvalidArgument("daily_feed_item_cap is 0 (no cap) to 1000", "invalid_feed_cap")
        if (
            controls.max_cameo_policy not in common_pb2.CameoPolicy.values()
            or controls.max_cameo_policy == common_pb2.CAMEO_POLICY_UNSPECIFIED
        ):
            raise InvalidArgument(
                "max_cameo_policy must be ONLY_ME, APPROVED, MUTUALS or EVERYONE", "invalid_cameo_policy"
            )
        with transaction(self.sessions) as s:
            self._teen_for_controls(s, caller, teen_id, write=True)
            s.execute(
                update(parental_controls)
                .where(parental_controls.c.teen_user_id == teen_id)
                .values(
                    daily_feed_item_cap=controls.daily_feed_item_cap,
                    non_personalized_feed=controls.non_personalized_feed,
                    max_cameo_policy=controls.max_cameo_policy,
                    updated_at=now_utc(),
                    updated_by_user_id=caller.subject,
                )
            )
            return self._controls_changed(s, teen_id, caller.subject)
