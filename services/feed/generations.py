"""What the generator's and cameo's events do to the feed: its copy of each
generation (what can be published), a finished generation's credit to what
inspired it, and removing the posts of generations taken down or deleted.
Called by handlers.py inside the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kinora.feed.v1 import events_pb2
from kinora.generator.v1 import events_pb2 as gen_events
from services.feed import models as m
from services.feed.common import DELETED, POST_COLUMNS, PUBLISHED, TAKEN_DOWN, UNPUBLISHED, utcnow
from services.feed.posts import Posts
from services.feed.topics import (
    GENERATION_COMPLETED,
    GENERATION_PENDING,
    GENERATION_REMOVED,
    GENERATION_TAKEN_DOWN,
    TAKEDOWN_TARGET_GENERATION,
    TAKEDOWN_TARGET_POST,
)

VIEW_CREDIT_WINDOW = timedelta(hours=2)  # "made something after watching" looks back this far
VIEW_CREDIT_POSTS = 5


class Generations:
    def __init__(self, posts: Posts):
        self.posts = posts

    def on_generation(
        self, s: Session, facts: gen_events.GenerationFacts, status: str, prompt: str | None = None
    ) -> None:
        g = m.generations.c
        existing = s.execute(select(g.status).where(g.id == facts.generation_id).with_for_update()).scalar_one_or_none()
        if existing in GENERATION_REMOVED:
            return  # final states
        if existing is None and status in GENERATION_REMOVED:
            # Gone before the feed ever had it, or erased with its maker's account (UserDeleted may
            # overtake the takedown on another topic): nothing to remove, and no copy to make.
            return
        values = dict(
            id=facts.generation_id,
            user_id=facts.user_id,
            status=status,
            cameo_ids=json.dumps(list(facts.cameo_ids)),
            remix_of=facts.remix_of,
            updated_at=utcnow(),
        )
        if prompt is not None:
            values["prompt"] = prompt
        if existing is None:
            values.setdefault("prompt", "")
            s.execute(insert(m.generations).values(**values))
        elif not (existing == GENERATION_COMPLETED and status == GENERATION_PENDING):
            # (a late "requested" never undoes completion)
            s.execute(update(m.generations).where(g.id == facts.generation_id).values(**values))
        if status == GENERATION_COMPLETED and existing != GENERATION_COMPLETED:
            self._credit_creation(s, facts)
        if status in GENERATION_REMOVED:
            state, reason = (
                (TAKEN_DOWN, events_pb2.REMOVAL_REASON_TAKEN_DOWN)
                if status == GENERATION_TAKEN_DOWN
                else (DELETED, events_pb2.REMOVAL_REASON_DELETED)
            )
            for post in (
                s.execute(
                    select(*POST_COLUMNS).where(
                        m.posts.c.generation_id == facts.generation_id, m.posts.c.state.in_([PUBLISHED, UNPUBLISHED])
                    )
                )
                .mappings()
                .all()
            ):
                self.posts.set_removed(s, dict(post), state, reason)

    def _credit_creation(self, s: Session, facts: gen_events.GenerationFacts) -> None:
        """A finished generation credits what inspired it: the remixed post,
        and posts its maker watched shortly before (and ones with the same cameo)."""
        p, sv = m.posts.c, m.served.c
        if facts.remix_of:
            s.execute(
                update(m.posts)
                .where(p.generation_id == facts.remix_of)
                .values(remix_generations=p.remix_generations + 1)
            )
        viewed = (
            s.execute(
                select(sv.post_id)
                .where(
                    sv.user_id == facts.user_id, sv.viewed_at.is_not(None), sv.viewed_at > utcnow() - VIEW_CREDIT_WINDOW
                )
                .order_by(sv.viewed_at.desc())
                .limit(VIEW_CREDIT_POSTS)
            )
            .scalars()
            .all()
        )
        if not viewed:
            return
        s.execute(update(m.posts).where(p.id.in_(viewed)).values(created_after_view=p.created_after_view + 1))
        if facts.cameo_ids:
            wanted = set(facts.cameo_ids)
            hits = [
                row.id
                for row in s.execute(select(p.id, p.cameo_ids).where(p.id.in_(viewed))).all()
                if wanted & set(json.loads(row.cameo_ids))
            ]
            if hits:
                s.execute(update(m.posts).where(p.id.in_(hits)).values(cameo_requests=p.cameo_requests + 1))

    def on_takedown(self, s: Session, takedown_id: str, target_kind: str, target_ids: Sequence[str]) -> int:
        """Hide every post a cameo takedown names, at once."""
        p = m.posts.c
        column = p.id if target_kind == TAKEDOWN_TARGET_POST else p.generation_id
        posts = (
            s.execute(select(*POST_COLUMNS).where(column.in_(list(target_ids)), p.state.in_([PUBLISHED, UNPUBLISHED])))
            .mappings()
            .all()
        )
        for post in posts:
            self.posts.set_removed(s, dict(post), TAKEN_DOWN, events_pb2.REMOVAL_REASON_TAKEN_DOWN, takedown_id)
        if target_kind == TAKEDOWN_TARGET_GENERATION:
            s.execute(
                update(m.generations)
                .where(m.generations.c.id.in_(list(target_ids)))
                .values(status=GENERATION_TAKEN_DOWN, updated_at=utcnow())
            )
        return len(posts)
