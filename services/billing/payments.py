"""Payment providers. Billing talks to one through `PaymentProvider`:

- `StripeProvider`, the deployments' one (the official `stripe` library), chosen by
  KINORA_BILLING_STRIPE_SECRET_KEY;
- `LocalTestProvider`, development only, which behaves like a card processor's test mode: fixed
  tokens succeed, decline, or fail after authorisation, and outcomes are also reported through
  signed webhooks (queued here, delivered by billing's webhook worker or relayed by hand in tests);
- `NoPaymentProvider` otherwise: every payment is refused with payments_unavailable."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, cast

from kinora.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, PermissionDenied, Unavailable

if TYPE_CHECKING:
    from stripe import CardError, StripeError
    from stripe.params import PaymentIntentCreateParams

    from services.billing.settings import BillingSettings

log = logging.getLogger("kinora.billing.payments")

SUCCEEDED, DECLINED, PENDING = "succeeded", "declined", "pending"
IGNORED = "ignored"  # a genuine provider event billing has nothing to do with


@dataclass(frozen=True)
class ChargeResult:
    status: str  # succeeded | declined | pending (authorised; the outcome arrives by webhook)
    payment_id: str
    message: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str  # payment.succeeded | payment.failed | refund.succeeded | subscription.ended | ignored
    payment_id: str
    amount_minor: int
    currency: str
    message: str = ""
    # What billing wrote on the payment when it asked for it (provider metadata), so an event
    # that arrives before billing recorded the payment id can still find its purchase.
    reference: str = ""
    user_id: str = ""
    plan_id: str = ""


class PaymentProvider(Protocol):
    name: str

    def check_token(self, token: str) -> None:
        """Raise InvalidArgument for a token this provider can never accept."""

    def charge(self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = "") -> ChargeResult:
        """Take a one-off payment. `reference` is billing's purchase id: the provider's
        idempotency key and metadata come from it."""

    def subscribe(
        self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = ""
    ) -> ChargeResult:
        """Start a paid plan's period (the payment id is the provider's subscription id)."""

    def refund(self, payment_id: str, amount_minor: int, currency: str) -> None: ...

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        """Verify the signature and decode; raise on a forged or malformed body."""


class NoPaymentProvider:
    """A deployment without a payment provider configured: every payment is refused with a
    reason, so no token can buy anything (the test provider is a development setting only)."""

    name = "none"

    def _refuse(self) -> NoReturn:
        raise FailedPrecondition(
            "payments are not set up on this deployment; credits and Pro can't be bought here yet",
            "payments_unavailable",
        )

    def check_token(self, token: str) -> None:
        self._refuse()

    def charge(self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = "") -> ChargeResult:
        self._refuse()

    def subscribe(
        self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = ""
    ) -> ChargeResult:
        self._refuse()

    def refund(self, payment_id: str, amount_minor: int, currency: str) -> None:
        self._refuse()

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        raise PermissionDenied("no payment provider is set up to send webhooks here", "unknown_provider")


def payment_provider(settings: BillingSettings) -> PaymentProvider:
    """The provider a deployment's settings choose: Stripe when its key is set, the test provider
    only under the development setting, otherwise none."""
    if settings.stripe_secret_key:
        assert settings.stripe_webhook_secret, "BillingSettings refuses a Stripe key without its webhook secret"
        return StripeProvider(
            settings.stripe_secret_key,
            settings.stripe_webhook_secret,
            settings.stripe_pro_price,
            settings.stripe_api_base,
        )
    if settings.dev_payments:
        assert settings.test_provider_secret, "BillingSettings refuses dev payments without the test provider's secret"
        return LocalTestProvider(settings.test_provider_secret)
    return NoPaymentProvider()


class LocalTestProvider:
    name = "test"
    SUCCEED = "tok_test_succeed"
    DECLINE = "tok_test_decline"
    FAIL_AFTER_AUTH = "tok_test_fail_after_auth"

    def __init__(self, secret: str):
        self._secret = secret.encode()
        self._lock = threading.Lock()
        self._outbox: list[tuple[bytes, str]] = []
        self._payments: dict[str, tuple[int, str]] = {}
        self._charged: dict[str, ChargeResult] = {}  # by reference: a retried charge is not a second one

    def check_token(self, token: str) -> None:
        if token not in (self.SUCCEED, self.DECLINE, self.FAIL_AFTER_AUTH):
            raise InvalidArgument(
                f"unknown payment token; the test provider accepts {self.SUCCEED}, "
                f"{self.DECLINE} and {self.FAIL_AFTER_AUTH}",
                "invalid_payment_token",
            )

    def charge(self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = "") -> ChargeResult:
        self.check_token(token)
        with self._lock:
            if reference in self._charged:
                return self._charged[reference]
        result = self._charge(token, amount_minor, currency)
        with self._lock:
            self._charged[reference] = result
        return result

    def subscribe(
        self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = ""
    ) -> ChargeResult:
        return self.charge(token, amount_minor, currency, reference, user_id)

    def _charge(self, token: str, amount_minor: int, currency: str) -> ChargeResult:
        payment_id = f"pay_test_{uuid.uuid4().hex[:20]}"
        if token == self.DECLINE:
            return ChargeResult(DECLINED, payment_id, "the card was declined (test token)")
        with self._lock:
            self._payments[payment_id] = (amount_minor, currency)
        if token == self.FAIL_AFTER_AUTH:
            self._queue(
                "payment.failed",
                payment_id,
                amount_minor,
                currency,
                "the payment was authorised but capturing it failed (test token)",
            )
            return ChargeResult(PENDING, payment_id, "authorised; waiting for the provider to confirm")
        self._queue("payment.succeeded", payment_id, amount_minor, currency)
        return ChargeResult(SUCCEEDED, payment_id)

    def refund(self, payment_id: str, amount_minor: int, currency: str) -> None:
        with self._lock:
            known = self._payments.get(payment_id)
        if known is None:
            raise InvalidArgument(f"the test provider has no payment {payment_id}", "unknown_payment")
        self._queue("refund.succeeded", payment_id, amount_minor, currency)

    # -- webhooks -------------------------------------------------------------

    def sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()

    def _queue(self, type_: str, payment_id: str, amount_minor: int, currency: str, message: str = "") -> None:
        body = json.dumps(
            {
                "id": f"evt_test_{uuid.uuid4().hex[:20]}",
                "type": type_,
                "payment_id": payment_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "message": message,
            },
            sort_keys=True,
        ).encode()
        with self._lock:
            self._outbox.append((body, self.sign(body)))

    def take_webhooks(self) -> list[tuple[bytes, str]]:
        """Signed webhook bodies the provider would POST to us, oldest first."""
        with self._lock:
            taken, self._outbox = self._outbox, []
        return taken

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        if not hmac.compare_digest(self.sign(payload), signature or ""):
            raise PermissionDenied("the webhook signature does not match its body", "bad_webhook_signature")
        try:
            body = json.loads(payload)
            return WebhookEvent(
                str(body["id"]),
                str(body["type"]),
                str(body["payment_id"]),
                int(body["amount_minor"]),
                str(body["currency"]),
                str(body.get("message", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("the webhook body is not a test-provider event", "bad_webhook_body") from None


# -- Stripe -----------------------------------------------------------------------------------------


class OutcomeUnknown(Exception):
    """Raised with a domain error when whether money moved is unknown: billing keeps the purchase
    pending; the provider's webhook, or a retry with the same idempotency key (same provider
    idempotency key, so never a second charge), settles it. Any other error from a provider
    means nothing was charged."""


class ProviderUnreachable(OutcomeUnknown, Unavailable):
    """The provider could not be asked, or did not answer."""


class SentBefore(OutcomeUnknown, Conflict):
    """The provider already has this reference's request with other details."""


