"""A local stand-in for Stripe's API, for billing's Stripe tests: a real HTTP server (stdlib,
one thread per request) answering the documented request and response shapes of the
endpoints billing calls — form-encoded bodies, `Authorization: Bearer <secret key>`,
`Idempotency-Key` replays, JSON objects carrying "object": "payment_intent" etc., and errors
shaped like Stripe's (`{"error": {"type": "card_error", "code": "card_declined", ...}}`, HTTP
402). It records every request so tests can assert amounts, currency, keys and metadata, and
signs webhook events the way Stripe does."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

# Stripe's test PaymentMethods (docs.stripe.com/testing), plus one this fake leaves processing.
VISA, DECLINED, INSUFFICIENT, PROCESSING = (
    "pm_card_visa",
    "pm_card_chargeDeclined",
    "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_processing",
)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]  # flat, Stripe's bracket form: metadata[kinora_user_id], items[0][price]


@dataclass
class FakeStripe:
    secret_key: str = "sk_test_kinora_fake_0123456789"
    webhook_secret: str = "whsec_kinora_fake_0123456789"
    prices: dict[str, dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    intents: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    # "" answers; "drop" closes every connection unanswered; "drop_after_create" does the work,
    # then closes the connection once (the answer is lost; Stripe keeps the idempotent result).
    mode: str = ""
    drop_path: str = ""  # with mode "drop": only requests to paths starting with this are dropped

    def __post_init__(self):
        self._lock = threading.Lock()
        self._replies: dict[str, tuple[dict[str, str], int, dict]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, path_prefix: str, method: str = "POST") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix) and r.method == method]

    # -- webhooks -------------------------------------------------------------

    def event(self, type_: str, obj: dict, event_id: str | None = None) -> bytes:
        return json.dumps(
            {
                "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "api_version": "2025-09-30.clover",
                "created": int(time.time()),
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": type_,
                "data": {"object": obj},
            }
        ).encode()

    def sign(self, payload: bytes, timestamp: int | None = None, secret: str | None = None) -> str:
        """`Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">`."""
        ts = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new((secret or self.webhook_secret).encode(), f"{ts}.".encode() + payload, hashlib.sha256)
        return f"t={ts},v1={mac.hexdigest()}"

    # -- the API --------------------------------------------------------------

    def answer(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        if method == "GET" and path.startswith("/v1/prices/"):
            price = self.prices.get(path.rsplit("/", 1)[1])
            return (200, price) if price else _missing("price", path.rsplit("/", 1)[1])
        if method != "POST":
            return 404, _error("invalid_request_error", "resource_missing", f"Unrecognized request URL ({path})")
        if path == "/v1/payment_intents":
            return self._payment_intent(params)
        if path == "/v1/customers":
            return 200, {
                "id": f"cus_{uuid.uuid4().hex[:14]}",
                "object": "customer",
                "invoice_settings": {"default_payment_method": params.get("invoice_settings[default_payment_method]")},
                "metadata": _nested(params, "metadata"),
            }
        if path == "/v1/subscriptions":
            return self._subscription(params)
        if path == "/v1/refunds":
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None:
                return _missing("payment_intent", params.get("payment_intent", ""))
            if intent["status"] != "succeeded":
                return 400, _error(
                    "invalid_request_error",
                    "charge_not_refundable",
                    "This PaymentIntent has no successful charge to refund.",
                )
            return 200, {
                "id": f"re_{uuid.uuid4().hex[:24]}",
                "object": "refund",
                "amount": int(params["amount"]),
                "currency": intent["currency"],
                "payment_intent": intent["id"],
                "status": "succeeded",
                "charge": intent["latest_charge"],
            }
        return 404, _error("invalid_request_error", "resource_missing", f"Unrecognized request URL (POST: {path})")

    def _payment_intent(self, params: dict[str, str]) -> tuple[int, dict]:
        pm = params.get("payment_method", "")
        if not pm.startswith("pm_"):
            return 400, _error(
                "invalid_request_error", "resource_missing", f"No such PaymentMethod: '{pm}'", param="payment_method"
            )
        intent = {
            "id": f"pi_{uuid.uuid4().hex[:24]}",
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0,
            "currency": params["currency"],
            "payment_method": pm,
            "metadata": _nested(params, "metadata"),
            "description": params.get("description"),
            "livemode": False,
            "latest_charge": None,
            "last_payment_error": None,
            "client_secret": "pi_secret_not_for_servers",
        }
        if pm in (DECLINED, INSUFFICIENT):
            decline = "insufficient_funds" if pm == INSUFFICIENT else "generic_decline"
            message = "Your card has insufficient funds." if pm == INSUFFICIENT else "Your card was declined."
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline,
                "message": message,
            }
            self.intents[intent["id"]] = intent
            body = _error("card_error", "card_declined", message, decline_code=decline)
            body["error"]["payment_intent"] = intent
            return 402, body
        intent["status"] = "processing" if pm == PROCESSING else "succeeded"
        if intent["status"] == "succeeded":
            intent["amount_received"], intent["latest_charge"] = intent["amount"], f"ch_{uuid.uuid4().hex[:24]}"
        self.intents[intent["id"]] = intent
        return 200, intent

    def _subscription(self, params: dict[str, str]) -> tuple[int, dict]:
        pm = params.get("default_payment_method", "")
        price = self.prices.get(params.get("items[0][price]", ""))
        if price is None:
            return _missing("price", params.get("items[0][price]", ""))
        if pm in (DECLINED, INSUFFICIENT):
            return 402, _error("card_error", "card_declined", "Your card was declined.", decline_code="generic_decline")
        now = int(time.time())
        sub = {
            "id": f"sub_{uuid.uuid4().hex[:24]}",
            "object": "subscription",
            "customer": params["customer"],
            "status": "active",
            "cancel_at_period_end": params.get("cancel_at_period_end") == "true",
            "default_payment_method": pm,
            "metadata": _nested(params, "metadata"),
            "livemode": False,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{uuid.uuid4().hex[:14]}",
                        "object": "subscription_item",
                        "price": price,
                        "quantity": 1,
                        "current_period_start": now,
                        "current_period_end": now + 30 * 86400,
                    }
                ],
            },
        }
        self.subscriptions[sub["id"]] = sub
        return 200, sub


def _nested(params: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}["
    return {k[len(prefix) : -1]: v for k, v in params.items() if k.startswith(prefix) and k.endswith("]")}


def _error(type_: str, code: str, message: str, **extra) -> dict:
    return {
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            **extra,
        }
    }


def _missing(kind: str, ident: str) -> tuple[int, dict]:
    return 404, _error("invalid_request_error", "resource_missing", f"No such {kind}: '{ident}'", param="id")


def _handler(fake: FakeStripe):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = dict(parse_qsl(raw or query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.requests.append(Recorded(method, path, headers, params))
            if fake.mode == "drop" and path.startswith(fake.drop_path):
                self.close_connection = True
                return
            if headers.get("authorization") != f"Bearer {fake.secret_key}":
                return self._reply(401, _error("invalid_request_error", "api_key_invalid", "Invalid API Key provided"))
            key = headers.get("idempotency-key")
            with fake._lock:
                if key and key in fake._replies:
                    seen, status, body = fake._replies[key]
                    if seen != params:
                        return self._reply(
                            400,
                            {
                                "error": {
                                    "type": "idempotency_error",
                                    "message": (
                                        "Keys for idempotent requests can only be used with the same parameters "
                                        "they were first used with."
                                    ),
                                }
                            },
                        )
                    return self._reply(status, body, replayed=True)
                status, body = fake.answer(method, path, params)
                if key and method == "POST":
                    fake._replies[key] = (params, status, body)
            if fake.mode == "drop_after_create" and method == "POST":
                fake.mode = ""
                self.close_connection = True
                return
            self._reply(status, body)

        def _reply(self, status: int, body: dict, replayed: bool = False) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("request-id", f"req_{uuid.uuid4().hex[:14]}")
            if replayed:
                self.send_header("idempotent-replayed", "true")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's names
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

    return Handler
