"""Cameo's reads: profiles, lists for owners, the usable-cameo search,
notifications and the audit log. Plain functions over a SQLAlchemy session
(the servicer gives each read its own); writes live in domain.py.

Lists are paged by offset; the page token is ours and opaque."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from sqlalchemy import Row, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.errors import NotFound, PermissionDenied
from kinora.runtime.paging import PageTokens, page_size
from services.cameo import models as m
from services.cameo.consent import RESTRICTION_ORDER, usable_filter
from services.cameo.ids import require_id
from services.cameo.policy import ACTIVE, PERSON, TEEN

DEFAULT_PAGE, MAX_PAGE = 50, 200
Rows: TypeAlias = Sequence[Row[Any]]  # SQLAlchemy Core rows, loosely typed
Page: TypeAlias = common.PageRequest | None
_TOKENS = PageTokens()  # offsets, unsigned: a client may skip ahead in its own lists


def page_bounds(page: Page) -> tuple[int, int]:
    """(offset, limit) from a PageRequest."""
    if page is None:
        return 0, DEFAULT_PAGE
    return _TOKENS.decode_offset(page.page_token), page_size(page.page_size, DEFAULT_PAGE, MAX_PAGE)


def next_token(offset: int, limit: int, got: int) -> str:
    return _TOKENS.next_offset(offset, limit, more=got >= limit)


def _paged(s: Session, query: Select[Any], page: Page) -> tuple[Rows, str]:
    offset, limit = page_bounds(page)
    rows = s.execute(query.offset(offset).limit(limit)).all()
    return rows, next_token(offset, limit, len(rows))


# -- profiles -----------------------------------------------------------------------


def cameo(s: Session, cameo_id: str) -> Row[Any]:
    """The cameo with this id, deleted or not."""
    cameo_id = require_id(cameo_id, "cameo id")
    row = s.execute(select(m.cameos).where(m.cameos.c.id == cameo_id)).first()
    if row is None:
        raise NotFound("there is no cameo with this id", "cameo_not_found")
    return row


def cameo_by(
    s: Session,
    *,
    cameo_id: str | None = None,
    owner_user_id: str | None = None,
    owner_handle: str | None = None,
    handle: str | None = None,
) -> Row[Any]:
    """GetCameo: one cameo by id, a person's cameo by its owner or the owner's handle, or a
    person's or character's cameo by the handle prompts mention it by (with or without '@')."""
    c = m.cameos.c
    if handle is not None:
        return by_handle(s, handle)
    if cameo_id is not None:
        cond = c.id == require_id(cameo_id, "cameo id")
    elif owner_user_id is not None:
        cond = and_(c.owner_user_id == owner_user_id, c.kind == PERSON)
    else:
        cond = and_(c.owner_handle == (owner_handle or "").lower().lstrip("@"), c.kind == PERSON)
    row = s.execute(select(m.cameos).where(cond)).first()
    if row is None:
        raise NotFound("there is no such cameo", "cameo_not_found")
    return row


def by_handle(s: Session, handle: str) -> Row[Any]:
    """The cameo `@handle` names: a person's (their handle) before a character's. Character
    handles are refused where a person has the handle, but identity may give a handle out
    later; the person keeps it then."""
    name = (handle or "").strip().lower().lstrip("@")
    c = m.cameos.c
    rows = s.execute(
        select(m.cameos)
        .where(
            c.status == ACTIVE,
            or_(and_(c.kind == PERSON, c.owner_handle == name), and_(c.kind != PERSON, c.handle == name)),
        )
        .order_by(c.kind)
    ).all()
    if not name or not rows:
        raise NotFound(f"nobody has the handle @{name}" if name else "name a handle", "handle_not_found")
    return rows[0]


def owned(s: Session, viewer: str, cameo_id: str) -> Row[Any]:
    """The cameo, for its owner only: its lists tell who asked, who is blocked, what was made."""
    row = cameo(s, cameo_id)
    if row.owner_user_id != viewer:
        raise PermissionDenied("only the cameo's owner can see this", "not_owner")
    return row


def likeness_source(s: Session, cameo_id: str) -> Row[Any]:
    """The cameo whose likeness a generation may load: active and verified."""
    row = cameo(s, cameo_id)
    if row.status != ACTIVE or not row.verified:
        raise NotFound("this cameo is no longer available", "cameo_unavailable")
    return row


def reference_pngs(s: Session, cameo_id: str) -> list[bytes]:
    """A character's reference images, in order (none for a person)."""
    ci = m.character_images.c
    return [bytes(r.png) for r in s.execute(select(ci.png).where(ci.cameo_id == cameo_id).order_by(ci.position))]


