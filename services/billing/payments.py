"""Payment providers. Billing talks to one through `PaymentProvider`; the
embedded one is `LocalTestProvider`, which behaves like a card processor's
test mode: fixed tokens succeed, decline, or fail after authorisation, and
outcomes are also reported through signed webhooks (queued here, delivered by
billing's webhook worker or relayed by hand in tests)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from dataclasses import dataclass
from typing import NoReturn, Protocol

from kinora.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied

SUCCEEDED, DECLINED, PENDING = "succeeded", "declined", "pending"


@dataclass(frozen=True)
class ChargeResult:
    status: str  # succeeded | declined | pending (authorised; the outcome arrives by webhook)
    payment_id: str
    message: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str  # payment.succeeded | payment.failed | refund.succeeded
    payment_id: str
    amount_minor: int
    currency: str
    message: str = ""


class PaymentProvider(Protocol):
    name: str

    def check_token(self, token: str) -> None:
        """Raise InvalidArgument for a token this provider can never accept."""

    def charge(self, token: str, amount_minor: int, currency: str, reference: str) -> ChargeResult: ...

    def refund(self, payment_id: str, amount_minor: int, currency: str) -> None: ...

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        """Verify the signature and decode; raise on a forged or malformed body."""


class NoPaymentProvider:
    """A deployment without a payment provider configured: every payment is refused with a
    reason, so no token can buy anything (the test provider is a development setting only)."""

    name = "none"

    def _refuse(self) -> NoReturn:
        raise FailedPrecondition("payments are not set up on this deployment; credits and Pro can't be bought "
                                 "here yet", "payments_unavailable")

    def check_token(self, token: str) -> None:
        self._refuse()

    def charge(self, token: str, amount_minor: int, currency: str, reference: str) -> ChargeResult:
        self._refuse()

    def refund(self, payment_id: str, amount_minor: int, currency: str) -> None:
        self._refuse()

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        raise PermissionDenied("no payment provider is set up to send webhooks here", "unknown_provider")


def payment_provider(settings) -> PaymentProvider:
    """The provider a deployment's settings choose."""
    if settings.dev_payments:
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

    def check_token(self, token: str) -> None:
        if token not in (self.SUCCEED, self.DECLINE, self.FAIL_AFTER_AUTH):
            raise InvalidArgument(f"unknown payment token; the test provider accepts {self.SUCCEED}, "
                                  f"{self.DECLINE} and {self.FAIL_AFTER_AUTH}", "invalid_payment_token")

    def charge(self, token: str, amount_minor: int, currency: str, reference: str) -> ChargeResult:
        self.check_token(token)
        payment_id = f"pay_test_{uuid.uuid4().hex[:20]}"
        if token == self.DECLINE:
            return ChargeResult(DECLINED, payment_id, "the card was declined (test token)")
        with self._lock:
            self._payments[payment_id] = (amount_minor, currency)
        if token == self.FAIL_AFTER_AUTH:
            self._queue("payment.failed", payment_id, amount_minor, currency,
                        "the payment was authorised but capturing it failed (test token)")
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
        body = json.dumps({"id": f"evt_test_{uuid.uuid4().hex[:20]}", "type": type_, "payment_id": payment_id,
                           "amount_minor": amount_minor, "currency": currency, "message": message},
                          sort_keys=True).encode()
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
            return WebhookEvent(str(body["id"]), str(body["type"]), str(body["payment_id"]),
                                int(body["amount_minor"]), str(body["currency"]), str(body.get("message", "")))
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("the webhook body is not a test-provider event", "bad_webhook_body") from None
