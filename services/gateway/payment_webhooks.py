"""Payment providers' webhooks, relayed to billing (issue 20): `POST /api/v1/billing/webhooks/stripe`
is the endpoint to register in Stripe's dashboard.

The gateway does not judge the body. It passes the raw bytes and the provider's signature header
to billing's `HandlePaymentWebhook` under its own service token; billing verifies the signature
with the endpoint's secret and applies each event once. Anything but a 2xx makes Stripe
redeliver (for up to three days), which is what a refused or not-yet-known payment wants.
Calls are counted against the anonymous per-address limit like any unauthenticated call."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from kinora.billing.v1 import billing_pb2 as bpb
from kinora.billing.v1 import billing_pb2_grpc
from kinora.runtime import auth
from kinora.runtime.clients import TokenSource, channel
from services.gateway.core import anonymous, gateway_of
from services.gateway.errors import ApiError

router = APIRouter(prefix="/api/v1", tags=["billing"])
SIGNATURE_HEADER = {"stripe": "stripe-signature", "test": "x-kinora-signature"}


class BillingAsGateway:
    """Billing's stub under the gateway's own service token (HandlePaymentWebhook admits only
    the gateway), opened at first use."""

    def __init__(self):
        self._channel = None
        self.stub = None

    def get(self, request: Request):
        if self.stub is None:
            settings = gateway_of(request).settings
            if not settings.internal_secret:
                raise ApiError(
                    503, "payments_unavailable", "payment webhooks need KINORA_INTERNAL_SECRET on the gateway"
                )
            secret = settings.internal_secret

            async def mint():
                return auth.mint_service_token("gateway", secret)

            self._channel = channel(settings.billing_addr, TokenSource(mint))
            self.stub = billing_pb2_grpc.BillingServiceStub(self._channel)
        return self.stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()


@router.post("/billing/webhooks/{provider}", include_in_schema=False)
async def payment_webhook(provider: str, request: Request, address=Depends(anonymous)):
    header = SIGNATURE_HEADER.get(provider)
    if header is None:
        raise ApiError(404, "unknown_provider", f"there is no payment provider {provider!r}")
    stub = request.app.state.billing_as_gateway.get(request)
    reply = await stub.HandlePaymentWebhook(
        bpb.HandlePaymentWebhookRequest(
            provider=provider, payload=await request.body(), signature=request.headers.get(header, "")
        ),
        timeout=gateway_of(request).timeout,
    )
    return {"received": True, "event_id": reply.provider_event_id, "duplicate": reply.duplicate}
