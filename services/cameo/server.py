"""Cameo gRPC servicer and service assembly."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prometheus_client import Counter
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.cameo.v1 import cameo_pb2_grpc
from kinora.identity.tokens import verifier_fetchers
from kinora.runtime import auth
from kinora.runtime.db import transaction
from kinora.runtime.errors import InvalidArgument, KinoraError, PermissionDenied
from kinora.runtime.server import ServiceApp
from kinora.runtime.service import ServiceContext, create_service
from kinora.runtime.subscriptions import by_event_type
from services.cameo import characters, queries
from services.cameo import models as m
from services.cameo.character_media import read_character_media
from services.cameo.consent import ConsentChecker, Decision
from services.cameo.domain import Cameos
from services.cameo.fastpath import CoalescingReader, PgConsentReader
from services.cameo.handlers import consumed_events
from services.cameo.handles import IdentityHandles, person_check
from services.cameo.messages import (
    appearance_message,
    approval_message,
    audit_message,
    blocked_message,
    cameo_message,
    notification_message,
    restriction_message,
)
from services.cameo.metrics import CONSENT_CHECKS
from services.cameo.policy import CHARACTER
from services.cameo.restrictions import RestrictionMatcher
from services.cameo.settings import CameoSettings
from services.cameo.topics import CONSUMES, TOPICS

log = logging.getLogger("kinora.cameo")
MIGRATIONS = Path(__file__).parent / "migrations"
CHECK_CALLERS = ("generator", "feed", "gateway")
MAX_BATCH_CHECKS = 64
_DECISION_COUNTERS: dict[int, Counter] = {}


def _decision_counter(reason: int) -> Counter:
    """CONSENT_CHECKS' child for one reason, bound once (labels() is not free)."""
    counter = _DECISION_COUNTERS.get(reason)
    if counter is None:
        counter = _DECISION_COUNTERS[reason] = CONSENT_CHECKS.labels(pb.DecisionReason.Name(reason))
    return counter