_PAYMENT_METHOD = re.compile(r"^pm_[A-Za-z0-9_]{1,200}$")
# Stripe subscription statuses: paid and running, or over for good (the others wait).
_SUBSCRIPTION_LIVE = ("active", "trialing")
_SUBSCRIPTION_GONE = ("canceled", "incomplete_expired", "unpaid")


def _idempotency_key(kind: str, reference: str) -> str:
    """Stripe's Idempotency-Key for one of billing's references: a retried request (ours or the
    library's own network retry) replays Stripe's first answer instead of charging again."""
    return f"kinora-{kind}-{reference}"[:255]


class StripeProvider:
    """Stripe through the official library: packs are PaymentIntents confirmed at once with the
    PaymentMethod id the client got from Stripe.js, Pro is a Subscription on a configured Price,
    refunds are Refunds, and webhooks are verified with `stripe.Webhook.construct_event`.

    One `stripe.StripeClient` per provider (its own key and API base): nothing touches the
    library's global configuration."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        pro_price: str | None = None,
        api_base: str | None = None,
        max_network_retries: int = 2,
        timeout_seconds: float = 20.0,
    ):
        import stripe

        self._stripe = stripe
        self._webhook_secret = webhook_secret
        self._pro_price = pro_price
        self._secret_key = secret_key
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
        )

    # -- calls ----------------------------------------------------------------

    def check_token(self, token: str) -> None:
        if not _PAYMENT_METHOD.match(token or ""):
            raise InvalidArgument(
                "the payment token should be a Stripe PaymentMethod id (pm_...) from Stripe.js", "invalid_payment_token"
            )

    def charge(self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = "") -> ChargeResult:
        self.check_token(token)
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],
            "confirm": True,
            # No redirect flow here: a card that needs 3-D Secure is refused with a reason.
            "error_on_requires_action": True,
            "description": "Kinora credits",
            "metadata": {"kinora_purchase_id": reference, "kinora_user_id": user_id},
        }
        try:
            intent = self._client.v1.payment_intents.create(
                cast("PaymentIntentCreateParams", params), {"idempotency_key": _idempotency_key("pi", reference)}
            ).to_dict()
        except self._stripe.CardError as err:
            return ChargeResult(DECLINED, self._failed_intent_id(err), _card_message(err))
        except self._stripe.StripeError as err:
            self._raise(err, "charge the card")
        status = intent["status"]
        if status == "succeeded":
            return ChargeResult(SUCCEEDED, intent["id"])
        if status in ("requires_payment_method", "canceled"):
            error = intent.get("last_payment_error") or {}
            return ChargeResult(DECLINED, intent["id"], error.get("message") or "the payment did not go through")
        return ChargeResult(PENDING, intent["id"], "the payment is processing; credits arrive when Stripe confirms it")

    def subscribe(
        self, token: str, amount_minor: int, currency: str, reference: str, user_id: str = ""
    ) -> ChargeResult:
        """Pro for one period: a Customer with the card as its default, then a Subscription on
        the configured Price that is paid now or not made (`error_if_incomplete`). It is set to
        cancel at the period end, as billing's Pro does not renew by itself yet, so Stripe never
        charges for a period billing did not grant."""
        self.check_token(token)
        if not self._pro_price:
            raise FailedPrecondition(
                "Pro can't be bought here yet: no Stripe Price is configured for it", "payments_unavailable"
            )
        try:
            price = self._client.v1.prices.retrieve(self._pro_price).to_dict()
            charged = (price.get("unit_amount"), str(price.get("currency") or "").upper())
            if charged != (amount_minor, currency.upper()) or price.get("type") != "recurring":
                raise FailedPrecondition(
                    f"Pro can't be bought right now: the Stripe Price {self._pro_price} is {charged[0]} "
                    f"{charged[1]} ({price.get('type')}), billing sells Pro for {amount_minor} {currency}; "
                    "an operator must make them agree",
                    "payments_misconfigured",
                )
            metadata = {"kinora_reference": reference, "kinora_user_id": user_id, "kinora_plan": "pro"}
            customer = self._client.v1.customers.create(
                {"payment_method": token, "invoice_settings": {"default_payment_method": token}, "metadata": metadata},
                {"idempotency_key": _idempotency_key("cus", reference)},
            ).to_dict()
            sub = self._client.v1.subscriptions.create(
                {
                    "customer": customer["id"],
                    "items": [{"price": self._pro_price}],
                    "default_payment_method": token,
                    "payment_behavior": "error_if_incomplete",
                    "cancel_at_period_end": True,
                    "metadata": metadata,
                },
                {"idempotency_key": _idempotency_key("sub", reference)},
            ).to_dict()
        except self._stripe.CardError as err:
            return ChargeResult(DECLINED, "", _card_message(err))
        except self._stripe.StripeError as err:
            self._raise(err, "start the subscription")
        if sub["status"] in _SUBSCRIPTION_LIVE:
            return ChargeResult(SUCCEEDED, sub["id"])
        if sub["status"] in _SUBSCRIPTION_GONE:
            return ChargeResult(DECLINED, sub["id"], "the first payment of the subscription did not go through")
        return ChargeResult(PENDING, sub["id"], "the payment is processing; Pro starts when Stripe confirms it")

    def refund(self, payment_id: str, amount_minor: int, currency: str) -> None:
        if not (payment_id or "").startswith("pi_"):
            raise FailedPrecondition(
                "this payment was not a Stripe PaymentIntent, so it can't be refunded through Stripe", "not_refundable"
            )
        try:
            self._client.v1.refunds.create(
                {"payment_intent": payment_id, "amount": amount_minor},
                {"idempotency_key": _idempotency_key("re", payment_id)},
            )
        except self._stripe.InvalidRequestError as err:
            if err.code == "charge_already_refunded":
                return  # refunded before (e.g. from the dashboard): the money is back with the buyer
            self._raise(err, "refund the payment")
        except self._stripe.StripeError as err:
            self._raise(err, "refund the payment")

    @staticmethod
    def _failed_intent_id(err: StripeError) -> str:
        body = cast(dict[str, Any], err.json_body or {}).get("error") or {}
        intent = body.get("payment_intent") or {}
        return str(intent.get("id") or "") if isinstance(intent, dict) else ""

    def _raise(self, err: StripeError, doing: str) -> NoReturn:
        """Stripe's failures as billing's outcomes. Only an unreachable Stripe leaves the outcome
        unknown; every other refusal means nothing was charged."""
        s = self._stripe
        detail = (err.user_message or getattr(err, "_message", "") or "").strip()
        if (
            isinstance(err, (s.APIConnectionError,))
            or (isinstance(err, s.APIError) and not err.http_status)
            or (err.http_status or 0) >= 500
        ):
            raise ProviderUnreachable(
                f"Stripe could not be reached to {doing}; if it went through it is "
                "settled when Stripe confirms it, and retrying with the same idempotency "
                "key never charges twice",
                "payment_provider_unreachable",
            ) from None
        if isinstance(err, s.RateLimitError):
            raise Unavailable(
                f"Stripe is busy and did not {doing}; nothing was charged, try again shortly", "payment_provider_busy"
            ) from None
        if isinstance(err, (s.AuthenticationError, s.PermissionError)):
            log.error(
                "Stripe refused billing's API key (%s); check KINORA_BILLING_STRIPE_SECRET_KEY", type(err).__name__
            )
            raise FailedPrecondition(
                "payments are not working on this deployment right now; nothing was charged", "payments_unavailable"
            ) from None
        if isinstance(err, s.IdempotencyError):
            raise SentBefore(
                "this purchase was already sent to Stripe with other details (another card?); its "
                "first attempt settles by itself, or start a new purchase with a new idempotency key",
                "idempotency_conflict",
            ) from None
        if isinstance(err, s.InvalidRequestError) and err.param in ("payment_method", "default_payment_method"):
            raise InvalidArgument(
                f"Stripe does not accept this payment method: {detail}", "invalid_payment_token"
            ) from None
        raise FailedPrecondition(
            f"Stripe refused to {doing}; nothing was charged: {detail}", "payment_rejected"
        ) from None

    # -- webhooks -------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        try:
            event = self._stripe.Webhook.construct_event(
                payload, signature or "", self._webhook_secret, api_key=self._secret_key
            )
            _not_from_the_future(signature)
        except self._stripe.SignatureVerificationError:
            # Wrong secret, a changed body, or a timestamp outside Stripe's 5-minute tolerance.
            raise PermissionDenied(
                "the Stripe-Signature does not match this body, or it is too old", "bad_webhook_signature"
            ) from None
        except ValueError:
            raise InvalidArgument("the webhook body is not a Stripe event", "bad_webhook_body") from None
        try:
            return _stripe_event(event.to_dict())
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InvalidArgument(
                "the webhook body is not a Stripe event billing can read", "bad_webhook_body"
            ) from None


def _not_from_the_future(signature: str) -> None:
    """The library refuses signatures older than its tolerance; one stamped further ahead would
    stay replayable for as long, so it is refused too."""
    import stripe

    stamps = [part[2:] for part in signature.split(",") if part.startswith("t=")]
    if not stamps or not stamps[0].isdigit() or int(stamps[0]) > time.time() + stripe.Webhook.DEFAULT_TOLERANCE:
        raise stripe.SignatureVerificationError("timestamp in the future", signature)  # type: ignore[no-untyped-call]


def _card_message(err: CardError) -> str:
    message = (err.user_message or getattr(err, "_message", "") or "").strip()
    return f"the card was declined: {message}" if message else "the card was declined"


def _stripe_event(event: dict[str, Any]) -> WebhookEvent:
    """A verified Stripe event as billing's WebhookEvent (type IGNORED for events it does not
    act on, so Stripe stops resending them)."""
    kind, obj = event["type"], event["data"]["object"]
    meta = obj.get("metadata") or {}
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        error = obj.get("last_payment_error") or {}
        return WebhookEvent(
            event["id"],
            "payment.succeeded" if kind.endswith("succeeded") else "payment.failed",
            obj["id"],
            int(obj["amount"]),
            str(obj["currency"]).upper(),
            str(error.get("message") or ""),
            reference=str(meta.get("kinora_purchase_id") or ""),
            user_id=str(meta.get("kinora_user_id") or ""),
        )
    if kind == "charge.refunded":
        intent = obj.get("payment_intent")
        intent = intent.get("id") if isinstance(intent, dict) else intent
        if not intent:
            return WebhookEvent(event["id"], IGNORED, "", 0, "")
        # The payment's amount (a partial refund still names the whole payment).
        return WebhookEvent(
            event["id"], "refund.succeeded", str(intent), int(obj["amount"]), str(obj["currency"]).upper()
        )
    if kind.startswith("customer.subscription."):
        item = obj["items"]["data"][0]
        price = item["price"]
        amount = int(price.get("unit_amount") or 0) * int(item.get("quantity") or 1)
        status = obj.get("status")
        if kind == "customer.subscription.deleted" or status in _SUBSCRIPTION_GONE:
            type_ = "subscription.ended"
        elif status in _SUBSCRIPTION_LIVE:
            type_ = "payment.succeeded"
        else:  # incomplete, past_due, paused: nothing to grant or take yet
            return WebhookEvent(event["id"], IGNORED, "", 0, "")
        return WebhookEvent(
            event["id"],
            type_,
            obj["id"],
            amount,
            str(price["currency"]).upper(),
            reference=str(meta.get("kinora_reference") or ""),
            user_id=str(meta.get("kinora_user_id") or ""),
            plan_id=str(meta.get("kinora_plan") or ""),
        )
    return WebhookEvent(event["id"], IGNORED, "", 0, "")
