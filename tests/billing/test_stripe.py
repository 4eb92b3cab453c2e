"""Payments for real (issue 20, part 1): billing's Stripe provider against a local HTTP server
that speaks Stripe's documented request and response shapes (tests/billing/stripe_fake.py),
driven through the billing service over real gRPC with real PostgreSQL.

Packs are PaymentIntents confirmed with the client's PaymentMethod id, Pro is a Subscription on
the configured Price, refunds are Refunds, and webhooks are verified with
`stripe.Webhook.construct_event`. The attacker's tests: a declined card gives no credits; a
forged, tampered, stale or replayed webhook, one about someone else's payment or with the wrong
amount, credits nothing."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from billing_support import Clock, make_settings
from sqlalchemy import select
from stripe_fake import DECLINED, INSUFFICIENT, PROCESSING, VISA, FakeStripe

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import billing_pb2_grpc
from kinora.common.v1 import common_pb2 as cpb
from kinora.runtime.auth import mint_service_token
from kinora.runtime.errors import error_code_of
from kinora.stack.tansu import free_port
from kinora.testing import LocalIssuer, bearer
from services.billing.models import ledger_transactions, purchases, subscriptions
from services.billing.payments import StripeProvider
from services.billing.server import build_service

SECRET = "billing-stripe-test-internal-secret-0123"
PRO_PRICE = {
    "id": "price_kinora_pro",
    "object": "price",
    "active": True,
    "currency": "usd",
    "unit_amount": 2000,
    "type": "recurring",
    "recurring": {"interval": "month", "interval_count": 1},
}


class Harness:
    def __init__(self, svc, stub, issuer, stripe):
        self.svc, self.stub, self.issuer, self.stripe = svc, stub, issuer, stripe
        self.billing = svc.billing
        self.gateway = bearer(mint_service_token("gateway", SECRET)[0])

    def user(self, uid):
        return bearer(self.issuer.token(uid, uid))

    async def buy(self, uid, pm=VISA, key=""):
        return await self.stub.PurchaseCredits(
            bpb.PurchaseCreditsRequest(pack_id="starter", payment_token=pm, idempotency_key=key),
            metadata=self.user(uid),
        )

    async def credits(self, uid) -> int:
        return (await self.stub.GetBalance(bpb.GetBalanceRequest(), metadata=self.user(uid))).balance.credits

    async def webhook(self, payload: bytes, signature: str, provider="stripe"):
        return await self.stub.HandlePaymentWebhook(
            bpb.HandlePaymentWebhookRequest(provider=provider, payload=payload, signature=signature),
            metadata=self.gateway,
        )

    async def deliver(self, type_: str, obj: dict, event_id: str | None = None):
        payload = self.stripe.event(type_, obj, event_id)
        return await self.webhook(payload, self.stripe.sign(payload))

    def rows(self, query):
        with self.billing.sessions() as s:
            return s.execute(query).all()


@pytest.fixture
async def h(pg_url):
    issuer = LocalIssuer()
    with FakeStripe(prices={PRO_PRICE["id"]: PRO_PRICE}) as stripe:
        settings = make_settings(
            pg_url,
            grpc_host="127.0.0.1",
            grpc_port=free_port(),
            internal_secret=SECRET,
            dev_payments=False,
            test_provider_secret=None,
            stripe_secret_key=stripe.secret_key,
            stripe_webhook_secret=stripe.webhook_secret,
            stripe_pro_price=PRO_PRICE["id"],
            stripe_api_base=stripe.url,
        )
        svc = build_service(settings, jwks_fetcher=issuer.fetch_jwks, clock=Clock())
        assert isinstance(svc.provider, StripeProvider)  # chosen by the key alone
        await svc.ctx.app.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{svc.ctx.app.port}") as ch:
            yield Harness(svc, billing_pb2_grpc.BillingServiceStub(ch), issuer, stripe)
        await svc.ctx.app.stop()


async def fails(call, code, error_code=None):
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    if error_code:
        assert error_code_of(info.value) == error_code, info.value.details()
    return info.value


async def test_a_pack_is_paid_with_a_confirmed_payment_intent(h):
    bought = await h.buy("ann", key="buy-1")
    p = bought.purchase
    assert p.status == bpb.PURCHASE_STATUS_SUCCEEDED and bought.balance.credits == 10
    [call] = h.stripe.calls("/v1/payment_intents")
    assert call.headers["authorization"] == f"Bearer {h.stripe.secret_key}"
    assert call.headers["idempotency-key"] == f"kinora-pi-{p.id}"  # from billing's purchase reference
    assert call.params["amount"] == "400" and call.params["currency"] == "usd"
    assert call.params["payment_method"] == VISA and call.params["confirm"] == "true"
    assert call.params["error_on_requires_action"] == "true"
    assert call.params["metadata[kinora_purchase_id]"] == p.id and call.params["metadata[kinora_user_id]"] == "ann"
    assert p.provider_payment_id in h.stripe.intents and p.provider_payment_id.startswith("pi_")

    # Stripe's own payment_intent.succeeded confirms what already happened: no second credit.
    intent = h.stripe.intents[p.provider_payment_id]
    first = await h.deliver("payment_intent.succeeded", intent, "evt_ann_paid")
    replay = await h.deliver("payment_intent.succeeded", intent, "evt_ann_paid")
    assert not first.duplicate and replay.duplicate
    # A retried request with the same idempotency key is answered from billing, not charged again.
    retry = await h.buy("ann", key="buy-1")
    assert retry.purchase.id == p.id and len(h.stripe.calls("/v1/payment_intents")) == 1
    assert await h.credits("ann") == 10
    assert h.billing.reconcile(grace_seconds=0).drift == 0


@pytest.mark.parametrize("card", [DECLINED, INSUFFICIENT])
async def test_a_declined_card_gives_no_credits(h, card):
    declined = await h.buy("bob", pm=card)
    assert declined.purchase.status == bpb.PURCHASE_STATUS_DECLINED and declined.balance.credits == 0
    assert "declined" in declined.purchase.failure_message
    intent = h.stripe.intents[declined.purchase.provider_payment_id]  # Stripe's 402 names the intent
    assert intent["status"] == "requires_payment_method"
    # Stripe then reports the failure; and a "succeeded" for the declined intent (which Stripe would
    # never sign) is still only about a declined purchase: nothing is credited either way.
    await h.deliver("payment_intent.payment_failed", intent)
    await h.deliver("payment_intent.succeeded", {**intent, "status": "succeeded"})
    assert await h.credits("bob") == 0
    assert not h.rows(select(ledger_transactions).where(ledger_transactions.c.kind == "purchase"))


async def test_bad_tokens_never_reach_stripe(h):
    for token in ("tok_test_succeed", "", "pm_", "pm_card visa", "sk_live_x"):
        await fails(h.buy("cat", pm=token), grpc.StatusCode.INVALID_ARGUMENT, "invalid_payment_token")
    assert not h.stripe.requests


async def test_forged_stale_and_replayed_webhooks_credit_nothing_and_a_genuine_one_credits_once(h):
    pending = (await h.buy("dan", pm=PROCESSING)).purchase
    assert pending.status == bpb.PURCHASE_STATUS_PENDING and await h.credits("dan") == 0
    intent = {**h.stripe.intents[pending.provider_payment_id], "status": "succeeded", "amount_received": 400}
    payload = h.stripe.event("payment_intent.succeeded", intent, "evt_dan_paid")

    refused = [
        (h.stripe.sign(payload, secret="whsec_not_the_endpoints_secret"), "forged: another secret"),
        (h.stripe.sign(payload, timestamp=int(time.time()) - 3600), "stale: an hour old"),
        (h.stripe.sign(payload, timestamp=int(time.time()) + 3600), "from the future"),
        ("", "no signature"),
        ("t=123,v1=" + "0" * 64, "made up"),
    ]
    for signature, _why in refused:
        await fails(h.webhook(payload, signature), grpc.StatusCode.PERMISSION_DENIED, "bad_webhook_signature")
    tampered = payload.replace(b'"amount": 400', b'"amount": 4')
    assert tampered != payload
    await fails(h.webhook(tampered, h.stripe.sign(payload)), grpc.StatusCode.PERMISSION_DENIED, "bad_webhook_signature")
    # Only the gateway relays webhooks.
    await fails(
        h.stub.HandlePaymentWebhook(
            bpb.HandlePaymentWebhookRequest(provider="stripe", payload=payload, signature=h.stripe.sign(payload)),
            metadata=h.user("dan"),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )
    # The test provider is not configured here; its name gets nowhere.
    await fails(
        h.webhook(payload, h.stripe.sign(payload), provider="test"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "unknown_provider",
    )
    assert await h.credits("dan") == 0

    genuine = await h.webhook(payload, h.stripe.sign(payload))
    assert genuine.provider_event_id == "evt_dan_paid" and not genuine.duplicate
    assert await h.credits("dan") == 10
    for _ in range(2):  # Stripe redelivers; an attacker replays a captured body within the tolerance
        again = await h.webhook(payload, h.stripe.sign(payload))
        assert again.duplicate
    assert await h.credits("dan") == 10
    [row] = h.rows(select(purchases).where(purchases.c.id == pending.id))
    assert row.status == "succeeded"


async def test_a_webhook_for_someone_elses_payment_or_the_wrong_amount_credits_nothing(h):
    mine = (await h.buy("eve", pm=PROCESSING)).purchase
    theirs = (await h.buy("fay", pm=PROCESSING)).purchase
    intent = {**h.stripe.intents[mine.provider_payment_id], "status": "succeeded"}

    # A payment intent billing never made (e.g. another product on the same Stripe account).
    stranger = {**intent, "id": "pi_not_billings_0000000000", "metadata": {}}
    await fails(h.deliver("payment_intent.succeeded", stranger), grpc.StatusCode.INVALID_ARGUMENT, "unknown_payment")
    # One whose metadata names fay's purchase, which is already tied to its own intent.
    claims_theirs = {**stranger, "metadata": {"kinora_purchase_id": theirs.id, "kinora_user_id": "eve"}}
    await fails(
        h.deliver("payment_intent.succeeded", claims_theirs), grpc.StatusCode.INVALID_ARGUMENT, "unknown_payment"
    )
    # Eve's own intent, but for less than the pack costs, or in another currency.
    await fails(
        h.deliver("payment_intent.succeeded", {**intent, "amount": 1}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "amount_mismatch",
    )
    await fails(
        h.deliver("payment_intent.succeeded", {**intent, "currency": "eur"}),
        grpc.StatusCode.INVALID_ARGUMENT,
        "currency_mismatch",
    )
    assert await h.credits("eve") == 0 and await h.credits("fay") == 0
    # A refused event is not remembered as handled: Stripe's redelivery of the real one still works.
    await h.deliver("payment_intent.succeeded", intent)
    assert await h.credits("eve") == 10 and await h.credits("fay") == 0


async def test_an_unreachable_stripe_leaves_the_purchase_pending_until_stripe_says(h):
    h.stripe.mode = "drop"
    err = await fails(h.buy("gus", key="gus-1"), grpc.StatusCode.UNAVAILABLE, "payment_provider_unreachable")
    assert "never charges twice" in err.details()
    [row] = h.rows(select(purchases).where(purchases.c.user_id == "gus"))
    assert row.status == "pending" and row.provider_payment_id is None and await h.credits("gus") == 0
    assert {r.headers["idempotency-key"] for r in h.stripe.calls("/v1/payment_intents")} == {f"kinora-pi-{row.id}"}

    # Stripe did take the money (its answer was lost): its signed event finds the purchase by
    # the metadata billing wrote, and credits it once.
    h.stripe.mode = ""
    intent = {
        "id": "pi_lost_answer_000000000000",
        "object": "payment_intent",
        "amount": 400,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"kinora_purchase_id": row.id, "kinora_user_id": "gus"},
    }
    # ...but not when the metadata names another user.
    await fails(
        h.deliver(
            "payment_intent.succeeded", {**intent, "metadata": {"kinora_purchase_id": row.id, "kinora_user_id": "eve"}}
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "unknown_payment",
    )
    await h.deliver("payment_intent.succeeded", intent, "evt_gus")
    await h.deliver("payment_intent.succeeded", intent, "evt_gus")
    assert await h.credits("gus") == 10
    [row] = h.rows(select(purchases).where(purchases.c.user_id == "gus"))
    assert row.status == "succeeded" and row.provider_payment_id == intent["id"]
    assert h.billing.reconcile(grace_seconds=0).drift == 0


async def test_a_lost_answer_is_retried_under_the_same_idempotency_key_and_charged_once(h):
    h.stripe.mode = "drop_after_create"  # Stripe charges, the answer never arrives; the library retries
    bought = await h.buy("hal")
    assert bought.purchase.status == bpb.PURCHASE_STATUS_SUCCEEDED and bought.balance.credits == 10
    calls = h.stripe.calls("/v1/payment_intents")
    assert len(calls) == 2 and len({c.headers["idempotency-key"] for c in calls}) == 1
    assert len(h.stripe.intents) == 1  # one charge


async def test_a_purchase_retried_after_stripe_was_unreachable_settles_without_a_second_charge(h):
    h.stripe.mode = "drop"
    await fails(h.buy("ida", key="ida-1"), grpc.StatusCode.UNAVAILABLE, "payment_provider_unreachable")
    h.stripe.mode = ""
    retried = await h.buy("ida", key="ida-1")
    assert retried.purchase.status == bpb.PURCHASE_STATUS_SUCCEEDED and retried.balance.credits == 10
    assert len(h.stripe.intents) == 1
    assert len(h.rows(select(purchases).where(purchases.c.user_id == "ida"))) == 1


async def test_stripe_refusing_the_key_says_payments_are_down_and_writes_a_failed_purchase(h):
    h.stripe.secret_key = "sk_test_rotated_away_000000"  # billing still holds the old key
    err = await fails(h.buy("jon"), grpc.StatusCode.FAILED_PRECONDITION, "payments_unavailable")
    assert "nothing was charged" in err.details()
    [row] = h.rows(select(purchases).where(purchases.c.user_id == "jon"))
    assert row.status == "failed" and await h.credits("jon") == 0


async def test_refunds_go_through_stripe_refunds(h):
    bought = (await h.buy("kim")).purchase
    refunded = await h.stub.Refund(
        bpb.RefundRequest(purchase_id=bought.id, reason="changed my mind"), metadata=h.user("kim")
    )
    assert refunded.purchase.status == bpb.PURCHASE_STATUS_REFUNDED and await h.credits("kim") == 0
    [call] = h.stripe.calls("/v1/refunds")
    assert call.params == {"payment_intent": bought.provider_payment_id, "amount": "400"}
    assert call.headers["idempotency-key"] == f"kinora-re-{bought.provider_payment_id}"
    charge = {
        "id": "ch_kim",
        "object": "charge",
        "amount": 400,
        "amount_refunded": 400,
        "currency": "usd",
        "refunded": True,
        "payment_intent": bought.provider_payment_id,
    }
    assert not (await h.deliver("charge.refunded", charge)).duplicate  # acknowledged, changes nothing
    assert await h.credits("kim") == 0 and h.billing.reconcile(grace_seconds=0).drift == 0


async def test_pro_is_a_subscription_on_the_configured_price(h):
    me = h.user("lea")
    await fails(
        h.stub.StartSubscription(bpb.StartSubscriptionRequest(plan_id="pro", payment_token=DECLINED), metadata=me),
        grpc.StatusCode.FAILED_PRECONDITION,
        "payment_declined",
    )
    assert not h.rows(select(subscriptions).where(subscriptions.c.user_id == "lea"))
    sub = (
        await h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token=VISA, idempotency_key="pro-1"), metadata=me
        )
    ).subscription
    assert sub.status == bpb.SUBSCRIPTION_STATUS_ACTIVE and sub.plan_id == "pro"
    created = h.stripe.calls("/v1/subscriptions")[-1]
    assert created.params["items[0][price]"] == PRO_PRICE["id"]
    assert created.params["payment_behavior"] == "error_if_incomplete"
    assert created.params["cancel_at_period_end"] == "true"  # billing's Pro does not renew by itself yet
    assert created.params["metadata[kinora_reference]"] == sub.id
    assert created.params["metadata[kinora_user_id]"] == "lea"
    assert created.headers["idempotency-key"] == f"kinora-sub-{sub.id}"
    assert h.stripe.calls("/v1/customers")[-1].headers["idempotency-key"] == f"kinora-cus-{sub.id}"
    ent = (await h.stub.GetEntitlements(bpb.GetEntitlementsRequest(), metadata=me)).entitlements
    assert ent.priority_tier == cpb.TIER_PRO
    again = (
        await h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token=VISA, idempotency_key="pro-1"), metadata=me
        )
    ).subscription
    assert again.id == sub.id and len(h.stripe.subscriptions) == 1

    # Stripe's customer.subscription.* events: an update confirms; a deletion ends Pro.
    [stripe_sub] = h.stripe.subscriptions.values()
    await h.deliver("customer.subscription.updated", stripe_sub)
    await h.deliver("customer.subscription.deleted", {**stripe_sub, "status": "canceled"})
    ent = (await h.stub.GetEntitlements(bpb.GetEntitlementsRequest(), metadata=me)).entitlements
    assert ent.priority_tier == cpb.TIER_FREE
    assert h.billing.reconcile(grace_seconds=0).drift == 0


async def test_a_price_that_disagrees_with_billing_sells_nothing(h):
    h.stripe.prices[PRO_PRICE["id"]] = {**PRO_PRICE, "unit_amount": 500}
    await fails(
        h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token=VISA), metadata=h.user("max")
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "payments_misconfigured",
    )
    assert not h.stripe.calls("/v1/subscriptions") and not h.stripe.calls("/v1/customers")


async def test_a_subscription_stripe_made_while_billing_lost_the_answer_is_recorded_from_its_webhook(h):
    h.stripe.mode, h.stripe.drop_path = "drop", "/v1/subscriptions"
    await fails(
        h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token=VISA, idempotency_key="ned-1"),
            metadata=h.user("ned"),
        ),
        grpc.StatusCode.UNAVAILABLE,
        "payment_provider_unreachable",
    )
    reference = h.stripe.calls("/v1/customers")[0].params["metadata[kinora_reference]"]
    h.stripe.mode = ""
    stripe_sub = {
        "id": "sub_lost_answer_0000000000",
        "object": "subscription",
        "status": "active",
        "metadata": {"kinora_reference": reference, "kinora_user_id": "ned", "kinora_plan": "pro"},
        "items": {"object": "list", "data": [{"price": PRO_PRICE, "quantity": 1}]},
    }
    wrong = {
        **stripe_sub,
        "items": {"object": "list", "data": [{"price": {**PRO_PRICE, "unit_amount": 1}, "quantity": 1}]},
    }
    await fails(h.deliver("customer.subscription.created", wrong), grpc.StatusCode.INVALID_ARGUMENT, "amount_mismatch")
    await h.deliver("customer.subscription.created", stripe_sub, "evt_ned")
    await h.deliver("customer.subscription.created", stripe_sub, "evt_ned")
    ent = (await h.stub.GetEntitlements(bpb.GetEntitlementsRequest(), metadata=h.user("ned"))).entitlements
    assert ent.priority_tier == cpb.TIER_PRO
    # The client's retry with the same key finds it instead of subscribing twice.
    again = (
        await h.stub.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id="pro", payment_token=VISA, idempotency_key="ned-1"),
            metadata=h.user("ned"),
        )
    ).subscription
    assert again.id == reference and again.status == bpb.SUBSCRIPTION_STATUS_ACTIVE
    assert all(c.headers["idempotency-key"] == f"kinora-sub-{reference}" for c in h.stripe.calls("/v1/subscriptions"))
    assert len(h.rows(select(subscriptions).where(subscriptions.c.user_id == "ned"))) == 1
    assert h.billing.reconcile(grace_seconds=0).drift == 0


async def test_events_billing_does_not_sell_on_are_acknowledged(h):
    reply = await h.deliver("customer.created", {"id": "cus_x", "object": "customer"}, "evt_customer")
    assert reply.provider_event_id == "evt_customer" and not reply.duplicate
    payload = b"not json"
    await fails(h.webhook(payload, h.stripe.sign(payload)), grpc.StatusCode.INVALID_ARGUMENT, "bad_webhook_body")
    body = json.dumps(
        {"id": "evt_odd", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_x"}}}
    ).encode()
    await fails(h.webhook(body, h.stripe.sign(body)), grpc.StatusCode.INVALID_ARGUMENT, "bad_webhook_body")


async def test_stripe_posts_its_webhooks_to_the_gateway_which_relays_them_to_billing(h):
    """The endpoint registered in Stripe's dashboard: the gateway passes the raw body and
    Stripe-Signature to billing under its own service token; billing judges them."""
    import httpx

    from kinora.runtime.settings import load_settings
    from services.gateway.server import GatewayServer
    from services.gateway.settings import GatewaySettings

    pending = (await h.buy("ora", pm=PROCESSING)).purchase
    settings = load_settings(
        GatewaySettings,
        {
            "KINORA_HTTP_HOST": "127.0.0.1",
            "KINORA_HTTP_PORT": "0",
            "KINORA_INTERNAL_SECRET": SECRET,
            "KINORA_BILLING_ADDR": f"127.0.0.1:{h.svc.ctx.app.port}",
        },
    )
    gateway = GatewayServer(settings)
    port = await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            intent = {**h.stripe.intents[pending.provider_payment_id], "status": "succeeded"}
            payload = h.stripe.event("payment_intent.succeeded", intent, "evt_ora")

            async def post(signature, provider="stripe"):
                return await client.post(
                    f"/api/v1/billing/webhooks/{provider}",
                    content=payload,
                    headers={"Stripe-Signature": signature, "content-type": "application/json"},
                )

            forged = await post(h.stripe.sign(payload, secret="whsec_someone_else"))
            assert forged.status_code == 403 and forged.json()["error"]["code"] == "bad_webhook_signature"
            assert (await post(h.stripe.sign(payload), provider="paypal")).status_code == 404
            assert await h.credits("ora") == 0
            first, replay = await post(h.stripe.sign(payload)), await post(h.stripe.sign(payload))
            assert first.status_code == 200 and first.json() == {
                "received": True,
                "event_id": "evt_ora",
                "duplicate": False,
            }
            assert replay.status_code == 200 and replay.json()["duplicate"] is True
            assert await h.credits("ora") == 10
    finally:
        await gateway.stop()
