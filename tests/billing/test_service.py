"""The billing service over real gRPC: auth, reservations, payments through
the local test provider, webhooks, refunds, Pro, demand pricing, statements
and bad input."""

import json

import grpc
import pytest
from billing_support import Clock, make_settings
from sqlalchemy import select

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import billing_pb2_grpc
from kinora.billing.v1 import events_pb2 as bepb
from kinora.common.v1 import common_pb2 as cpb
from kinora.generator.v1 import events_pb2 as gen_events
from kinora.runtime.auth import mint_service_token
from kinora.runtime.db import transaction
from kinora.runtime.errors import error_code_of
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer
from services.billing.models import tables
from services.billing.server import build_service

SECRET = "billing-test-internal-secret-0123456789"


class Harness:
    def __init__(self, svc, stub, issuer, clock):
        self.svc, self.stub, self.issuer, self.clock = svc, stub, issuer, clock
        self.billing = svc.billing

    def user(self, uid):
        return bearer(self.issuer.token(uid, uid))

    def service(self, name="generator"):
        return bearer(mint_service_token(name, SECRET)[0])


@pytest.fixture
async def h(pg_url):
    issuer, clock = LocalIssuer(), Clock()
    settings = make_settings(pg_url, grpc_host="127.0.0.1", grpc_port=free_port(), internal_secret=SECRET)
    svc = build_service(settings, jwks_fetcher=issuer.fetch_jwks, clock=clock, deliver_test_webhooks=False)
    await svc.ctx.app.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{svc.ctx.app.port}") as ch:
        yield Harness(svc, billing_pb2_grpc.BillingServiceStub(ch), issuer, clock)
    await svc.ctx.app.stop()


async def fails(call, code, error_code=None):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    if error_code:
        assert error_code_of(info.value) == error_code, info.value.details()
    return info.value


def reserve_req(gen, user, **kw):
    return bpb.ReserveRequest(
        generation_id=gen,
        user_id=user,
        model=kw.pop("model", "standard"),
        seconds=kw.pop("seconds", 10),
        size=kw.pop("size", "720x1280"),
        **kw,
    )


async def test_reservations_are_internal_and_idempotent(h):
    await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=h.user("alice"))  # opens alice's account
    denied = grpc.StatusCode.PERMISSION_DENIED
    await fails(h.stub.Reserve(reserve_req("g1", "alice"), metadata=h.user("alice")), denied)
    await fails(h.stub.Reserve(reserve_req("g1", "alice"), metadata=h.service("feed")), denied)
    first = await h.stub.Reserve(reserve_req("g1", "alice"), metadata=h.service())
    again = await h.stub.Reserve(reserve_req("g1", "alice"), metadata=h.service())
    assert not first.replayed and again.replayed and first.reservation.id == again.reservation.id
    assert first.reservation.rule == bpb.PRICE_RULE_ALLOWANCE and first.reservation.tier == cpb.TIER_FREE
    await fails(
        h.stub.Reserve(reserve_req("g1", "bob"), metadata=h.service()), grpc.StatusCode.NOT_FOUND, "unknown_user"
    )

    cap = await h.stub.Capture(bpb.CaptureRequest(generation_id="g1"), metadata=h.service())
    cap2 = await h.stub.Capture(bpb.CaptureRequest(generation_id="g1"), metadata=h.service())
    assert cap.reservation.status == bpb.RESERVATION_STATUS_CAPTURED and cap2.replayed
    await fails(
        h.stub.Release(bpb.ReleaseRequest(generation_id="g1"), metadata=h.service()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "reservation_settled",
    )
    await fails(
        h.stub.Capture(bpb.CaptureRequest(generation_id="nope"), metadata=h.service()), grpc.StatusCode.NOT_FOUND
    )

    await h.stub.Reserve(reserve_req("g2", "alice"), metadata=h.service())
    rel = await h.stub.Release(bpb.ReleaseRequest(generation_id="g2", reason="failed"), metadata=h.service())
    assert rel.reservation.status == bpb.RESERVATION_STATUS_RELEASED
    bal = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=h.user("alice"))).balance
    assert (bal.allowance.daily_limit, bal.allowance.used_today, bal.allowance.remaining) == (3, 1, 2)
    assert bal.allowance.resets_at.ToDatetime().hour == 0  # 00:00 UTC

    # Stale holds expire and are released by the sweep.
    await h.stub.Reserve(reserve_req("g3", "alice"), metadata=h.service())
    h.clock.advance(seconds=601)
    assert h.billing.expire_stale() == 1
    await fails(
        h.stub.Capture(bpb.CaptureRequest(generation_id="g3"), metadata=h.service()),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    bal = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=h.user("alice"))).balance
    assert (bal.allowance.remaining, bal.allowance.held_today) == (2, 0)


