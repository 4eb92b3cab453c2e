"""The feed's copy of each user (from identity's events and the token on first
contact), parental controls and stated preferences."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kinora.runtime.errors import InvalidArgument
from services.feed import models as m
from services.feed.common import FeedContext, upsert, utcnow, vec_bytes
from services.feed.ports import Embedder
from services.feed.ranking import parse_preferences


def ensure_user(session: Session, user_id: str, handle: str = "", teen: bool | None = None) -> dict[str, Any]:
    """The feed's row for a user; created from the token on first contact
    (identity events fill in region and parental controls)."""
    row = session.execute(select(m.users).where(m.users.c.id == user_id)).mappings().first()
    if row is None:
        values = dict(id=user_id, handle=handle, teen=bool(teen), updated_at=utcnow())
        session.execute(upsert(m.users, values, ["id"], {}))
        row = session.execute(select(m.users).where(m.users.c.id == user_id)).mappings().one()
    elif (handle and row["handle"] != handle) or (teen is not None and row["teen"] != teen):
        session.execute(
            update(m.users)
            .where(m.users.c.id == user_id)
            .values(handle=handle or row["handle"], teen=row["teen"] if teen is None else teen, updated_at=utcnow())
        )
        row = session.execute(select(m.users).where(m.users.c.id == user_id)).mappings().one()
    return dict(row)


class Users:
    def __init__(self, ctx: FeedContext, embedder: Embedder):
        self.ctx, self.embed = ctx, embedder

    def touch_user(self, user_id: str, handle: str, teen: bool) -> None:
        with self.ctx.sessions.begin() as s:
            ensure_user(s, user_id, handle, teen)

    # -- stated preferences ("more cooking and pets, less sports") -------------------------

    def set_preferences(self, viewer_id: str, text: str) -> dict[str, Any]:
        text = (text or "").strip()
        phrases = parse_preferences(text)
        if text and not phrases:
            raise InvalidArgument(
                "couldn't find any topics in that; try 'more cooking and pets, less sports'", "no_preferences_found"
            )
        vectors = self.embed([p for p, _ in phrases]) if phrases else None
        now = utcnow()
        with self.ctx.sessions.begin() as s:
            ensure_user(s, viewer_id)
            s.execute(
                update(m.users)
                .where(m.users.c.id == viewer_id)
                .values(
                    prefs_text=text,
                    prefs_phrases=json.dumps(phrases),
                    prefs_vectors=vec_bytes(vectors) if vectors is not None else None,
                    prefs_updated_at=now,
                )
            )
        return {"text": text, "updated_at": now, "phrases": phrases}

    def get_preferences(self, viewer_id: str) -> dict[str, Any]:
        with self.ctx.sessions() as s:
            row = s.execute(
                select(m.users.c.prefs_text, m.users.c.prefs_updated_at).where(m.users.c.id == viewer_id)
            ).first()
        return {"text": row[0] if row else "", "updated_at": row[1] if row else None}

    # -- identity's events (inside the consumer's transaction) ------------------------------

    def on_parental_controls(self, s: Session, teen_user_id: str, daily_cap: int, non_personalized: bool) -> None:
        ensure_user(s, teen_user_id)
        s.execute(
            update(m.users)
            .where(m.users.c.id == teen_user_id)
            .values(teen=True, daily_item_cap=max(daily_cap, 0), non_personalized=non_personalized, updated_at=utcnow())
        )

    def on_user(self, s: Session, user_id: str, handle: str, region: str, teen: bool) -> None:
        ensure_user(s, user_id, handle, teen)
        s.execute(update(m.users).where(m.users.c.id == user_id).values(region=region.upper()[:8], updated_at=utcnow()))
