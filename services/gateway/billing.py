"""Credits, plans and the statement (`/api/v1/billing…`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kinora.billing.v1 import billing_pb2 as bpb
from services.gateway.generations import Seconds
from services.gateway.shared import API_PREFIX, Caller, PageSize, as_json, gw, idempotency_key, page

router = APIRouter(prefix=API_PREFIX)


class QuoteBody(BaseModel):
    model: str = "standard"
    seconds: Seconds = 10
    size: str = "720x1280"
    prefer_wait: bool = False


class PurchaseBody(BaseModel):
    pack_id: str
    payment_token: str
    idempotency_key: str = ""


class SubscribeBody(BaseModel):
    plan_id: str
    payment_token: str
    idempotency_key: str = ""


@router.get("/billing/balance", tags=["billing"])
async def balance(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.GetBalance(bpb.GetBalanceRequest(), timeout=g.timeout))


@router.post("/billing/quote", tags=["billing"])
async def quote(body: QuoteBody, request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.Quote(bpb.QuoteRequest(**body.model_dump()), timeout=g.timeout))


@router.get("/billing/packs", tags=["billing"])
async def packs(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.ListCreditPacks(bpb.ListCreditPacksRequest(), timeout=g.timeout))


@router.post("/billing/purchases", status_code=201, tags=["billing"])
async def buy_credits(body: PurchaseBody, request: Request, caller=Caller):
    g = gw(request)
    key = idempotency_key(request, body.idempotency_key)
    return as_json(
        await g.billing.PurchaseCredits(
            bpb.PurchaseCreditsRequest(pack_id=body.pack_id, payment_token=body.payment_token, idempotency_key=key),
            timeout=g.timeout,
        )
    )


@router.get("/billing/plans", tags=["billing"])
async def plans(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.ListPlans(bpb.ListPlansRequest(), timeout=g.timeout))


@router.post("/billing/subscription", status_code=201, tags=["billing"])
async def subscribe(body: SubscribeBody, request: Request, caller=Caller):
    g = gw(request)
    key = idempotency_key(request, body.idempotency_key)
    return as_json(
        await g.billing.StartSubscription(
            bpb.StartSubscriptionRequest(plan_id=body.plan_id, payment_token=body.payment_token, idempotency_key=key),
            timeout=g.timeout,
        )
    )


@router.delete("/billing/subscription", tags=["billing"])
async def cancel_subscription(request: Request, caller=Caller):
    g = gw(request)
    return as_json(await g.billing.CancelSubscription(bpb.CancelSubscriptionRequest(), timeout=g.timeout))


@router.get("/billing/statement", tags=["billing"])
async def statement(request: Request, caller=Caller, page_size: PageSize = 0, page_token: str = ""):
    g = gw(request)
    return as_json(
        await g.billing.GetStatement(bpb.GetStatementRequest(page=page(page_size, page_token)), timeout=g.timeout)
    )