async def test_day_resets_at_midnight_utc(h):
    h.clock.now = h.clock.now.replace(hour=23, minute=59)
    for i in range(3):
        await h.stub.Reserve(reserve_req(f"d{i}", "carol"), metadata=h.service()) if i else await h.stub.GetBalance(
            bpb.GetBalanceRequest(), metadata=h.user("carol")
        )
    held_over_midnight = (await h.stub.Reserve(reserve_req("d9", "carol"), metadata=h.service())).reservation
    await fails(
        h.stub.Reserve(reserve_req("d10", "carol"), metadata=h.service()),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "insufficient_balance",
    )
    h.clock.advance(minutes=1)  # 00:00 UTC
    bal = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=h.user("carol"))).balance
    assert bal.allowance.remaining == 3
    # Yesterday's hold released today does not top up today's allowance.
    await h.stub.Release(bpb.ReleaseRequest(generation_id=held_over_midnight.generation_id), metadata=h.service())
    bal = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=h.user("carol"))).balance
    assert bal.allowance.remaining == 3


async def test_purchases_webhooks_and_refunds(h):
    me = h.user("dave")
    packs = (await h.stub.ListCreditPacks(bpb.ListCreditPacksRequest())).packs
    starter = next(p for p in packs if p.id == "starter")
    assert (starter.credits, starter.price.amount_minor, starter.price.currency) == (10, 400, "USD")

    ok = await h.stub.PurchaseCredits(
        bpb.PurchaseCreditsRequest(
            pack_id="starter", payment_token="tok_test_succeed", idempotency_key="k1", expected_price=starter.price
        ),
        metadata=me,
    )
    assert ok.purchase.status == bpb.PURCHASE_STATUS_SUCCEEDED and ok.balance.credits == 10
    retry = await h.stub.PurchaseCredits(
        bpb.PurchaseCreditsRequest(pack_id="starter", payment_token="tok_test_succeed", idempotency_key="k1"),
        metadata=me,
    )
    assert retry.purchase.id == ok.purchase.id and retry.balance.credits == 10

    declined = await h.stub.PurchaseCredits(
        bpb.PurchaseCreditsRequest(pack_id="starter", payment_token="tok_test_decline"), metadata=me
    )
    assert declined.purchase.status == bpb.PURCHASE_STATUS_DECLINED and "declined" in declined.purchase.failure_message
    pending = await h.stub.PurchaseCredits(
        bpb.PurchaseCreditsRequest(pack_id="starter", payment_token="tok_test_fail_after_auth"), metadata=me
    )
    assert pending.purchase.status == bpb.PURCHASE_STATUS_PENDING and pending.balance.credits == 10

    # The provider's webhooks, relayed by the gateway; each replay is a no-op.
    hooks = h.svc.provider.take_webhooks()
    assert len(hooks) == 2
    gateway = h.service("gateway")
    for payload, signature in hooks:
        req = bpb.HandlePaymentWebhookRequest(provider="test", payload=payload, signature=signature)
        first = await h.stub.HandlePaymentWebhook(req, metadata=gateway)
        replay = await h.stub.HandlePaymentWebhook(req, metadata=gateway)
        assert not first.duplicate and replay.duplicate and first.provider_event_id == replay.provider_event_id
    await fails(
        h.stub.HandlePaymentWebhook(
            bpb.HandlePaymentWebhookRequest(provider="test", payload=hooks[0][0], signature="forged"), metadata=gateway
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "bad_webhook_signature",
    )
    await fails(
        h.stub.HandlePaymentWebhook(
            bpb.HandlePaymentWebhookRequest(provider="test", payload=hooks[0][0], signature=hooks[0][1]), metadata=me
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    body = json.loads(hooks[0][0])
    body.update(id="evt_other", currency="EUR")
    forged = json.dumps(body).encode()
    await fails(
        h.stub.HandlePaymentWebhook(
            bpb.HandlePaymentWebhookRequest(provider="test", payload=forged, signature=h.svc.provider.sign(forged)),
            metadata=gateway,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "currency_mismatch",
    )

    bal = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=me)).balance
    assert bal.credits == 10  # the failed-after-authorisation payment never credited anything
    statement = await h.stub.GetStatement(bpb.GetStatementRequest(), metadata=me)
    kinds = {e.kind for e in statement.entries}
    assert kinds == {bpb.LEDGER_ENTRY_KIND_PURCHASE, bpb.LEDGER_ENTRY_KIND_ALLOWANCE_GRANT}

    # Refund: someone else's purchase is invisible; the owner's is reversed once.
    await fails(
        h.stub.Refund(bpb.RefundRequest(purchase_id=ok.purchase.id), metadata=h.user("eve")), grpc.StatusCode.NOT_FOUND
    )
    refunded = await h.stub.Refund(bpb.RefundRequest(purchase_id=ok.purchase.id, reason="test"), metadata=me)
    again = await h.stub.Refund(bpb.RefundRequest(purchase_id=ok.purchase.id, reason="test"), metadata=me)
    assert refunded.purchase.status == again.purchase.status == bpb.PURCHASE_STATUS_REFUNDED
    assert (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=me)).balance.credits == 0
    await fails(
        h.stub.Refund(bpb.RefundRequest(purchase_id=declined.purchase.id), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "not_refundable",
    )
    assert h.billing.reconcile(grace_seconds=0).drift == 0


async def test_refund_refused_once_credits_are_spent(h):
    me = h.user("frank")
    bought = await h.stub.PurchaseCredits(
        bpb.PurchaseCreditsRequest(pack_id="starter", payment_token="tok_test_succeed"), metadata=me
    )
    for i in range(4):  # 3 from the allowance, the 4th spends a credit
        await h.stub.Reserve(reserve_req(f"f{i}", "frank"), metadata=h.service())
    await fails(
        h.stub.Refund(bpb.RefundRequest(purchase_id=bought.purchase.id), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "credits_used",
    )
    assert (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=me)).balance.credits == 9


async def test_bad_input_is_refused_and_changes_nothing(h):
    me = h.user("gina")
    before = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=me)).balance
    bad = [
        (
            bpb.PurchaseCreditsRequest(pack_id="nope", payment_token="tok_test_succeed"),
            grpc.StatusCode.NOT_FOUND,
            "unknown_pack",
        ),
        (
            bpb.PurchaseCreditsRequest(pack_id="starter", payment_token="tok_live_123"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_payment_token",
        ),
        (
            bpb.PurchaseCreditsRequest(
                pack_id="starter",
                payment_token="tok_test_succeed",
                expected_price=cpb.Money(amount_minor=400, currency="EUR"),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "currency_mismatch",
        ),
        (
            bpb.PurchaseCreditsRequest(
                pack_id="starter",
                payment_token="tok_test_succeed",
                expected_price=cpb.Money(amount_minor=-400, currency="USD"),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_amount",
        ),
        (
            bpb.PurchaseCreditsRequest(
                pack_id="starter",
                payment_token="tok_test_succeed",
                expected_price=cpb.Money(amount_minor=2**62, currency="USD"),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "price_changed",
        ),
    ]
    for req, code, err in bad:
        await fails(h.stub.PurchaseCredits(req, metadata=me), code, err)
    svc = h.service()
    for req, code, err in [
        (reserve_req("b1", "gina", seconds=-5), grpc.StatusCode.INVALID_ARGUMENT, "invalid_seconds"),
        (reserve_req("b1", "gina", seconds=2**31 - 1), grpc.StatusCode.INVALID_ARGUMENT, "invalid_seconds"),
        (reserve_req("b1", "gina", seconds=20), grpc.StatusCode.FAILED_PRECONDITION, "plan_required"),
        (reserve_req("b1", "gina", model="pro"), grpc.StatusCode.FAILED_PRECONDITION, "plan_required"),
        (reserve_req("b1", "gina", size="1080x1920"), grpc.StatusCode.FAILED_PRECONDITION, "plan_required"),
        (reserve_req("b1", "gina", size="99x99"), grpc.StatusCode.INVALID_ARGUMENT, "invalid_size"),
        (reserve_req("b1", "gina", model="dall-e"), grpc.StatusCode.INVALID_ARGUMENT, "unknown_model"),
        (reserve_req("", "gina"), grpc.StatusCode.INVALID_ARGUMENT, "invalid_generation_id"),
        (reserve_req("b1", "ghost"), grpc.StatusCode.NOT_FOUND, "unknown_user"),
        (reserve_req("b1", "gina", quote_id="no-such-quote"), grpc.StatusCode.NOT_FOUND, "unknown_quote"),
    ]:
        await fails(h.stub.Reserve(req, metadata=svc), code, err)
    await fails(
        h.stub.GetBalance(bpb.GetBalanceRequest(user_id="someone-else"), metadata=me), grpc.StatusCode.PERMISSION_DENIED
    )
    await fails(h.stub.GetBalance(bpb.GetBalanceRequest()), grpc.StatusCode.UNAUTHENTICATED)
    await fails(
        h.stub.GetStatement(bpb.GetStatementRequest(page=cpb.PageRequest(page_token="garbage!")), metadata=me),
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid_page_token",
    )
    await fails(
        h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="platinum", payment_token="tok_test_succeed"), metadata=me
        ),
        grpc.StatusCode.NOT_FOUND,
        "unknown_plan",
    )
    after = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=me)).balance
    assert after == before
    statement = await h.stub.GetStatement(bpb.GetStatementRequest(), metadata=me)
    assert [e.kind for e in statement.entries] == [bpb.LEDGER_ENTRY_KIND_ALLOWANCE_GRANT]


