"""Billing's gRPC servicer and process assembly.

Reserve/Capture/Release are internal (the generator's service token) and
name the user; balance, quote, purchases, subscription and statement act for
the signed-in user (services may name one)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import billing_pb2_grpc
from kinora.common.v1 import common_pb2 as cpb
from kinora.identity.tokens import verifier_fetchers
from kinora.runtime.auth import require_service, require_user_or_service
from kinora.runtime.convert import timestamp, to_datetime
from kinora.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from kinora.runtime.server import ServiceApp
from kinora.runtime.service import ServiceContext, create_service
from services.billing.domain import Billing
from services.billing.handlers import make_handlers
from services.billing.models import tables
from services.billing.payments import LocalTestProvider, PaymentProvider, payment_provider
from services.billing.plans import BalanceView, Plan
from services.billing.settings import BillingSettings
from services.billing.subscriptions import subscription_pb
from services.billing.topics import CONSUMES, TOPICS

log = logging.getLogger("kinora.billing")
MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = bpb.DESCRIPTOR.services_by_name["BillingService"].full_name

_RES_STATUS = {
    "held": bpb.RESERVATION_STATUS_HELD,
    "captured": bpb.RESERVATION_STATUS_CAPTURED,
    "released": bpb.RESERVATION_STATUS_RELEASED,
    "expired": bpb.RESERVATION_STATUS_EXPIRED,
}
_PURCHASE_STATUS = {
    "pending": bpb.PURCHASE_STATUS_PENDING,
    "succeeded": bpb.PURCHASE_STATUS_SUCCEEDED,
    "declined": bpb.PURCHASE_STATUS_DECLINED,
    "failed": bpb.PURCHASE_STATUS_FAILED,
    "refunded": bpb.PURCHASE_STATUS_REFUNDED,
}
_ACCOUNT_KIND = {
    "credits": bpb.LEDGER_ACCOUNT_KIND_USER_CREDITS,
    "held": bpb.LEDGER_ACCOUNT_KIND_USER_HELD,
    "allowance": bpb.LEDGER_ACCOUNT_KIND_USER_ALLOWANCE,
}
_ENTRY_KIND = {
    "purchase": bpb.LEDGER_ENTRY_KIND_PURCHASE,
    "reserve": bpb.LEDGER_ENTRY_KIND_RESERVE,
    "capture": bpb.LEDGER_ENTRY_KIND_CAPTURE,
    "release": bpb.LEDGER_ENTRY_KIND_RELEASE,
    "expire": bpb.LEDGER_ENTRY_KIND_EXPIRE,
    "refund": bpb.LEDGER_ENTRY_KIND_REFUND,
    "allowance_grant": bpb.LEDGER_ENTRY_KIND_ALLOWANCE_GRANT,
    "subscription": bpb.LEDGER_ENTRY_KIND_SUBSCRIPTION,
}


def acting_user(requested: str) -> tuple[str, bool]:
    """(user id, caller is a service). Users act for themselves only."""
    p = require_user_or_service()
    if p.is_service:
        if not requested:
            raise InvalidArgument("user_id is required when a service calls", "user_id_required")
        return requested, True
    if requested and requested != p.subject:
        raise PermissionDenied("you can only act on your own billing account")
    return p.subject, False


def reservation_pb(r) -> bpb.Reservation:
    return bpb.Reservation(
        id=r.id,
        generation_id=r.generation_id,
        user_id=r.user_id,
        status=_RES_STATUS[r.status],
        rule=r.rule,
        allowance_units=r.allowance_units,
        credits=r.credits,
        tier=r.tier,
        created_at=timestamp(r.created_at),
        expires_at=timestamp(r.expires_at),
        settled_at=timestamp(r.settled_at),
    )


def quote_pb(q) -> bpb.Quote:
    return bpb.Quote(
        quote_id=q.id,
        user_id=q.user_id,
        model=q.model,
        seconds=q.seconds,
        size=q.size,
        rule=q.rule,
        price_credits=q.price_credits,
        tier=q.tier,
        description=q.description,
        estimated_wait_seconds=q.estimated_wait_seconds,
        expires_at=timestamp(q.expires_at),
    )


def purchase_pb(p) -> bpb.Purchase:
    return bpb.Purchase(
        id=p.id,
        user_id=p.user_id,
        pack_id=p.pack_id,
        credits=p.credits,
        amount=cpb.Money(amount_minor=p.amount_minor, currency=p.currency),
        status=_PURCHASE_STATUS[p.status],
        provider_payment_id=p.provider_payment_id or "",
        failure_message=p.failure_message,
        created_at=timestamp(p.created_at),
        updated_at=timestamp(p.updated_at),
    )


def balance_pb(b: BalanceView) -> bpb.Balance:
    return bpb.Balance(
        user_id=b.user_id,
        credits=b.credits,
        credits_held=b.credits_held,
        plan_tier=b.plan.tier,
        allowance=bpb.Allowance(
            daily_limit=b.daily_limit,
            used_today=b.used_today,
            held_today=b.held_today,
            remaining=b.remaining,
            resets_at=timestamp(b.resets_at),
        ),
    )


def plan_pb(plan: Plan, currency: str) -> bpb.Plan:
    return bpb.Plan(
        id=plan.id,
        name=plan.name,
        tier=plan.tier,
        daily_allowance=plan.daily_allowance,
        models=plan.models,
        max_seconds=plan.max_seconds,
        sizes=plan.sizes,
        price_per_period=cpb.Money(amount_minor=plan.price_minor, currency=currency),
        period_days=plan.period_days,
    )


def entry_pb(e) -> bpb.LedgerEntry:
    return bpb.LedgerEntry(
        id=str(e.id),
        transaction_id=e.transaction_id,
        account=_ACCOUNT_KIND[e.account_kind],
        kind=_ENTRY_KIND[e.kind],
        amount=e.amount,
        unit=e.unit,
        balance_after=e.balance_after,
        generation_id=e.generation_id or "",
        purchase_id=e.purchase_id or "",
        description=e.description,
        created_at=timestamp(e.created_at),
        account_id=str(e.account_id),
    )


def identity_lookup(ctx):
    """Ask identity whether a user exists (service token); None without identity."""
    if not ctx.settings.identity_addr or not ctx.settings.internal_secret:
        return None
    from kinora.identity.v1 import identity_pb2, identity_pb2_grpc
    from kinora.runtime.clients import channel

    ch = None

    async def exists(user_id: str) -> bool:
        nonlocal ch
        ch = ch or channel(ctx.settings.identity_addr, ctx.service_token_source())
        try:
            await identity_pb2_grpc.IdentityServiceStub(ch).GetUser(
                identity_pb2.GetUserRequest(user_id=user_id), timeout=5
            )
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return True

    return exists


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, billing: Billing, wake_relay, user_exists=None, executor: ThreadPoolExecutor | None = None):
        self.billing, self.wake_relay = billing, wake_relay
        # Blocking database work runs here, one thread per pooled connection
        # (the default executor has only cpu_count + 4 threads).
        self.executor = executor
        # Accounts normally open from identity's UserCreated event; a generation
        # can arrive first, so an unknown user is looked up in identity once.
        self.user_exists = user_exists

    async def _opened(self, user_id: str) -> bool:
        if self.user_exists is None or not user_id or not await self.user_exists(user_id):
            return False
        await self._run(self.billing.balance, user_id, True)
        return True

    async def _run(self, fn, *args, publishes: bool = False):
        call = contextvars.copy_context().run  # the caller's trace context, as asyncio.to_thread keeps it
        result = await asyncio.get_running_loop().run_in_executor(self.executor, call, fn, *args)
        if publishes:
            self.wake_relay()
        return result

    async def GetBalance(self, request, context):
        user_id, is_service = acting_user(request.user_id)
        view = await self._run(self.billing.balance, user_id, not is_service)
        return bpb.GetBalanceResponse(balance=balance_pb(view))

    async def Quote(self, request, context):
        user_id, _ = acting_user(request.user_id)
        q = await self._run(
            self.billing.quote, user_id, request.model, request.seconds, request.size, request.prefer_wait
        )
        return bpb.QuoteResponse(quote=quote_pb(q))

    async def Reserve(self, request, context):
        require_service("generator")
        args = (
            request.generation_id,
            request.user_id,
            request.model,
            request.seconds,
            request.size,
            request.quote_id,
            request.prefer_wait,
        )
        try:
            row, replayed = await self._run(self.billing.reserve, *args)
        except NotFound as exc:
            if exc.code != "unknown_user" or not await self._opened(request.user_id):
                raise
            row, replayed = await self._run(self.billing.reserve, *args)
        return bpb.ReserveResponse(reservation=reservation_pb(row), replayed=replayed)

    async def Capture(self, request, context):
        require_service("generator")
        row, replayed = await self._run(self.billing.capture, request.generation_id, publishes=True)
        return bpb.CaptureResponse(reservation=reservation_pb(row), replayed=replayed)

    async def ExtendReservation(self, request, context):
        require_service("generator")
        row = await self._run(self.billing.extend, request.generation_id, publishes=True)
        return bpb.ExtendReservationResponse(reservation=reservation_pb(row))

    async def Release(self, request, context):
        require_service("generator")
        row, replayed = await self._run(self.billing.release, request.generation_id, request.reason, publishes=True)
        return bpb.ReleaseResponse(reservation=reservation_pb(row), replayed=replayed)

    async def ListCreditPacks(self, request, context):
        cur = self.billing.settings.currency
        return bpb.ListCreditPacksResponse(
            packs=[
                bpb.CreditPack(
                    id=p.id,
                    name=f"{p.credits} credits",
                    credits=p.credits,
                    price=cpb.Money(amount_minor=p.price_minor, currency=cur),
                )
                for p in self.billing.packs.values()
            ]
        )

    async def PurchaseCredits(self, request, context):
        user_id, _ = acting_user("")
        expected = request.expected_price if request.HasField("expected_price") else None
        if expected is not None and expected.amount_minor <= 0:
            raise InvalidArgument("expected_price must be a positive amount in minor units", "invalid_amount")
        p, view = await self._run(
            self.billing.purchase,
            user_id,
            request.pack_id,
            request.payment_token,
            request.idempotency_key,
            expected.amount_minor if expected else None,
            expected.currency if expected else "",
            publishes=True,
        )
        return bpb.PurchaseCreditsResponse(purchase=purchase_pb(p), balance=balance_pb(view))

    async def Refund(self, request, context):
        p = require_user_or_service()
        row = await self._run(
            self.billing.refund,
            request.purchase_id,
            request.reason,
            None if p.is_service else p.subject,
            publishes=True,
        )
        return bpb.RefundResponse(purchase=purchase_pb(row))

    async def HandlePaymentWebhook(self, request, context):
        require_service("gateway")
        event_id, duplicate = await self._run(
            self.billing.handle_webhook, request.provider, request.payload, request.signature, publishes=True
        )
        return bpb.HandlePaymentWebhookResponse(provider_event_id=event_id, duplicate=duplicate)

    async def ListPlans(self, request, context):
        cur = self.billing.settings.currency
        return bpb.ListPlansResponse(plans=[plan_pb(p, cur) for p in self.billing.plans.values()])

    async def StartSubscription(self, request, context):
        user_id, _ = acting_user("")
        sub = await self._run(
            self.billing.start_subscription,
            user_id,
            request.plan_id,
            request.payment_token,
            request.idempotency_key,
            publishes=True,
        )
        return bpb.StartSubscriptionResponse(subscription=subscription_pb(sub))

    async def CancelSubscription(self, request, context):
        user_id, _ = acting_user("")
        sub = await self._run(self.billing.cancel_subscription, user_id, publishes=True)
        return bpb.CancelSubscriptionResponse(subscription=subscription_pb(sub))

    async def GetEntitlements(self, request, context):
        user_id, _ = acting_user(request.user_id)
        plan, sub = await self._run(self.billing.entitlements, user_id)
        ent = bpb.Entitlements(
            user_id=user_id,
            plan=plan_pb(plan, self.billing.settings.currency),
            models=plan.models,
            max_seconds=plan.max_seconds,
            sizes=plan.sizes,
            priority_tier=plan.tier,
        )
        if sub is not None:
            ent.subscription.CopyFrom(subscription_pb(sub))
        return bpb.GetEntitlementsResponse(entitlements=ent)

    async def GetStatement(self, request, context):
        user_id, _ = acting_user(request.user_id)
        since = to_datetime(request.since, "since") if request.HasField("since") else None
        until = to_datetime(request.until, "until") if request.HasField("until") else None
        rows, token = await self._run(
            self.billing.statement, user_id, request.page.page_size, request.page.page_token, since, until
        )
        return bpb.GetStatementResponse(entries=[entry_pb(e) for e in rows], next_page_token=token)


def _every(interval: float, name: str, fn):
    """A background loop running `fn` every `interval` seconds until stopped."""

    def run(stop: threading.Event) -> None:
        while not stop.wait(interval):
            try:
                fn()
            except Exception:  # noqa: BLE001 - the next round retries
                log.exception("%s failed; retrying next round", name)

    return run


@dataclass
class BillingService:
    ctx: ServiceContext
    billing: Billing
    provider: PaymentProvider


def build_service(
    settings: BillingSettings,
    *,
    jwks_fetcher=None,
    provider: PaymentProvider | None = None,
    clock=None,
    deliver_test_webhooks: bool = True,
) -> BillingService:
    provider = provider or payment_provider(settings)
    ctx = create_service(
        "billing",
        settings,
        tables,
        MIGRATIONS,
        topics=TOPICS,
        **verifier_fetchers(settings.identity_addr, jwks_fetcher),
    )
    billing = Billing(settings, ctx.sessions, tables, provider, clock)
    if settings.kafka_bootstrap:  # consumers need the Billing object, so add them after it exists
        ctx.subscribe(make_handlers(billing), CONSUMES)  # its topics are created at start with the rest

    async def prepare():
        await asyncio.to_thread(billing.prepare)

    ctx.app.on_startup(prepare)
    pool = ctx.engine.pool
    connections = pool.size() + getattr(pool, "_max_overflow", 0) if hasattr(pool, "size") else 8
    executor = ThreadPoolExecutor(max(4, connections), thread_name_prefix="billing-db")

    async def stop_executor():
        executor.shutdown(wait=False, cancel_futures=True)
        billing.close()

    ctx.app.on_shutdown(stop_executor)
    ctx.app.add_servicer(
        billing_pb2_grpc.add_BillingServiceServicer_to_server,
        BillingServicer(billing, ctx.wake_relay, identity_lookup(ctx), executor),
        SERVICE_NAME,
    )

    def sweep():
        expired, ended = billing.expire_stale(), billing.end_lapsed_subscriptions()
        if expired or ended:
            ctx.wake_relay()

    if settings.sweep_interval_seconds:
        ctx.app.add_worker("billing-sweep", _every(settings.sweep_interval_seconds, "hold sweep", sweep))
    if settings.reconcile_interval_seconds:
        ctx.app.add_worker(
            "billing-reconcile", _every(settings.reconcile_interval_seconds, "reconciliation", billing.reconcile)
        )
    if isinstance(provider, LocalTestProvider) and deliver_test_webhooks:
        # Stands in for the provider POSTing its webhooks to the gateway.
        def deliver():
            for payload, signature in provider.take_webhooks():
                try:
                    billing.handle_webhook(provider.name, payload, signature)
                except Exception:  # noqa: BLE001 - one bad event must not drop the rest
                    log.exception("test provider webhook refused")
            ctx.wake_relay()

        ctx.app.add_worker("billing-test-webhooks", _every(0.2, "test webhook delivery", deliver))
    return BillingService(ctx, billing, provider)


async def build(settings: BillingSettings) -> ServiceApp:
    return build_service(settings).ctx.app
