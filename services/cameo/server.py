"""Cameo gRPC servicer and service assembly."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import cameo_pb2_grpc
from kinora.common.v1 import common_pb2 as common
from kinora.feed.v1 import events_pb2 as feed_ev
from kinora.generator.v1 import events_pb2 as gen_ev
from kinora.identity.v1 import events_pb2 as id_ev
from kinora.runtime import auth
from kinora.runtime.db import transaction
from kinora.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from kinora.runtime.server import ServiceApp
from kinora.runtime.service import ServiceContext, create_service
from services.cameo import domain, handlers
from services.cameo import models as m
from services.cameo.fastpath import CoalescingReader, PgConsentReader
from services.cameo.metrics import CONSENT_CHECKS
from services.cameo.restrictions import RestrictionMatcher
from services.cameo.settings import CameoSettings

log = logging.getLogger("kinora.cameo")
MIGRATIONS = Path(__file__).parent / "migrations"
CHECK_CALLERS = ("generator", "feed", "gateway")


class CameoServicer(cameo_pb2_grpc.CameoServiceServicer):
    def __init__(self, ctx: ServiceContext, matcher: RestrictionMatcher, db_workers: int, check_statements: int):
        self.ctx = ctx
        self.cameos = domain.Cameos(m.tables)
        self.checker = domain.ConsentChecker(matcher)
        self.pool = ThreadPoolExecutor(db_workers, thread_name_prefix="cameo-db")
        self.pg = PgConsentReader(ctx.settings.database_url)
        self.fast = CoalescingReader(self.pg, self.pool, check_statements)

    async def _tx(self, fn, *args, wake: bool = False):
        """Run domain code in one transaction on a worker thread."""
        def work():
            with transaction(self.ctx.sessions) as s:
                return fn(s, *args)
        result = await asyncio.get_running_loop().run_in_executor(self.pool, work)
        if wake:
            self.ctx.wake_relay()
        return result

    async def _read(self, fn, *args):
        def work():
            with Session(self.ctx.engine) as s:
                return fn(s, *args)
        return await asyncio.get_running_loop().run_in_executor(self.pool, work)

    # -- profiles --------------------------------------------------------------

    async def GetCameo(self, request, context):
        caller = auth.require_user_or_service()
        which = request.WhichOneof("selector")
        c = m.cameos.c
        if which == "cameo_id":
            cond = c.id == domain.require_id(request.cameo_id, "cameo id")
        elif which == "owner_user_id":
            cond = c.owner_user_id == request.owner_user_id
        elif which == "owner_handle":
            cond = c.owner_handle == request.owner_handle.lower().lstrip("@")
        else:
            raise InvalidArgument("say which cameo: cameo_id, owner_user_id or owner_handle", "missing_selector")
        row = await self._read(lambda s: s.execute(select(m.cameos).where(cond)).first())
        if row is None:
            raise NotFound("there is no such cameo", "cameo_not_found")
        return pb.GetCameoResponse(cameo=domain.cameo_message(row, caller))

    async def ListCameos(self, request, context):
        me = auth.require_user()
        offset, limit = domain.page_bounds(request.page)

        def query(s):
            q = select(m.cameos).where(m.cameos.c.status == domain.ACTIVE)
            if request.usable_by_caller:
                teen = s.execute(select(m.users.c.age_group).where(m.users.c.user_id == me.subject)).scalar()
                q = q.where(domain.usable_filter(me.subject, teen == common.AGE_GROUP_TEEN))
            if request.query:
                prefix = request.query.lower().lstrip("@").replace("%", "").replace("_", r"\_") + "%"
                q = q.where(or_(m.cameos.c.owner_handle.like(prefix),
                                func.lower(m.cameos.c.display_name).like(prefix)))
            return s.execute(q.order_by(m.cameos.c.owner_handle, m.cameos.c.id).offset(offset).limit(limit)).all()
        rows = await self._read(query)
        return pb.ListCameosResponse(cameos=[domain.cameo_message(r, me) for r in rows],
                                     next_page_token=domain.next_token(offset, limit, len(rows)))

    async def UpdateCameo(self, request, context):
        me = auth.require_user()
        name = request.display_name if request.HasField("display_name") else None
        row = await self._tx(self.cameos.update, me.subject, request.cameo_id, name)
        return pb.UpdateCameoResponse(cameo=domain.cameo_message(row))

    async def DeleteCameo(self, request, context):
        me = auth.require_user()
        revision, count = await self._tx(self.cameos.delete_cameo, me.subject, request.cameo_id, request.takedown,
                                         wake=True)
        return pb.DeleteCameoResponse(revision=revision, takedown_count=count)

    # -- consent state ----------------------------------------------------------

    async def SetPolicy(self, request, context):
        me = auth.require_user()
        row = await self._tx(self.cameos.set_policy, me.subject, request.cameo_id, request.policy, wake=True)
        return pb.SetPolicyResponse(cameo=domain.cameo_message(row))

    async def RequestApproval(self, request, context):
        me = auth.require_user()
        row = await self._tx(self.cameos.request_approval, me.subject, request.cameo_id, request.message)
        return pb.RequestApprovalResponse(approval=domain.approval_message(row))

    async def Approve(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.approve, me.subject, request.cameo_id, request.user_id)
        return pb.ApproveResponse(approval=domain.approval_message(row), revision=revision)

    async def Deny(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.deny, me.subject, request.cameo_id, request.user_id)
        return pb.DenyResponse(approval=domain.approval_message(row), revision=revision)

    async def RemoveApproval(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.remove_approval, me.subject, request.cameo_id, request.user_id)
        return pb.RemoveApprovalResponse(approval=domain.approval_message(row), revision=revision)

    async def _owned(self, me, cameo_id):
        row = await self._read(domain.Cameos.get, cameo_id)
        if row.owner_user_id != me.subject:
            raise PermissionDenied("only the cameo's owner can see this", "not_owner")
        return row

    async def ListApprovals(self, request, context):
        me = auth.require_user()
        cameo = await self._owned(me, request.cameo_id)
        offset, limit = domain.page_bounds(request.page)
        q = select(m.approvals).where(m.approvals.c.cameo_id == cameo.id)
        if request.status:
            q = q.where(m.approvals.c.status == request.status)
        q = q.order_by(m.approvals.c.requested_at.desc(), m.approvals.c.id).offset(offset).limit(limit)
        rows = await self._read(lambda s: s.execute(q).all())
        return pb.ListApprovalsResponse(approvals=[domain.approval_message(r) for r in rows],
                                        next_page_token=domain.next_token(offset, limit, len(rows)))

    async def BlockUser(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.block, me.subject, request.cameo_id, request.user_id)
        return pb.BlockUserResponse(blocked=pb.BlockedUser(cameo_id=row.cameo_id, user_id=row.user_id,
                                                           user_handle=row.user_handle,
                                                           blocked_at=domain.ts(row.blocked_at)), revision=revision)

    async def UnblockUser(self, request, context):
        me = auth.require_user()
        revision = await self._tx(self.cameos.unblock, me.subject, request.cameo_id, request.user_id)
        return pb.UnblockUserResponse(revision=revision)

    async def ListBlockedUsers(self, request, context):
        me = auth.require_user()
        cameo = await self._owned(me, request.cameo_id)
        offset, limit = domain.page_bounds(request.page)
        q = (select(m.blocks).where(m.blocks.c.cameo_id == cameo.id)
             .order_by(m.blocks.c.blocked_at.desc(), m.blocks.c.user_id).offset(offset).limit(limit))
        rows = await self._read(lambda s: s.execute(q).all())
        return pb.ListBlockedUsersResponse(
            blocked=[pb.BlockedUser(cameo_id=r.cameo_id, user_id=r.user_id, user_handle=r.user_handle,
                                    blocked_at=domain.ts(r.blocked_at)) for r in rows],
            next_page_token=domain.next_token(offset, limit, len(rows)))

    async def AddRestriction(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.add_restriction, me.subject, request.cameo_id, request.text)
        return pb.AddRestrictionResponse(restriction=pb.Restriction(
            id=row.id, cameo_id=row.cameo_id, text=row.text, created_at=domain.ts(row.created_at)), revision=revision)

    async def ListRestrictions(self, request, context):
        auth.require_user_or_service()
        cameo = await self._read(domain.Cameos.get, request.cameo_id)
        # Restrictions are visible to anyone who might use the cameo, so they can respect them.
        rows = await self._read(lambda s: s.execute(select(m.restrictions).where(
            m.restrictions.c.cameo_id == cameo.id).order_by(m.restrictions.c.created_at)).all())
        return pb.ListRestrictionsResponse(restrictions=[pb.Restriction(
            id=r.id, cameo_id=r.cameo_id, text=r.text, created_at=domain.ts(r.created_at)) for r in rows])

    async def RemoveRestriction(self, request, context):
        me = auth.require_user()
        revision = await self._tx(self.cameos.remove_restriction, me.subject, request.cameo_id,
                                  request.restriction_id)
        return pb.RemoveRestrictionResponse(revision=revision)

    # -- the consent check --------------------------------------------------------

    async def CheckUse(self, request, context):
        caller = auth.require_user_or_service()
        requester = request.requester_user_id
        if caller.is_service:
            auth.require_service(*CHECK_CALLERS)
        else:
            requester = requester or caller.subject
            if requester != caller.subject:
                raise PermissionDenied("you can only check uses on your own behalf", "not_requester")
        requester, ids = self.checker.validate(requester, list(request.cameo_ids), request.prompt)
        decisions, texts = await self.fast.read(requester, ids)
        if texts:
            decisions = await asyncio.get_running_loop().run_in_executor(
                None, self.checker.apply_restrictions, request.prompt, decisions, texts)
        reply = pb.CheckUseResponse(all_allowed=all(d.allowed for d in decisions))
        for d in decisions:
            CONSENT_CHECKS.labels(pb.DecisionReason.Name(d.reason)).inc()
            out = reply.decisions.add(cameo_id=d.cameo_id, allowed=d.allowed, reason=d.reason, message=d.message,
                                      revision=d.revision, owner_user_id=d.owner_user_id)
            if d.restriction_id:
                out.conflicting_restriction.CopyFrom(pb.Restriction(id=d.restriction_id, cameo_id=d.cameo_id,
                                                                    text=d.restriction_text))
        return reply

    async def RevokeAccess(self, request, context):
        me = auth.require_user()
        revision, count = await self._tx(self.cameos.revoke_access, me.subject, request.cameo_id, request.user_id,
                                         request.takedown, wake=True)
        return pb.RevokeAccessResponse(revision=revision, takedown_count=count)

    # -- appearances, notifications, audit -------------------------------------------

    async def ListAppearances(self, request, context):
        me = auth.require_user()
        cameo = await self._owned(me, request.cameo_id)
        offset, limit = domain.page_bounds(request.page)
        a = m.appearances
        q = select(a).where(a.c.cameo_id == cameo.id)
        if request.kind:
            q = q.where(a.c.kind == request.kind)
        if not request.include_removed:
            q = q.where(a.c.state != pb.APPEARANCE_STATE_REMOVED)
        q = q.order_by(a.c.created_at.desc(), a.c.id).offset(offset).limit(limit)
        rows = await self._read(lambda s: s.execute(q).all())
        return pb.ListAppearancesResponse(appearances=[domain.appearance_message(r) for r in rows],
                                          next_page_token=domain.next_token(offset, limit, len(rows)))

    async def DeleteAppearance(self, request, context):
        me = auth.require_user()
        row = await self._tx(self.cameos.delete_appearance, me.subject, request.appearance_id, wake=True)
        return pb.DeleteAppearanceResponse(appearance=domain.appearance_message(row))

    async def ListNotifications(self, request, context):
        me = auth.require_user()
        offset, limit = domain.page_bounds(request.page)
        n = m.notifications

        def query(s):
            q = select(n).where(n.c.user_id == me.subject)
            if request.unread_only:
                q = q.where(~n.c.read)
            rows = s.execute(q.order_by(n.c.created_at.desc(), n.c.id).offset(offset).limit(limit)).all()
            unread = s.execute(select(func.count()).select_from(n).where(n.c.user_id == me.subject,
                                                                          ~n.c.read)).scalar_one()
            return rows, unread
        rows, unread = await self._read(query)
        return pb.ListNotificationsResponse(notifications=[domain.notification_message(r) for r in rows],
                                            next_page_token=domain.next_token(offset, limit, len(rows)),
                                            unread_count=unread)

    async def MarkNotificationsRead(self, request, context):
        me = auth.require_user()
        n = m.notifications
        ids = [domain.require_id(i, "notification id") for i in request.notification_ids]

        def mark(s):
            q = update(n).where(n.c.user_id == me.subject, ~n.c.read)
            if ids:
                q = q.where(n.c.id.in_(ids))
            return s.execute(q.values(read=True)).rowcount
        return pb.MarkNotificationsReadResponse(marked=await self._tx(mark))

    async def ListAuditLog(self, request, context):
        me = auth.require_user()
        cameo = await self._owned(me, request.cameo_id)
        offset, limit = domain.page_bounds(request.page)
        q = (select(m.audit_log).where(m.audit_log.c.cameo_id == cameo.id)
             .order_by(m.audit_log.c.id).offset(offset).limit(limit))
        rows = await self._read(lambda s: s.execute(q).all())
        return pb.ListAuditLogResponse(entries=[domain.audit_message(r) for r in rows],
                                       next_page_token=domain.next_token(offset, limit, len(rows)))

    async def GetLikeness(self, request, context):
        auth.require_service("generator")
        row = await self._read(domain.Cameos.get, request.cameo_id)
        if row.status != domain.ACTIVE or not row.verified:
            raise NotFound("this cameo is no longer available", "cameo_unavailable")
        reply = pb.GetLikenessResponse(cameo_id=row.id, owner_user_id=row.owner_user_id,
                                       owner_handle=row.owner_handle, display_name=row.display_name)
        reply.likeness.ParseFromString(row.likeness)
        return reply


def consumed_events() -> dict:
    return {
        id_ev.CameoVerified: handlers.cameo_verified,
        id_ev.UserCreated: handlers.user_created,
        id_ev.UserUpdated: handlers.user_updated,
        id_ev.UserDeleted: handlers.user_deleted,
        id_ev.ParentalControlsChanged: handlers.parental_controls_changed,
        feed_ev.FollowChanged: handlers.follow_changed,
        feed_ev.BlockChanged: handlers.block_changed,
        feed_ev.PostPublished: handlers.post_published,
        feed_ev.PostRemoved: handlers.post_removed,
        gen_ev.GenerationRequested: handlers.generation_requested,
        gen_ev.GenerationCompleted: handlers.generation_completed,
        gen_ev.GenerationFailed: handlers.generation_gone,
        gen_ev.GenerationCanceled: handlers.generation_gone,
        gen_ev.GenerationTakenDown: handlers.generation_gone,
        gen_ev.GenerationDeleted: handlers.generation_gone,
    }


CONSUME_TOPICS = ["kinora.identity.users.v1", "kinora.identity.verifications.v1", "kinora.feed.graph.v1",
                  "kinora.feed.posts.v1", "kinora.generator.generations.v1"]


def build_context(settings: CameoSettings, *, jwks_fetcher=None, matcher: RestrictionMatcher | None = None):
    ctx = create_service("cameo", settings, m.tables, MIGRATIONS, topics=domain.TOPICS, consumes=consumed_events(),
                         consume_topics=CONSUME_TOPICS, jwks_fetcher=jwks_fetcher)
    servicer = CameoServicer(ctx, matcher or RestrictionMatcher(), settings.db_workers, settings.check_statements)
    ctx.app.add_servicer(cameo_pb2_grpc.add_CameoServiceServicer_to_server, servicer,
                         pb.DESCRIPTOR.services_by_name["CameoService"].full_name)

    if settings.preload_model:
        ctx.warm_up(servicer.checker.matcher.warm)

    async def stop_pool():
        servicer.pool.shutdown(wait=True)
        servicer.pg.close()
    ctx.app.on_shutdown(stop_pool)
    return ctx


async def build(settings: CameoSettings) -> ServiceApp:
    return build_context(settings).app
