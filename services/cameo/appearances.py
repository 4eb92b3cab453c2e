"""The appearance index: every generation, draft and post containing a cameo,
built from generator and feed events, with the owner's notifications and the
takedown safety net for uses whose consent was withdrawn in the meantime."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import events_pb2 as ev
from kinora.runtime.convert import timestamp
from services.cameo import models as m
from services.cameo.consent import ConsentChecker
from services.cameo.domain import Cameos
from services.cameo.ids import new_id, now
from services.cameo.topics import publish


class AppearanceIndex:
    """Every generation, draft and post containing a cameo, built from events."""

    def __init__(self, cameos: Cameos):
        self.cameos = cameos

    def _find(self, s: Session, cameo_id: str, generation_id: str) -> Row[Any] | None:
        return s.execute(
            select(m.appearances)
            .where(m.appearances.c.cameo_id == cameo_id, m.appearances.c.generation_id == generation_id)
            .with_for_update()
        ).first()

    def record(
        self,
        s: Session,
        cameo_ids: Iterable[str],
        generation_id: str,
        creator: str,
        prompt: str,
        kind: int,
        post_id: str = "",
        notify: bool = True,
    ) -> None:
        for cameo_id in cameo_ids:
            cameo = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id).with_for_update()).first()
            if cameo is None:
                continue  # not a cameo we know (ids are validated by CheckUse upstream)
            row = self._find(s, cameo_id, generation_id)
            if row is None:
                handle = self.cameos.handle_of(s, creator)
                aid = new_id()
                s.execute(
                    insert(m.appearances).values(
                        id=aid,
                        cameo_id=cameo_id,
                        kind=kind,
                        state=pb.APPEARANCE_STATE_ACTIVE,
                        generation_id=generation_id,
                        post_id=post_id,
                        creator_user_id=creator,
                        creator_handle=handle,
                        prompt=prompt,
                        created_at=now(),
                        updated_at=now(),
                    )
                )
                if creator != cameo.owner_user_id and notify:
                    self._notify_use(s, cameo, creator, handle, generation_id, post_id, kind)
                self._enforce(s, cameo, creator, aid)
            else:
                values: dict[str, Any] = {"updated_at": now()}
                if prompt and not row.prompt:
                    values["prompt"] = prompt
                # A post outranks a draft, a draft outranks a running generation.
                if kind > row.kind:
                    values["kind"] = kind
                if post_id:
                    values["post_id"] = post_id
                s.execute(update(m.appearances).where(m.appearances.c.id == row.id).values(**values))
                if (
                    kind == pb.APPEARANCE_KIND_POST
                    and row.kind != pb.APPEARANCE_KIND_POST
                    and creator != cameo.owner_user_id
                ):
                    self._notify_use(s, cameo, creator, row.creator_handle, generation_id, post_id, kind)
                if row.state == pb.APPEARANCE_STATE_TAKEDOWN_REQUESTED and post_id:
                    # Published after the takedown was requested: take the post down too.
                    post_only = SimpleNamespace(id=row.id, generation_id="", post_id=post_id)
                    self.cameos.takedown(
                        s, cameo, "system", [post_only], ev.TAKEDOWN_CAUSE_APPEARANCE_DELETED, cameo.revision
                    )

    def _notify_use(
        self, s: Session, cameo: Row[Any], creator: str, handle: str, generation_id: str, post_id: str, kind: int
    ) -> None:
        posted = kind == pb.APPEARANCE_KIND_POST
        who = f"@{handle}" if handle else "Someone"
        self.cameos._notify(
            s,
            cameo.owner_user_id,
            pb.NOTIFICATION_KIND_CAMEO_POSTED if posted else pb.NOTIFICATION_KIND_CAMEO_USED,
            cameo.id,
            f"{who} {'posted a video with' if posted else 'made a video with'} your cameo",
            creator,
            handle,
            generation_id,
            post_id,
        )
        if not posted:
            publish(
                s,
                self.cameos.tables,
                ev.CameoUsed(
                    cameo_id=cameo.id,
                    owner_user_id=cameo.owner_user_id,
                    user_id=creator,
                    user_handle=handle,
                    generation_id=generation_id,
                    purpose=pb.USE_PURPOSE_GENERATE,
                    occurred_at=timestamp(now()),
                ),
                cameo.id,
            )

    def _enforce(self, s: Session, cameo: Row[Any], creator: str, appearance_id: str) -> None:
        """Safety net for check-then-act: a generation created after its
        creator lost access (revoked between CheckUse and job creation) is
        taken down as soon as it is indexed."""
        if creator == cameo.owner_user_id:
            return
        decisions, _ = ConsentChecker(None).read(s, creator, [cameo.id])
        if not decisions[0].allowed:
            row = s.execute(select(m.appearances).where(m.appearances.c.id == appearance_id)).one()
            self.cameos.takedown(s, cameo, "system", [row], ev.TAKEDOWN_CAUSE_ACCESS_REVOKED, cameo.revision)

    def set_state_for_generation(self, s: Session, generation_id: str, state: int) -> None:
        s.execute(
            update(m.appearances)
            .where(m.appearances.c.generation_id == generation_id)
            .values(state=state, updated_at=now())
        )

    def post_removed(self, s: Session, generation_id: str) -> None:
        # The video is a draft again (or gone, which the generator reports separately).
        s.execute(
            update(m.appearances)
            .where(m.appearances.c.generation_id == generation_id, m.appearances.c.kind == pb.APPEARANCE_KIND_POST)
            .values(kind=pb.APPEARANCE_KIND_DRAFT, updated_at=now())
        )