class CameoServicer(cameo_pb2_grpc.CameoServiceServicer):
    def __init__(self, ctx: ServiceContext, matcher: RestrictionMatcher, db_workers: int, check_statements: int):
        self.ctx = ctx
        self.cameos = Cameos(m.tables)
        self.characters = characters.Characters(self.cameos)
        self.people = IdentityHandles.from_settings(ctx.settings.identity_addr, ctx.service_token_source())
        self.media_slots = asyncio.Semaphore(2)
        self.checker = ConsentChecker(matcher)
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
        if which not in ("cameo_id", "owner_user_id", "owner_handle", "handle"):
            raise InvalidArgument(
                "say which cameo: cameo_id, owner_user_id, owner_handle or handle", "missing_selector"
            )
        row = await self._read(lambda s: queries.cameo_by(s, **{which: getattr(request, which)}))
        return pb.GetCameoResponse(cameo=cameo_message(row, caller))

    async def ListCameos(self, request, context):
        me = auth.require_user()
        rows, token = await self._read(
            lambda s: queries.cameos(
                s,
                me.subject,
                request.page,
                usable_by_viewer=request.usable_by_caller,
                search=request.query,
                owned_by_viewer=request.owned_by_caller,
                kind=request.kind,
            )
        )
        return pb.ListCameosResponse(cameos=[cameo_message(r, me) for r in rows], next_page_token=token)

    async def UpdateCameo(self, request, context):
        me = auth.require_user()
        name = request.display_name if request.HasField("display_name") else None
        row = await self._tx(self.cameos.update, me.subject, request.cameo_id, name)
        return pb.UpdateCameoResponse(cameo=cameo_message(row))

    async def DeleteCameo(self, request, context):
        me = auth.require_user()
        revision, count = await self._tx(
            self.cameos.delete_cameo, me.subject, request.cameo_id, request.takedown, wake=True
        )
        return pb.DeleteCameoResponse(revision=revision, takedown_count=count)

    # -- consent state ----------------------------------------------------------

    async def SetPolicy(self, request, context):
        me = auth.require_user()
        row = await self._tx(self.cameos.set_policy, me.subject, request.cameo_id, request.policy, wake=True)
        return pb.SetPolicyResponse(cameo=cameo_message(row))

    async def RequestApproval(self, request, context):
        me = auth.require_user()
        row = await self._tx(self.cameos.request_approval, me.subject, request.cameo_id, request.message)
        return pb.RequestApprovalResponse(approval=approval_message(row))

    async def Approve(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.approve, me.subject, request.cameo_id, request.user_id)
        return pb.ApproveResponse(approval=approval_message(row), revision=revision)

    async def Deny(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.deny, me.subject, request.cameo_id, request.user_id)
        return pb.DenyResponse(approval=approval_message(row), revision=revision)

    async def RemoveApproval(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.remove_approval, me.subject, request.cameo_id, request.user_id)
        return pb.RemoveApprovalResponse(approval=approval_message(row), revision=revision)

    async def ListApprovals(self, request, context):
        me = auth.require_user()
        rows, token = await self._read(queries.approvals, me.subject, request.cameo_id, request.status, request.page)
        return pb.ListApprovalsResponse(approvals=[approval_message(r) for r in rows], next_page_token=token)

    async def BlockUser(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.block, me.subject, request.cameo_id, request.user_id)
        return pb.BlockUserResponse(blocked=blocked_message(row), revision=revision)

    async def UnblockUser(self, request, context):
        me = auth.require_user()
        revision = await self._tx(self.cameos.unblock, me.subject, request.cameo_id, request.user_id)
        return pb.UnblockUserResponse(revision=revision)

    async def ListBlockedUsers(self, request, context):
        me = auth.require_user()
        rows, token = await self._read(queries.blocked_users, me.subject, request.cameo_id, request.page)
        return pb.ListBlockedUsersResponse(blocked=[blocked_message(r) for r in rows], next_page_token=token)

    async def AddRestriction(self, request, context):
        me = auth.require_user()
        row, revision = await self._tx(self.cameos.add_restriction, me.subject, request.cameo_id, request.text)
        return pb.AddRestrictionResponse(restriction=restriction_message(row), revision=revision)

    async def ListRestrictions(self, request, context):
        auth.require_user_or_service()
        rows = await self._read(queries.restrictions, request.cameo_id)
        return pb.ListRestrictionsResponse(restrictions=[restriction_message(r) for r in rows])

    async def RemoveRestriction(self, request, context):
        me = auth.require_user()
        revision = await self._tx(self.cameos.remove_restriction, me.subject, request.cameo_id, request.restriction_id)
        return pb.RemoveRestrictionResponse(revision=revision)

    # -- the consent check --------------------------------------------------------

    async def CheckUse(self, request, context):
        requester = self._check_requester(auth.require_user_or_service(), request.requester_user_id)
        requester, ids = self.checker.validate(requester, list(request.cameo_ids), request.prompt)
        decisions, texts = await self.fast.read(requester, ids)
        if texts:
            decisions = await asyncio.get_running_loop().run_in_executor(
                None, self.checker.apply_restrictions, request.prompt, decisions, texts
            )
        reply = pb.CheckUseResponse()
        _fill_check_reply(reply, decisions)
        return reply

    async def BatchCheckUse(self, request, context):
        """CheckUse for several checks in one call: one gRPC call's CPU for all of
        them, and one statement (a snapshot taken after the call arrived) for the lot."""
        caller = auth.require_user_or_service()
        checks = request.checks
        if not checks:
            raise InvalidArgument("name at least one check", "no_checks")
        if len(checks) > MAX_BATCH_CHECKS:
            raise InvalidArgument(
                f"at most {MAX_BATCH_CHECKS} checks fit in one call; this one has {len(checks)}", "too_many_checks"
            )
        if caller.is_service:
            auth.require_service(*CHECK_CALLERS)  # the caller may not check at all: the whole call fails
        reply = pb.BatchCheckUseResponse()
        results = [reply.results.add() for _ in checks]
        valid: list[tuple[int, str, list[str]]] = []
        for k, check in enumerate(checks):
            try:
                requester = self._check_requester(caller, check.requester_user_id)
                requester, ids = self.checker.validate(requester, list(check.cameo_ids), check.prompt)
            except KinoraError as err:  # this check alone fails, as CheckUse would have failed it
                results[k].error.code, results[k].error.message = err.code, err.message
                results[k].status = err.status.value[0]
                continue
            valid.append((k, requester, ids))
        read = await self.fast.read_all([(requester, ids) for _, requester, ids in valid]) if valid else []
        restricted = [(k, decisions, texts) for (k, _, _), (decisions, texts) in zip(valid, read) if texts]
        answers = {k: decisions for (k, _, _), (decisions, _) in zip(valid, read)}
        if restricted:

            def match_all():
                return {
                    k: self.checker.apply_restrictions(checks[k].prompt, decisions, texts)
                    for k, decisions, texts in restricted
                }

            answers.update(await asyncio.get_running_loop().run_in_executor(None, match_all))
        for k, decisions in answers.items():
            _fill_check_reply(results[k].response, decisions)
        return reply

    @staticmethod
    def _check_requester(caller: auth.Principal, requester: str) -> str:
        """Whose use is checked: a calling service names the requester; a user checks only their own."""
        if caller.is_service:
            auth.require_service(*CHECK_CALLERS)
            return requester
        requester = requester or caller.subject
        if requester != caller.subject:
            raise PermissionDenied("you can only check uses on your own behalf", "not_requester")
        return requester

    async def RevokeAccess(self, request, context):
        me = auth.require_user()
        revision, count = await self._tx(
            self.cameos.revoke_access, me.subject, request.cameo_id, request.user_id, request.takedown, wake=True
        )
        return pb.RevokeAccessResponse(revision=revision, takedown_count=count)

    # -- appearances, notifications, audit -------------------------------------------

    async def ListAppearances(self, request, context):
        me = auth.require_user()
        rows, token = await self._read(
            queries.appearances, me.subject, request.cameo_id, request.kind, request.include_removed, request.page
        )
        return pb.ListAppearancesResponse(appearances=[appearance_message(r) for r in rows], next_page_token=token)

    async def DeleteAppearance(self, request, context):
        me = auth.require_user()
        row = await self._tx(self.cameos.delete_appearance, me.subject, request.appearance_id, wake=True)
        return pb.DeleteAppearanceResponse(appearance=appearance_message(row))

    async def ListNotifications(self, request, context):
        me = auth.require_user()
        rows, token, unread = await self._read(queries.notifications, me.subject, request.unread_only, request.page)
        return pb.ListNotificationsResponse(
            notifications=[notification_message(r) for r in rows], next_page_token=token, unread_count=unread
        )

    async def MarkNotificationsRead(self, request, context):
        me = auth.require_user()
        marked = await self._tx(self.cameos.mark_notifications_read, me.subject, list(request.notification_ids))
        return pb.MarkNotificationsReadResponse(marked=marked)

    async def ListAuditLog(self, request, context):
        me = auth.require_user()
        rows, token = await self._read(queries.audit_log, me.subject, request.cameo_id, request.page)
        return pb.ListAuditLogResponse(entries=[audit_message(r) for r in rows], next_page_token=token)

    async def GetLikeness(self, request, context):
        auth.require_service("generator")
        row = await self._read(queries.likeness_source, request.cameo_id)
        reply = pb.GetLikenessResponse(
            cameo_id=row.id,
            owner_user_id=row.owner_user_id,
            owner_handle=row.owner_handle,
            display_name=row.display_name,
            kind=row.kind,
            description=row.description,
        )
        reply.likeness.ParseFromString(row.likeness)
        if row.kind == CHARACTER:
            reply.reference_pngs.extend(await self._read(queries.reference_pngs, row.id))
        return reply

    async def CreateCharacter(self, request, context):
        me = auth.require_user()
        given = characters.validate(request.name, request.handle, request.description)
        async with self.media_slots:  # face search: CPU and memory, a few uploads at a time
            media = await asyncio.get_running_loop().run_in_executor(None, read_character_media, request.media)
        row = await self._tx(
            self.characters.create, me.subject, me.handle, me.teen, given, media, person_check(self.people), wake=True
        )
        return pb.CreateCharacterResponse(cameo=cameo_message(row, me))