async def test_pro_subscription_entitlements_and_cancel(h):
    me = h.user("hana")
    plans = {p.id: p for p in (await h.stub.ListPlans(bpb.ListPlansRequest())).plans}
    assert plans["free"].daily_allowance == 3 and "pro" in plans["pro"].models and plans["pro"].max_seconds == 25
    await fails(
        h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token="tok_test_decline"), metadata=me
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "payment_declined",
    )
    sub = (
        await h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token="tok_test_succeed", idempotency_key="s1"),
            metadata=me,
        )
    ).subscription
    assert sub.status == bpb.SUBSCRIPTION_STATUS_ACTIVE
    ent = (await h.stub.GetEntitlements(bpb.GetEntitlementsRequest(), metadata=me)).entitlements
    assert ent.plan.id == "pro" and ent.priority_tier == cpb.TIER_PRO and "1080x1920" in ent.sizes
    r = await h.stub.Reserve(reserve_req("p1", "hana", model="pro", seconds=20, size="1080x1920"), metadata=h.service())
    assert r.reservation.tier == cpb.TIER_PRO and r.reservation.allowance_units == 1
    bal = (await h.stub.GetBalance(bpb.GetBalanceRequest(), metadata=me)).balance
    assert bal.allowance.daily_limit == 5 and bal.allowance.remaining == 4  # upgraded mid-day: topped up to 5

    canceled = (await h.stub.CancelSubscription(bpb.CancelSubscriptionRequest(), metadata=me)).subscription
    assert canceled.status == bpb.SUBSCRIPTION_STATUS_CANCELING and canceled.cancel_at_period_end
    ent = (await h.stub.GetEntitlements(bpb.GetEntitlementsRequest(user_id="hana"), metadata=h.service())).entitlements
    assert ent.plan.id == "pro"  # still Pro until the period ends
    h.clock.advance(days=31)
    assert h.billing.end_lapsed_subscriptions() == 1
    ent = (await h.stub.GetEntitlements(bpb.GetEntitlementsRequest(), metadata=me)).entitlements
    assert ent.plan.id == "free" and not ent.HasField("subscription")
    await fails(
        h.stub.Reserve(reserve_req("p2", "hana", model="pro"), metadata=h.service()),
        grpc.StatusCode.FAILED_PRECONDITION,
        "plan_required",
    )
    assert h.billing.reconcile(grace_seconds=10**9).drift == 0
    # Each change names the status before it; a new subscription has none (it once said
    # TIER_FREE = 1, which reads as ACTIVE).
    with h.billing.sessions() as s:
        payloads = (
            s.execute(
                select(tables.outbox.c.payload)
                .where(tables.outbox.c.event_type == bepb.SubscriptionChanged.DESCRIPTOR.full_name)
                .order_by(tables.outbox.c.id)
            )
            .scalars()
            .all()
        )
    changes = [bepb.SubscriptionChanged.FromString(p) for p in payloads]
    assert [(c.previous_status, c.subscription.status) for c in changes] == [
        (bpb.SUBSCRIPTION_STATUS_UNSPECIFIED, bpb.SUBSCRIPTION_STATUS_ACTIVE),
        (bpb.SUBSCRIPTION_STATUS_ACTIVE, bpb.SUBSCRIPTION_STATUS_CANCELING),
        (bpb.SUBSCRIPTION_STATUS_CANCELING, bpb.SUBSCRIPTION_STATUS_ENDED),
    ]


