"""TakedownService: the public form's filings (from the gateway) and the operators' queue."""

from __future__ import annotations

import asyncio
import json

from kinora.generator.v1 import generator_pb2 as pb
from kinora.generator.v1 import generator_pb2_grpc as pb_grpc
from kinora.runtime import auth
from kinora.runtime.convert import set_timestamp
from kinora.runtime.errors import PermissionDenied
from services.generator.takedowns import Filing, Takedowns

KIND_TO_PB = {"likeness": pb.TAKEDOWN_KIND_LIKENESS, "intimate": pb.TAKEDOWN_KIND_INTIMATE}
PB_TO_KIND = {v: k for k, v in KIND_TO_PB.items()}


def require_operator() -> str:
    """A user holding the admin scope, or the `admin` service identity (`kinora admin`,
    over mutual TLS with the admin certificate). Other services are refused: the
    gateway files requests, it never decides them."""
    caller = auth.require_user_or_service()
    if caller.is_service:
        if caller.subject.removeprefix("service:") != "admin":
            raise PermissionDenied("takedown decisions are for operators", "admin_required")
    elif "admin" not in caller.scopes:
        raise PermissionDenied("takedown decisions need the admin scope", "admin_required")
    return caller.handle or caller.subject


def request_proto(row) -> pb.TakedownRequest:
    probe = json.loads(row.probe_hashes or "[]")
    message = pb.TakedownRequest(
        id=row.id,
        contact=row.contact,
        statement=row.statement,
        kind=KIND_TO_PB.get(row.kind, 0),
        generation_id=row.generation_id,
        link=row.link,
        file_sha256=row.file_sha256,
        file_kind=row.file_kind,
        has_watermark=row.watermark_id is not None,
        watermark_id=row.watermark_id or 0,
        status=row.status,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        removal_seconds=row.removal_seconds or 0.0,
        probe_frames=len(probe),
        targets=[
            pb.TakedownTarget(generation_id=t["generation_id"], why=t["why"], via=t.get("via", ""))
            for t in json.loads(row.targets or "[]")
        ],
    )
    for name in ("created_at", "decided_at", "completed_at"):
        set_timestamp(getattr(message, name), getattr(row, name))
    return message


class TakedownServicer(pb_grpc.TakedownServiceServicer):
    def __init__(self, takedowns: Takedowns):
        self.takedowns = takedowns

    async def FileTakedownRequest(self, request, context):
        auth.require_service("gateway")
        filing = Filing(
            contact=request.contact,
            statement=request.statement,
            kind=PB_TO_KIND.get(request.kind, ""),
            generation_id=request.generation_id,
            link=request.link,
            file_sha256=request.file_sha256,
            file_kind=request.file_kind,
            probe=[list(f.hashes) for f in request.probe],
            watermark_id=request.watermark_id if request.has_watermark else None,
        )
        row = await asyncio.to_thread(self.takedowns.file, filing)
        return pb.FileTakedownRequestResponse(request=request_proto(row))

    async def ListTakedownRequests(self, request, context):
        require_operator()
        rows, more = await asyncio.to_thread(self.takedowns.list, request.status, request.page_size, request.after_id)
        return pb.ListTakedownRequestsResponse(requests=[request_proto(r) for r in rows], has_more=more)

    async def ApproveTakedownRequest(self, request, context):
        operator = require_operator()
        row = await asyncio.to_thread(self.takedowns.approve, request.id, operator)
        audit = await asyncio.to_thread(self.takedowns.audit, request.id)
        reply = pb.ApproveTakedownRequestResponse(request=request_proto(row))
        for entry in audit:
            item = reply.audit.add(actor=entry.actor, action=entry.action, detail=entry.detail)
            set_timestamp(item.at, entry.at)
        return reply

    async def RejectTakedownRequest(self, request, context):
        operator = require_operator()
        row = await asyncio.to_thread(self.takedowns.reject, request.id, operator, request.reason)
        return pb.RejectTakedownRequestResponse(request=request_proto(row))
