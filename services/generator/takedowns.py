"""Takedown requests from anyone, worked by operators (the US TAKE IT DOWN Act's 48 hours).

A request names a clip by id, by link (resolved to an id by the gateway) and/or by
an uploaded file, of which the gateway sends the perceptual fingerprint
(kinora/media/fingerprint.py) and the invisible watermark's id if one was read.
Nothing is removed until an operator approves. Approval finds the targets and
removes them in one transaction, the existing way (`domain.take_down`: media
deleted, GenerationTakenDown emitted, feed hides the posts):

- the clip named (id or link) and the clip whose watermark the file carries;
- copies: stored clips the file's frames match (`fingerprint.match_clip`);
- remixes, extensions and edits of any target, transitively (lineage: remix_of / extend_of / edit_of);
- clips whose input image is a frame of a target (input hash within
  IMAGE_MAX_DISTANCE of one of the target's frames), and their remixes in turn.
Stitching does not exist yet; when it does, a stitched clip's sources join the
lineage step. Every removed clip's frames go on the blocklist, which refuses them
as new input images (`blocked_content`). Every step is written to takedown_audit.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import BigInteger, bindparam, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from kinora.media import fingerprint
from kinora.runtime.db import transaction
from kinora.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from kinora.runtime.events import EventTables
from kinora.runtime.paging import page_size as page_size_rule
from services.generator.blobs import BlobStore
from services.generator.domain import take_down
from services.generator.models import blocked_hashes, fingerprints, generations, takedown_audit, takedown_requests

KINDS = ("likeness", "intimate")
STATUSES = ("pending", "approved", "rejected", "completed")
CONTACT_MAX = 320
STATEMENT_MIN, STATEMENT_MAX = 10, 5000
LINK_MAX = 2048
MAX_PROBE_FRAMES = fingerprint.SAMPLES_PER_SECOND * 120  # 2 minutes
MAX_TARGETS = 500  # a runaway lineage is stopped and recorded, not removed silently
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
TAKEDOWN_REASON = "removed after a takedown request"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Filing:
    """What the public form sent (already read by the gateway)."""

    contact: str
    statement: str
    kind: str
    generation_id: str = ""
    link: str = ""
    file_sha256: str = ""
    file_kind: str = ""  # video | image | ""
    probe: list[list[int]] = field(default_factory=list)  # per frame, hashes per assumed crop
    watermark_id: int | None = None


def validate_filing(f: Filing) -> None:
    """Also checked by the gateway, with the same limits; refusals name the field."""
    if not EMAIL.match(f.contact or "") or len(f.contact) > CONTACT_MAX:
        raise InvalidArgument("contact must be an email address we can reach you at", "invalid_contact")
    if not (STATEMENT_MIN <= len((f.statement or "").strip()) <= STATEMENT_MAX):
        raise InvalidArgument(f"statement must be {STATEMENT_MIN} to {STATEMENT_MAX} characters", "invalid_statement")
    if f.kind not in KINDS:
        raise InvalidArgument("kind must be likeness or intimate", "invalid_kind")
    if not (f.generation_id or f.link or f.probe):
        raise InvalidArgument("send the clip as a file, its id or its link", "nothing_to_take_down")
    if len(f.link) > LINK_MAX or len(f.probe) > MAX_PROBE_FRAMES or f.file_kind not in ("", "video", "image"):
        raise InvalidArgument("the link or file is too large", "invalid_request")
    if any(len(frame) != len(fingerprint.PROBE_CROPS) for frame in f.probe):
        raise InvalidArgument("malformed fingerprint", "invalid_request")


def _audit(session: Session, request_id: str, actor: str, action: str, detail: str = "", at: datetime | None = None):
    session.execute(
        takedown_audit.insert().values(request_id=request_id, at=at or now(), actor=actor, action=action, detail=detail)
    )


class Takedowns:
    def __init__(self, sessions: sessionmaker[Session], tables: EventTables, blobs: BlobStore, wake_relay=lambda: None):
        self.sessions, self.tables, self.blobs, self.wake_relay = sessions, tables, blobs, wake_relay

    # -- filing ----------------------------------------------------------------------

    def file(self, f: Filing, actor: str = "public") -> object:
        validate_filing(f)
        request_id = "tdr_" + secrets.token_hex(12)
        created = now()
        with transaction(self.sessions) as session:
            session.execute(
                takedown_requests.insert().values(
                    id=request_id,
                    created_at=created,
                    contact=f.contact.strip(),
                    statement=f.statement.strip(),
                    kind=f.kind,
                    generation_id=f.generation_id,
                    link=f.link,
                    file_sha256=f.file_sha256,
                    file_kind=f.file_kind,
                    probe_hashes=json.dumps(f.probe),
                    watermark_id=f.watermark_id,
                    status="pending",
                )
            )
            sent = [w for w, v in (("id", f.generation_id), ("link", f.link), (f.file_kind or "file", f.probe)) if v]
            _audit(
                session,
                request_id,
                actor,
                "filed",
                f"kind={f.kind} sent={'+'.join(sent)} watermark={'yes' if f.watermark_id is not None else 'no'}",
                created,
            )
            return self._row(session, request_id)

    # -- reading ---------------------------------------------------------------------

    def _row(self, session: Session, request_id: str, for_update: bool = False):
        query = select(takedown_requests).where(takedown_requests.c.id == request_id)
        row = session.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound(f"takedown request {request_id} not found", "takedown_request_not_found")
        return row

    def get(self, request_id: str):
        with self.sessions() as session:
            return self._row(session, request_id)

    def audit(self, request_id: str) -> list:
        with self.sessions() as session:
            return session.execute(
                select(takedown_audit)
                .where(takedown_audit.c.request_id == request_id)
                .order_by(takedown_audit.c.at, takedown_audit.c.id)
            ).all()

    def list(self, status: str = "", page_size: int = 50, after_id: str = "") -> tuple[list, bool]:
        """Oldest first: the queue is worked against the 48-hour clock."""
        if status and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", "invalid_status")
        page_size = page_size_rule(page_size, 50, 200)
        t = takedown_requests.c
        with self.sessions() as session:
            query = select(takedown_requests)
            if status:
                query = query.where(t.status == status)
            if after_id:
                anchor = self._row(session, after_id)
                query = query.where(
                    or_(t.created_at > anchor.created_at, (t.created_at == anchor.created_at) & (t.id > anchor.id))
                )
            rows = session.execute(query.order_by(t.created_at, t.id).limit(page_size + 1)).all()
        return rows[:page_size], len(rows) > page_size

    # -- deciding --------------------------------------------------------------------

    def reject(self, request_id: str, operator: str, reason: str):
        if not reason.strip():
            raise InvalidArgument("say why the request is rejected (the requester is told)", "reason_required")
        with transaction(self.sessions) as session:
            row = self._row(session, request_id, for_update=True)
            if row.status != "pending":
                raise FailedPrecondition(
                    f"takedown request {request_id} is already {row.status}", "takedown_request_decided"
                )
            at = now()
            session.execute(
                update(takedown_requests)
                .where(takedown_requests.c.id == request_id)
                .values(status="rejected", decided_by=operator, decided_at=at, decision_reason=reason.strip()[:2000])
            )
            _audit(session, request_id, operator, "rejected", reason.strip()[:2000], at)
            return self._row(session, request_id)

    def approve(self, request_id: str, operator: str):
        """Find every target and remove it, in one transaction with the decision."""
        with transaction(self.sessions) as session:
            row = self._row(session, request_id, for_update=True)
            if row.status != "pending":
                raise FailedPrecondition(
                    f"takedown request {request_id} is already {row.status}", "takedown_request_decided"
                )
            decided = now()
            session.execute(
                update(takedown_requests)
                .where(takedown_requests.c.id == request_id)
                .values(status="approved", decided_by=operator, decided_at=decided)
            )
            _audit(session, request_id, operator, "approved", "", decided)
            targets = find_targets(session, row)
            for target in targets:
                removed = take_down(
                    session, self.tables, self.blobs, target["generation_id"], request_id, TAKEDOWN_REASON
                )
                _audit(
                    session,
                    request_id,
                    operator,
                    "removed" if removed else "already_removed",
                    f"{target['generation_id']} ({target['why']}"
                    + (f" of {target['via']})" if target.get("via") else ")"),
                )
            blocked = block_frames(session, request_id, [t["generation_id"] for t in targets])
            done = now()
            session.execute(
                update(takedown_requests)
                .where(takedown_requests.c.id == request_id)
                .values(
                    status="completed",
                    completed_at=done,
                    targets=json.dumps(targets),
                    removal_seconds=(done - row.created_at).total_seconds(),
                )
            )
            _audit(
                session,
                request_id,
                operator,
                "completed",
                f"{len(targets)} clip(s) removed, {blocked} frame hash(es) blocked",
                done,
            )
            result = self._row(session, request_id)
        self.wake_relay()
        return result


# -- finding the targets -----------------------------------------------------------


def _hash_array(values):
    return bindparam("hashes", value=[int(v) for v in values], type_=ARRAY(BigInteger))


def close_generations(session: Session, kind: str, hashes, max_distance: int) -> set[str]:
    """Generations with a `kind` fingerprint within `max_distance` bits of any of `hashes`.
    A scan with bit_count in PostgreSQL (14+): fine to about a million rows; beyond,
    an index on hash chunks (multi-index hashing) is the next step (docs/ops.md)."""
    if not len(hashes):
        return set()
    rows = (
        session.execute(
            text(
                "SELECT DISTINCT f.generation_id FROM fingerprints f JOIN unnest(:hashes) AS p(h) "
                "ON bit_count((f.hash # p.h)::bit(64)) <= :d WHERE f.kind = :kind"
            ).bindparams(_hash_array(hashes), d=max_distance, kind=kind)
        )
        .scalars()
        .all()
    )
    return set(rows)


def frame_hashes(session: Session, generation_ids) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    if not generation_ids:
        return out
    f = fingerprints.c
    for gid, h in session.execute(
        select(f.generation_id, f.hash)
        .where(f.generation_id.in_(list(generation_ids)), f.kind == "frame")
        .order_by(f.generation_id, f.position)
    ):
        out.setdefault(gid, []).append(h)
    return out


def find_targets(session: Session, row) -> list[dict]:
    """[{generation_id, why, via}] in the order found; see the module docstring."""
    found: dict[str, dict] = {}

    def add(gid: str, why: str, via: str = "") -> bool:
        if gid in found:
            if why not in found[gid]["why"].split("+"):
                found[gid]["why"] += "+" + why  # found more than one way: say so
                if via and not found[gid]["via"]:
                    found[gid]["via"] = via
            return False
        if gid and gid not in found and len(found) < MAX_TARGETS:
            found[gid] = {"generation_id": gid, "why": why, "via": via}
            return True
        return False

    g = generations.c
    if row.generation_id and session.execute(select(g.id).where(g.id == row.generation_id)).first():
        add(row.generation_id, "named")
    if row.watermark_id is not None:
        marked = session.execute(select(g.id).where(g.watermark_id == row.watermark_id)).scalar()
        if marked:
            add(marked, "watermark")
    probe = json.loads(row.probe_hashes or "[]")
    if probe:
        if row.file_kind == "image" or len(probe) == 1:
            # One picture: no time order to lean on, so the stricter single-image distance.
            for gid in sorted(close_generations(session, "frame", probe[0][:1], fingerprint.IMAGE_MAX_DISTANCE)):
                add(gid, "copy")
        else:
            every = {h for frame in probe for h in frame}
            candidates = close_generations(session, "frame", list(every), fingerprint.MAX_DISTANCE)
            stored = frame_hashes(session, candidates)
            for gid in sorted(candidates):
                if fingerprint.is_copy(probe, stored.get(gid, [])):
                    add(gid, "copy")
    # Lineage and frames-as-input, to a fixed point.
    frontier = list(found)
    while frontier and len(found) < MAX_TARGETS:
        nxt: list[str] = []
        for child in session.execute(
            select(g.id, g.remix_of, g.extend_of, g.edit_of).where(
                or_(g.remix_of.in_(frontier), g.extend_of.in_(frontier), g.edit_of.in_(frontier))
            )
        ).all():
            why, via = next(
                (why, parent)
                for why, parent in (("remix", child.remix_of), ("extension", child.extend_of), ("edit", child.edit_of))
                if parent in frontier
            )
            if add(child.id, why, via):
                nxt.append(child.id)
        for gid, hashes in frame_hashes(session, frontier).items():
            for user in sorted(close_generations(session, "input", hashes, fingerprint.IMAGE_MAX_DISTANCE)):
                if add(user, "from_frame", gid):
                    nxt.append(user)
        frontier = nxt
    return list(found.values())


def block_frames(session: Session, request_id: str, generation_ids) -> int:
    stored = frame_hashes(session, generation_ids)
    at = now()
    rows = [
        {"hash": h, "generation_id": gid, "request_id": request_id, "created_at": at}
        for gid, hashes in stored.items()
        for h in dict.fromkeys(hashes)
    ]
    if rows:
        session.execute(blocked_hashes.insert(), rows)
    return len(rows)


def is_blocked(session: Session, image_hash: int) -> bool:
    """Whether an input image is within IMAGE_MAX_DISTANCE of a taken-down frame."""
    return (
        session.execute(
            text("SELECT 1 FROM blocked_hashes WHERE bit_count((hash # :h)::bit(64)) <= :d LIMIT 1").bindparams(
                h=int(image_hash), d=fingerprint.IMAGE_MAX_DISTANCE
            )
        ).first()
        is not None
    )


def blocked_generation(session: Session, generation_id: str) -> bool:
    """Whether a remix/extension source's frames are on the blocklist."""
    hashes = frame_hashes(session, [generation_id]).get(generation_id, [])
    if not hashes:
        return False
    return (
        session.execute(
            text(
                "SELECT 1 FROM blocked_hashes b JOIN unnest(:hashes) AS p(h) "
                "ON bit_count((b.hash # p.h)::bit(64)) <= :d LIMIT 1"
            ).bindparams(_hash_array(hashes), d=fingerprint.IMAGE_MAX_DISTANCE)
        ).first()
        is not None
    )
