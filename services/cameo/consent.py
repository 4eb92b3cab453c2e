"""The consent check (CheckUse) and the SQL forms of the consent rule.

`policy.decide` is the rule. The forms here are derived from it:
`ConsentChecker` reads the facts `decide` takes (one statement, no cache) and
lets `decide` answer; `fastpath.FACTS_SQL` reads the same facts for batches;
`usable_filter` is the rule written as a SQL condition for lists, over the same
relationship facts. tests/cameo/test_permission_matrix.py runs one hand-written
table against all four, cell by cell.

Consistency ("new enemy"): every change to consent state bumps the cameo's
`revision` in the same transaction and commits before the RPC returns; the
check keeps no cache and reads the committed state from the primary in one
statement, so a check that starts after a change was acknowledged sees it.
See docs/cameo.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.runtime.errors import InvalidArgument
from services.cameo import models as m
from services.cameo.ids import require_id
from services.cameo.policy import ACTIVE, APPROVED, EVERYONE, MUTUALS, TEEN, UseFacts, decide
from services.cameo.restrictions import MAX_PROMPT_CHARS, RestrictionMatcher

MAX_CAMEOS_PER_USE = 2
# The order restrictions are matched (and listed) in; FACTS_SQL aggregates them the same way.
RESTRICTION_ORDER = (m.restrictions.c.created_at, m.restrictions.c.id)


@dataclass(frozen=True)
class Decision:
    cameo_id: str
    allowed: bool
    reason: int
    message: str
    revision: int = 0
    owner_user_id: str = ""
    restriction_id: str = ""
    restriction_text: str = ""


Condition = ColumnElement[bool]
Texts = dict[str, list[tuple[str, str]]]  # restrictions (id, text) by cameo id


def relationship_facts(requester: str) -> tuple[Condition, Condition, Condition]:
    """(blocked, approved, mutual) of `policy.UseFacts` as SQL conditions on a
    `cameos` row and the requester's id."""
    c, b, a, f, ub = m.cameos, m.blocks, m.approvals, m.follows, m.user_blocks
    f2 = f.alias("f2")
    blocked = or_(
        exists().where(b.c.cameo_id == c.c.id, b.c.user_id == requester),
        exists().where(ub.c.blocker_id == c.c.owner_user_id, ub.c.blocked_id == requester),
    )
    approved = exists().where(
        a.c.cameo_id == c.c.id, a.c.user_id == requester, a.c.status == pb.APPROVAL_STATUS_APPROVED
    )
    mutual = and_(
        exists().where(f.c.follower_id == c.c.owner_user_id, f.c.followee_id == requester),
        exists().where(f2.c.follower_id == requester, f2.c.followee_id == c.c.owner_user_id),
    )
    return blocked, approved, mutual


def usable_filter(requester: str, requester_teen: bool) -> ColumnElement[bool]:
    """`policy.decide` (without restrictions) as a SQL condition on `cameos`, for
    ListCameos(usable_by_caller): true exactly when `decide` allows the use."""
    c = m.cameos.c
    blocked, approved, mutual = relationship_facts(requester)
    owner_teen = c.owner_age_group == TEEN
    # As in decide: a teen's policy is read as the guardian's cap when it is stored above it.
    policy = case((owner_teen, func.least(c.policy, c.max_policy)), else_=c.policy)
    everyone = policy >= EVERYONE
    if not requester_teen:
        everyone = and_(everyone, ~owner_teen)
    return and_(
        c.status == ACTIVE,
        c.verified,
        or_(
            c.owner_user_id == requester,
            and_(~blocked, or_(and_(policy >= APPROVED, approved), and_(policy >= MUTUALS, mutual), everyone)),
        ),
    )