def cameos(
    s: Session,
    viewer: str,
    page: Page,
    *,
    usable_by_viewer: bool = False,
    search: str = "",
    owned_by_viewer: bool = False,
    kind: int = 0,
) -> tuple[Rows, str]:
    """Active cameos by owner handle; optionally only those `viewer` may use
    (the consent rule, without the prompt's restrictions), only the viewer's own,
    only one kind, and only those whose handle or display name starts with `search`."""
    offset, limit = page_bounds(page)
    c = m.cameos.c
    q = select(m.cameos).where(c.status == ACTIVE)
    if owned_by_viewer:
        q = q.where(c.owner_user_id == viewer)
    if kind:
        q = q.where(c.kind == kind)
    if usable_by_viewer:
        age = s.execute(select(m.users.c.age_group).where(m.users.c.user_id == viewer)).scalar()
        q = q.where(usable_filter(viewer, age == TEEN))
    if search:
        prefix = search.lower().lstrip("@").replace("%", "").replace("_", r"\_") + "%"
        q = q.where(
            or_(
                and_(c.kind == PERSON, c.owner_handle.like(prefix)),
                c.handle.like(prefix),
                func.lower(c.display_name).like(prefix),
            )
        )
    rows = s.execute(q.order_by(c.owner_handle, c.kind, c.handle, c.id).offset(offset).limit(limit)).all()
    return rows, next_token(offset, limit, len(rows))


# -- an owner's lists -----------------------------------------------------------------


def approvals(s: Session, viewer: str, cameo_id: str, status: int, page: Page) -> tuple[Rows, str]:
    row, a = owned(s, viewer, cameo_id), m.approvals
    q = select(a).where(a.c.cameo_id == row.id)
    if status:
        q = q.where(a.c.status == status)
    return _paged(s, q.order_by(a.c.requested_at.desc(), a.c.id), page)


def blocked_users(s: Session, viewer: str, cameo_id: str, page: Page) -> tuple[Rows, str]:
    row, b = owned(s, viewer, cameo_id), m.blocks
    return _paged(s, select(b).where(b.c.cameo_id == row.id).order_by(b.c.blocked_at.desc(), b.c.user_id), page)


def restrictions(s: Session, cameo_id: str) -> Rows:
    """A cameo's restrictions, in the order they are matched. Anyone who might use
    the cameo may read them, so they can respect them."""
    row = cameo(s, cameo_id)
    return s.execute(
        select(m.restrictions).where(m.restrictions.c.cameo_id == row.id).order_by(*RESTRICTION_ORDER)
    ).all()


def appearances(
    s: Session, viewer: str, cameo_id: str, kind: int, include_removed: bool, page: Page
) -> tuple[Rows, str]:
    row, a = owned(s, viewer, cameo_id), m.appearances
    q = select(a).where(a.c.cameo_id == row.id)
    if kind:
        q = q.where(a.c.kind == kind)
    if not include_removed:
        q = q.where(a.c.state != pb.APPEARANCE_STATE_REMOVED)
    return _paged(s, q.order_by(a.c.created_at.desc(), a.c.id), page)


def audit_log(s: Session, viewer: str, cameo_id: str, page: Page) -> tuple[Rows, str]:
    row, log = owned(s, viewer, cameo_id), m.audit_log
    return _paged(s, select(log).where(log.c.cameo_id == row.id).order_by(log.c.id), page)


# -- a user's notifications ---------------------------------------------------------------


def notifications(s: Session, user_id: str, unread_only: bool, page: Page) -> tuple[Rows, str, int]:
    """A page of the user's notifications, newest first, and how many are unread."""
    n = m.notifications
    offset, limit = page_bounds(page)
    q = select(n).where(n.c.user_id == user_id)
    if unread_only:
        q = q.where(~n.c.read)
    rows = s.execute(q.order_by(n.c.created_at.desc(), n.c.id).offset(offset).limit(limit)).all()
    unread = s.execute(select(func.count()).select_from(n).where(n.c.user_id == user_id, ~n.c.read)).scalar_one()
    return rows, next_token(offset, limit, len(rows)), unread