def _fill_check_reply(reply: pb.CheckUseResponse, decisions: list[Decision]) -> None:
    reply.all_allowed = all(d.allowed for d in decisions)
    add = reply.decisions.add
    for d in decisions:
        _decision_counter(d.reason).inc()
        out = add(
            cameo_id=d.cameo_id,
            allowed=d.allowed,
            reason=d.reason,
            message=d.message,
            revision=d.revision,
            owner_user_id=d.owner_user_id,
        )
        if d.restriction_id:
            out.conflicting_restriction.CopyFrom(
                pb.Restriction(id=d.restriction_id, cameo_id=d.cameo_id, text=d.restriction_text)
            )


def build_context(settings: CameoSettings, *, jwks_fetcher=None, matcher: RestrictionMatcher | None = None):
    ctx = create_service(
        "cameo",
        settings,
        m.tables,
        MIGRATIONS,
        topics=TOPICS,
        subscription=by_event_type(consumed_events(), CONSUMES),
        **verifier_fetchers(settings.identity_addr, jwks_fetcher),
    )
    servicer = CameoServicer(ctx, matcher or RestrictionMatcher(), settings.db_workers, settings.check_statements)
    full_name = pb.DESCRIPTOR.services_by_name["CameoService"].full_name
    ctx.app.add_servicer(cameo_pb2_grpc.add_CameoServiceServicer_to_server, servicer, full_name)
    # Every generation and publish checks consent: a root span per check costs more CPU than the rest of
    # the interceptor. Checks made inside a caller's trace (the generator's, the feed's) keep their span.
    ctx.app.trace_only_within_traces(f"/{full_name}/CheckUse", f"/{full_name}/BatchCheckUse")

    if settings.preload_model:
        ctx.warm_up(servicer.checker.matcher.warm)

    async def stop_pool():
        servicer.pool.shutdown(wait=True)
        servicer.pg.close()

    ctx.app.on_shutdown(stop_pool)
    return ctx


async def build(settings: CameoSettings) -> ServiceApp:
    return build_context(settings).app