class ConsentChecker:
    """CheckUse. Reads consent state for up to two cameos in ONE statement on
    the primary (no cache), then matches the prompt against restrictions."""

    def __init__(self, matcher: RestrictionMatcher | None):
        self.matcher = matcher

    @staticmethod
    def _facts_query(requester: str, cameo_ids: list[str]) -> Select[Any]:
        c, u = m.cameos, m.users
        blocked, approved, mutual = relationship_facts(requester)
        return select(
            c.c.id,
            c.c.owner_user_id,
            c.c.owner_handle,
            c.c.policy,
            c.c.max_policy,
            c.c.owner_age_group,
            c.c.status,
            c.c.verified,
            c.c.revision,
            c.c.restriction_count,
            blocked.label("blocked"),
            approved.label("approved"),
            mutual.label("mutual"),
            select(u.c.age_group).where(u.c.user_id == requester).scalar_subquery().label("requester_age"),
        ).where(c.c.id.in_(cameo_ids))

    @staticmethod
    def validate(requester: str, cameo_ids: list[str], prompt: str) -> tuple[str, list[str]]:
        if not requester:
            raise InvalidArgument("requester_user_id is required: whose use is being checked?", "missing_requester")
        requester = require_id(requester, "requester id")
        if not cameo_ids:
            raise InvalidArgument("name at least one cameo to check", "no_cameos")
        if len(cameo_ids) > MAX_CAMEOS_PER_USE:
            raise InvalidArgument(
                f"at most {MAX_CAMEOS_PER_USE} cameos can appear in one video; this request has {len(cameo_ids)}",
                "too_many_cameos",
            )
        ids = [require_id(x, "cameo id") for x in cameo_ids]
        if len(set(ids)) != len(ids):
            raise InvalidArgument("the same cameo is listed twice", "duplicate_cameo")
        if not prompt or not prompt.strip():
            raise InvalidArgument(
                "the prompt is empty: describe the video so restrictions can be checked", "empty_prompt"
            )
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidArgument(
                f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}", "prompt_too_long"
            )
        return requester, ids

    def read(self, session: Session, requester: str, ids: list[str]) -> tuple[list[Decision], Texts]:
        """Policy decisions plus, for cameos still allowed that have restrictions,
        those restrictions (id, text) to match against the prompt, in the
        caller's session (the takedown safety net reads inside its transaction);
        `fastpath.PgConsentReader` does the same in one prepared statement for CheckUse."""
        rows = {r.id: r for r in session.execute(self._facts_query(requester, ids))}
        decisions, to_match = self.decide_all(requester, ids, rows)
        texts: Texts = {}
        if to_match:
            # Same transaction; a restriction committed since the first statement
            # is only ever newer state, never older.
            r = m.restrictions
            for row in session.execute(
                select(r.c.cameo_id, r.c.id, r.c.text).where(r.c.cameo_id.in_(to_match)).order_by(*RESTRICTION_ORDER)
            ):
                texts.setdefault(row.cameo_id, []).append((row.id, row.text))
        return decisions, texts

    @staticmethod
    def decide_all(requester: str, ids: list[str], rows: Mapping[str, Any]) -> tuple[list[Decision], list[str]]:
        """Decisions in request order, and the cameos whose restrictions must be matched. `rows`: the
        facts by cameo id (SQLAlchemy rows here, `fastpath.Facts` on the fast path)."""
        decisions: list[Decision] = []
        to_match: list[str] = []
        for cameo_id in ids:
            r = rows.get(cameo_id)
            if r is None:
                decisions.append(
                    Decision(cameo_id, False, pb.DECISION_REASON_CAMEO_NOT_FOUND, "There is no cameo with this id.")
                )
                continue
            verdict = decide(
                UseFacts(
                    owner_handle=r.owner_handle,
                    policy=r.policy,
                    max_policy=r.max_policy,
                    owner_teen=r.owner_age_group == TEEN,
                    active=r.status == ACTIVE,
                    verified=r.verified,
                    requester_is_owner=r.owner_user_id == requester,
                    blocked=r.blocked,
                    approved=r.approved,
                    mutual=bool(r.mutual),
                    requester_teen=r.requester_age == TEEN,
                )
            )
            decisions.append(
                Decision(cameo_id, verdict.allowed, verdict.reason, verdict.message, r.revision, r.owner_user_id)
            )
            if verdict.allowed and r.owner_user_id != requester and r.restriction_count:
                to_match.append(cameo_id)
        return decisions, to_match

    def apply_restrictions(self, prompt: str, decisions: list[Decision], texts: Texts) -> list[Decision]:
        out = []
        for d in decisions:
            rules = texts.get(d.cameo_id)
            if d.allowed and rules:
                assert self.matcher is not None, "restrictions to match but no matcher"
                conflicts = self.matcher.check(prompt, [text for _, text in rules])
                if conflicts:
                    first = conflicts[0]
                    rid = next(i for i, text in rules if text == first.restriction)
                    d = Decision(
                        d.cameo_id,
                        False,
                        pb.DECISION_REASON_RESTRICTION_CONFLICT,
                        f"This cameo's owner asked: \u201c{first.restriction}\u201d \u2014 {first.reason}.",
                        d.revision,
                        d.owner_user_id,
                        rid,
                        first.restriction,
                    )
            out.append(d)
        return out