async def test_demand_pricing_and_honoured_quotes(h):
    me = h.user("ivan")
    await h.stub.PurchaseCredits(
        bpb.PurchaseCreditsRequest(pack_id="starter", payment_token="tok_test_succeed"), metadata=me
    )
    quiet = (await h.stub.Quote(bpb.QuoteRequest(model="standard", seconds=10, size="720x1280"), metadata=me)).quote
    assert quiet.rule == bpb.PRICE_RULE_ALLOWANCE and quiet.price_credits == 0
    await h.stub.Reserve(reserve_req("q0", "ivan"), metadata=h.service())  # uses the reduced allowance (1)

    demand = gen_events.DemandChanged(
        tiers=[gen_events.TierDemand(tier=cpb.TIER_FREE, queue_depth=40, p50_wait_seconds=360)]
    )
    demand.measured_at.FromDatetime(h.clock.now)
    with transaction(h.billing.sessions) as s:
        h.billing.record_demand(s, demand)

    busy = (await h.stub.Quote(bpb.QuoteRequest(model="standard", seconds=10, size="720x1280"), metadata=me)).quote
    assert busy.rule == bpb.PRICE_RULE_DEMAND_CREDITS and busy.price_credits == 1 and busy.tier == cpb.TIER_PAID
    assert "wait ~6 min" in busy.description
    wait = (
        await h.stub.Quote(
            bpb.QuoteRequest(model="standard", seconds=10, size="720x1280", prefer_wait=True), metadata=me
        )
    ).quote
    assert wait.rule == bpb.PRICE_RULE_DEMAND_WAIT and wait.price_credits == 0 and wait.tier == cpb.TIER_FREE
    # The quote is honoured even after demand falls again.
    with transaction(h.billing.sessions) as s:
        demand.tiers[0].queue_depth, demand.tiers[0].p50_wait_seconds = 0, 0
        demand.measured_at.FromDatetime(h.clock.now)
        h.billing.record_demand(s, demand)
    r = (await h.stub.Reserve(reserve_req("q1", "ivan", quote_id=busy.quote_id), metadata=h.service())).reservation
    assert r.rule == bpb.PRICE_RULE_DEMAND_CREDITS and r.credits == 1 and r.tier == cpb.TIER_PAID
    await fails(
        h.stub.Reserve(reserve_req("q2", "ivan", seconds=5, quote_id=busy.quote_id), metadata=h.service()),
        grpc.StatusCode.INVALID_ARGUMENT,
        "quote_mismatch",
    )
    # An expired quote is not honoured: priced now (demand is low again, allowance left).
    h.clock.advance(seconds=301)
    r = (await h.stub.Reserve(reserve_req("q3", "ivan", quote_id=wait.quote_id), metadata=h.service())).reservation
    assert r.rule == bpb.PRICE_RULE_ALLOWANCE


