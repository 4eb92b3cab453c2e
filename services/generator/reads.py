"""Reading generations: one by id (the owner's, or any for an operator), a
user's page of them, the one an invisible mark names, and the queue position
computed on read."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from kinora.runtime.errors import InvalidArgument, NotFound
from kinora.runtime.paging import page_size as page_size_rule
from services.generator.common import GenerationView
from services.generator.models import generations

DEFAULT_PAGE, MAX_PAGE = 20, 100  # ListGenerations


def queue_position(session: Session, row: Row[Any]) -> int:
    """Jobs ahead of this one in the same model's queue (pro > paid > free, then fair order)."""
    g = generations.c
    ahead = or_(
        g.tier > row.tier,
        and_(
            g.tier == row.tier,
            or_(g.fair_rank < row.fair_rank, and_(g.fair_rank == row.fair_rank, g.created_at < row.created_at)),
        ),
    )
    ahead_count: int = session.execute(
        select(func.count()).select_from(generations).where(g.status == "queued", g.model == row.model, ahead)
    ).scalar_one()
    return ahead_count


class Reads:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def view(self, session: Session, row: Row[Any]) -> GenerationView:
        position = queue_position(session, row) if row.status == "queued" else 0
        return GenerationView(row, position, json.loads(row.media))

    def owned(self, session: Session, generation_id: str, user_id: str | None, for_update: bool = False) -> Row[Any]:
        query = select(generations).where(generations.c.id == generation_id)
        if for_update:
            query = query.with_for_update()
        row = session.execute(query).first()
        if row is None or row.deleted_at is not None or (user_id is not None and row.user_id != user_id):
            # The same answer for "not yours" and "not there": ids are not an oracle.
            raise NotFound(f"generation {generation_id} not found", "generation_not_found")
        return row

    def find_by_watermark(self, watermark_id: int) -> Row[Any] | None:
        """The row whose invisible mark carries `watermark_id`, deleted ones included
        (they were still made here), or None."""
        with self.sessions() as session:
            return session.execute(select(generations).where(generations.c.watermark_id == watermark_id)).first()

    def get(self, generation_id: str, user_id: str | None) -> GenerationView:
        with self.sessions() as session:
            return self.view(session, self.owned(session, generation_id, user_id))

    def list(
        self, user_id: str, page_size: int, after_id: str = "", ascending: bool = False, status: str | None = None
    ) -> tuple[list[GenerationView], bool]:
        page_size = page_size_rule(page_size, DEFAULT_PAGE, MAX_PAGE)
        g = generations.c
        with self.sessions() as session:
            query = select(generations).where(g.user_id == user_id, g.deleted_at.is_(None))
            if status:
                query = query.where(g.status == status)
            if after_id:
                anchor = session.execute(
                    select(g.created_at, g.id).where(g.id == after_id, g.user_id == user_id)
                ).first()
                if anchor is None:
                    raise InvalidArgument("the page cursor does not name one of your generations", "invalid_cursor")
                if ascending:
                    query = query.where(
                        or_(g.created_at > anchor.created_at, and_(g.created_at == anchor.created_at, g.id > anchor.id))
                    )
                else:
                    query = query.where(
                        or_(g.created_at < anchor.created_at, and_(g.created_at == anchor.created_at, g.id < anchor.id))
                    )
            order = (g.created_at.asc(), g.id.asc()) if ascending else (g.created_at.desc(), g.id.desc())
            rows = session.execute(query.order_by(*order).limit(page_size + 1)).all()
            has_more = len(rows) > page_size
            return [self.view(session, r) for r in rows[:page_size]], has_more