async def test_sora_model_names_are_the_shared_tables(h):
    """A quote asked for under the OpenAI SDK's name is priced and stored as
    the model it names (kinora/videospec.py), so the generator's Reserve,
    which sends the resolved name, is held on that quote."""
    me = h.user("sora-fan")
    q = (await h.stub.Quote(bpb.QuoteRequest(model="sora-2", seconds=10, size="720x1280"), metadata=me)).quote
    assert q.model == "standard" and q.rule == bpb.PRICE_RULE_ALLOWANCE
    r = (await h.stub.Reserve(reserve_req("sora-0", "sora-fan", quote_id=q.quote_id), metadata=h.service())).reservation
    assert r.rule == bpb.PRICE_RULE_ALLOWANCE and r.allowance_units == 1  # the quote matched
    await h.stub.Reserve(reserve_req("sora-1", "sora-fan", model="sora-2"), metadata=h.service())
    with h.billing.sessions() as s:
        assert [h.billing._reservation(s, g).model for g in ("sora-0", "sora-1")] == ["standard", "standard"]
    await fails(
        h.stub.Quote(bpb.QuoteRequest(model="sora-2-pro", seconds=10, size="720x1280"), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "plan_required",
    )  # the pro model, on the Free plan
    await fails(
        h.stub.Quote(bpb.QuoteRequest(model="sora-3", seconds=10, size="720x1280"), metadata=me),
        grpc.StatusCode.INVALID_ARGUMENT,
        "unknown_model",
    )


async def test_statement_pages_newest_first(h):
    me = h.user("jane")
    for i in range(3):
        await h.stub.Reserve(reserve_req(f"s{i}", "jane"), metadata=h.service()) if i else await h.stub.GetBalance(
            bpb.GetBalanceRequest(), metadata=me
        )
    for i in range(1, 3):
        await h.stub.Capture(bpb.CaptureRequest(generation_id=f"s{i}"), metadata=h.service())
    seen, token = [], ""
    while True:
        page = await h.stub.GetStatement(
            bpb.GetStatementRequest(page=cpb.PageRequest(page_size=2, page_token=token)), metadata=me
        )
        seen += page.entries
        token = page.next_page_token
        if not token:
            break
    ids = [int(e.id) for e in seen]
    assert ids == sorted(ids, reverse=True) and len(ids) == 1 + 2 * 2 + 2  # grant, 2 holds x2 legs, 2 captures
    assert seen[0].kind == bpb.LEDGER_ENTRY_KIND_CAPTURE and seen[0].amount == -1 and seen[0].unit == "allowance"
