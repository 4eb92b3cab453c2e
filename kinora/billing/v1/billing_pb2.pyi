import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kinora.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PriceRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRICE_RULE_UNSPECIFIED: _ClassVar[PriceRule]
    PRICE_RULE_ALLOWANCE: _ClassVar[PriceRule]
    PRICE_RULE_DEMAND_CREDITS: _ClassVar[PriceRule]
    PRICE_RULE_DEMAND_WAIT: _ClassVar[PriceRule]
    PRICE_RULE_CREDITS: _ClassVar[PriceRule]
    PRICE_RULE_UNAVAILABLE: _ClassVar[PriceRule]

class ReservationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVATION_STATUS_UNSPECIFIED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_HELD: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_CAPTURED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_RELEASED: _ClassVar[ReservationStatus]
    RESERVATION_STATUS_EXPIRED: _ClassVar[ReservationStatus]

class PurchaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURCHASE_STATUS_UNSPECIFIED: _ClassVar[PurchaseStatus]
    PURCHASE_STATUS_PENDING: _ClassVar[PurchaseStatus]
    PURCHASE_STATUS_SUCCEEDED: _ClassVar[PurchaseStatus]
    PURCHASE_STATUS_DECLINED: _ClassVar[PurchaseStatus]
    PURCHASE_STATUS_FAILED: _ClassVar[PurchaseStatus]
    PURCHASE_STATUS_REFUNDED: _ClassVar[PurchaseStatus]

class SubscriptionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_STATUS_UNSPECIFIED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_ACTIVE: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_CANCELING: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_ENDED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_PAST_DUE: _ClassVar[SubscriptionStatus]

class LedgerAccountKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_ACCOUNT_KIND_UNSPECIFIED: _ClassVar[LedgerAccountKind]
    LEDGER_ACCOUNT_KIND_USER_CREDITS: _ClassVar[LedgerAccountKind]
    LEDGER_ACCOUNT_KIND_USER_HELD: _ClassVar[LedgerAccountKind]
    LEDGER_ACCOUNT_KIND_USER_ALLOWANCE: _ClassVar[LedgerAccountKind]
    LEDGER_ACCOUNT_KIND_PLATFORM_REVENUE: _ClassVar[LedgerAccountKind]
    LEDGER_ACCOUNT_KIND_PLATFORM_ISSUED: _ClassVar[LedgerAccountKind]
    LEDGER_ACCOUNT_KIND_PAYMENT_PROVIDER: _ClassVar[LedgerAccountKind]

class LedgerEntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEDGER_ENTRY_KIND_UNSPECIFIED: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_PURCHASE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_RESERVE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_CAPTURE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_RELEASE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_EXPIRE: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_REFUND: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_ALLOWANCE_GRANT: _ClassVar[LedgerEntryKind]
    LEDGER_ENTRY_KIND_SUBSCRIPTION: _ClassVar[LedgerEntryKind]
PRICE_RULE_UNSPECIFIED: PriceRule
PRICE_RULE_ALLOWANCE: PriceRule
PRICE_RULE_DEMAND_CREDITS: PriceRule
PRICE_RULE_DEMAND_WAIT: PriceRule
PRICE_RULE_CREDITS: PriceRule
PRICE_RULE_UNAVAILABLE: PriceRule
RESERVATION_STATUS_UNSPECIFIED: ReservationStatus
RESERVATION_STATUS_HELD: ReservationStatus
RESERVATION_STATUS_CAPTURED: ReservationStatus
RESERVATION_STATUS_RELEASED: ReservationStatus
RESERVATION_STATUS_EXPIRED: ReservationStatus
PURCHASE_STATUS_UNSPECIFIED: PurchaseStatus
PURCHASE_STATUS_PENDING: PurchaseStatus
PURCHASE_STATUS_SUCCEEDED: PurchaseStatus
PURCHASE_STATUS_DECLINED: PurchaseStatus
PURCHASE_STATUS_FAILED: PurchaseStatus
PURCHASE_STATUS_REFUNDED: PurchaseStatus
SUBSCRIPTION_STATUS_UNSPECIFIED: SubscriptionStatus
SUBSCRIPTION_STATUS_ACTIVE: SubscriptionStatus
SUBSCRIPTION_STATUS_CANCELING: SubscriptionStatus
SUBSCRIPTION_STATUS_ENDED: SubscriptionStatus
SUBSCRIPTION_STATUS_PAST_DUE: SubscriptionStatus
LEDGER_ACCOUNT_KIND_UNSPECIFIED: LedgerAccountKind
LEDGER_ACCOUNT_KIND_USER_CREDITS: LedgerAccountKind
LEDGER_ACCOUNT_KIND_USER_HELD: LedgerAccountKind
LEDGER_ACCOUNT_KIND_USER_ALLOWANCE: LedgerAccountKind
LEDGER_ACCOUNT_KIND_PLATFORM_REVENUE: LedgerAccountKind
LEDGER_ACCOUNT_KIND_PLATFORM_ISSUED: LedgerAccountKind
LEDGER_ACCOUNT_KIND_PAYMENT_PROVIDER: LedgerAccountKind
LEDGER_ENTRY_KIND_UNSPECIFIED: LedgerEntryKind
LEDGER_ENTRY_KIND_PURCHASE: LedgerEntryKind
LEDGER_ENTRY_KIND_RESERVE: LedgerEntryKind
LEDGER_ENTRY_KIND_CAPTURE: LedgerEntryKind
LEDGER_ENTRY_KIND_RELEASE: LedgerEntryKind
LEDGER_ENTRY_KIND_EXPIRE: LedgerEntryKind
LEDGER_ENTRY_KIND_REFUND: LedgerEntryKind
LEDGER_ENTRY_KIND_ALLOWANCE_GRANT: LedgerEntryKind
LEDGER_ENTRY_KIND_SUBSCRIPTION: LedgerEntryKind

class Allowance(_message.Message):
    __slots__ = ("daily_limit", "used_today", "held_today", "remaining", "resets_at")
    DAILY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    USED_TODAY_FIELD_NUMBER: _ClassVar[int]
    HELD_TODAY_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESETS_AT_FIELD_NUMBER: _ClassVar[int]
    daily_limit: int
    used_today: int
    held_today: int
    remaining: int
    resets_at: _timestamp_pb2.Timestamp
    def __init__(self, daily_limit: _Optional[int] = ..., used_today: _Optional[int] = ..., held_today: _Optional[int] = ..., remaining: _Optional[int] = ..., resets_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("user_id", "credits", "credits_held", "allowance", "plan_tier")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_HELD_FIELD_NUMBER: _ClassVar[int]
    ALLOWANCE_FIELD_NUMBER: _ClassVar[int]
    PLAN_TIER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    credits: int
    credits_held: int
    allowance: Allowance
    plan_tier: _common_pb2.Tier
    def __init__(self, user_id: _Optional[str] = ..., credits: _Optional[int] = ..., credits_held: _Optional[int] = ..., allowance: _Optional[_Union[Allowance, _Mapping]] = ..., plan_tier: _Optional[_Union[_common_pb2.Tier, str]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("quote_id", "user_id", "model", "seconds", "size", "rule", "price_credits", "tier", "description", "estimated_wait_seconds", "expires_at")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    PRICE_CREDITS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    user_id: str
    model: str
    seconds: int
    size: str
    rule: PriceRule
    price_credits: int
    tier: _common_pb2.Tier
    description: str
    estimated_wait_seconds: float
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, quote_id: _Optional[str] = ..., user_id: _Optional[str] = ..., model: _Optional[str] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., rule: _Optional[_Union[PriceRule, str]] = ..., price_credits: _Optional[int] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., description: _Optional[str] = ..., estimated_wait_seconds: _Optional[float] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuoteRequest(_message.Message):
    __slots__ = ("user_id", "model", "seconds", "size", "prefer_wait")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    PREFER_WAIT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    model: str
    seconds: int
    size: str
    prefer_wait: bool
    def __init__(self, user_id: _Optional[str] = ..., model: _Optional[str] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., prefer_wait: _Optional[bool] = ...) -> None: ...

class QuoteResponse(_message.Message):
    __slots__ = ("quote",)
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ("id", "generation_id", "user_id", "status", "rule", "allowance_units", "credits", "tier", "created_at", "expires_at", "settled_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    ALLOWANCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    generation_id: str
    user_id: str
    status: ReservationStatus
    rule: PriceRule
    allowance_units: int
    credits: int
    tier: _common_pb2.Tier
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., generation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[ReservationStatus, str]] = ..., rule: _Optional[_Union[PriceRule, str]] = ..., allowance_units: _Optional[int] = ..., credits: _Optional[int] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("generation_id", "user_id", "model", "seconds", "size", "quote_id", "prefer_wait")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    PREFER_WAIT_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    user_id: str
    model: str
    seconds: int
    size: str
    quote_id: str
    prefer_wait: bool
    def __init__(self, generation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., model: _Optional[str] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., quote_id: _Optional[str] = ..., prefer_wait: _Optional[bool] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("reservation", "replayed")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    replayed: bool
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class CaptureRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class CaptureResponse(_message.Message):
    __slots__ = ("reservation", "replayed")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    replayed: bool
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("generation_id", "reason")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    reason: str
    def __init__(self, generation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("reservation", "replayed")
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    replayed: bool
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ExtendReservationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class ExtendReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class CreditPack(_message.Message):
    __slots__ = ("id", "name", "credits", "price")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    credits: int
    price: _common_pb2.Money
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., credits: _Optional[int] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class ListCreditPacksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCreditPacksResponse(_message.Message):
    __slots__ = ("packs",)
    PACKS_FIELD_NUMBER: _ClassVar[int]
    packs: _containers.RepeatedCompositeFieldContainer[CreditPack]
    def __init__(self, packs: _Optional[_Iterable[_Union[CreditPack, _Mapping]]] = ...) -> None: ...

class Purchase(_message.Message):
    __slots__ = ("id", "user_id", "pack_id", "credits", "amount", "status", "provider_payment_id", "failure_message", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    pack_id: str
    credits: int
    amount: _common_pb2.Money
    status: PurchaseStatus
    provider_payment_id: str
    failure_message: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., pack_id: _Optional[str] = ..., credits: _Optional[int] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[PurchaseStatus, str]] = ..., provider_payment_id: _Optional[str] = ..., failure_message: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PurchaseCreditsRequest(_message.Message):
    __slots__ = ("pack_id", "payment_token", "idempotency_key", "expected_price")
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_PRICE_FIELD_NUMBER: _ClassVar[int]
    pack_id: str
    payment_token: str
    idempotency_key: str
    expected_price: _common_pb2.Money
    def __init__(self, pack_id: _Optional[str] = ..., payment_token: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., expected_price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class PurchaseCreditsResponse(_message.Message):
    __slots__ = ("purchase", "balance")
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    purchase: Purchase
    balance: Balance
    def __init__(self, purchase: _Optional[_Union[Purchase, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class RefundRequest(_message.Message):
    __slots__ = ("purchase_id", "reason")
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    purchase_id: str
    reason: str
    def __init__(self, purchase_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RefundResponse(_message.Message):
    __slots__ = ("purchase",)
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    purchase: Purchase
    def __init__(self, purchase: _Optional[_Union[Purchase, _Mapping]] = ...) -> None: ...

class HandlePaymentWebhookRequest(_message.Message):
    __slots__ = ("provider", "payload", "signature")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    provider: str
    payload: bytes
    signature: str
    def __init__(self, provider: _Optional[str] = ..., payload: _Optional[bytes] = ..., signature: _Optional[str] = ...) -> None: ...

class HandlePaymentWebhookResponse(_message.Message):
    __slots__ = ("provider_event_id", "duplicate")
    PROVIDER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    provider_event_id: str
    duplicate: bool
    def __init__(self, provider_event_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("id", "name", "tier", "daily_allowance", "models", "max_seconds", "sizes", "price_per_period", "period_days")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    DAILY_ALLOWANCE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZES_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_PERIOD_FIELD_NUMBER: _ClassVar[int]
    PERIOD_DAYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    tier: _common_pb2.Tier
    daily_allowance: int
    models: _containers.RepeatedScalarFieldContainer[str]
    max_seconds: int
    sizes: _containers.RepeatedScalarFieldContainer[str]
    price_per_period: _common_pb2.Money
    period_days: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., daily_allowance: _Optional[int] = ..., models: _Optional[_Iterable[str]] = ..., max_seconds: _Optional[int] = ..., sizes: _Optional[_Iterable[str]] = ..., price_per_period: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., period_days: _Optional[int] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans",)
    PLANS_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("id", "user_id", "plan_id", "status", "current_period_start", "current_period_end", "cancel_at_period_end")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    plan_id: str
    status: SubscriptionStatus
    current_period_start: _timestamp_pb2.Timestamp
    current_period_end: _timestamp_pb2.Timestamp
    cancel_at_period_end: bool
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., status: _Optional[_Union[SubscriptionStatus, str]] = ..., current_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_at_period_end: _Optional[bool] = ...) -> None: ...

class StartSubscriptionRequest(_message.Message):
    __slots__ = ("plan_id", "payment_token", "idempotency_key")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    payment_token: str
    idempotency_key: str
    def __init__(self, plan_id: _Optional[str] = ..., payment_token: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class StartSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class CancelSubscriptionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CancelSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ...) -> None: ...

class Entitlements(_message.Message):
    __slots__ = ("user_id", "plan", "subscription", "models", "max_seconds", "sizes", "priority_tier")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MAX_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZES_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_TIER_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    plan: Plan
    subscription: Subscription
    models: _containers.RepeatedScalarFieldContainer[str]
    max_seconds: int
    sizes: _containers.RepeatedScalarFieldContainer[str]
    priority_tier: _common_pb2.Tier
    def __init__(self, user_id: _Optional[str] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., subscription: _Optional[_Union[Subscription, _Mapping]] = ..., models: _Optional[_Iterable[str]] = ..., max_seconds: _Optional[int] = ..., sizes: _Optional[_Iterable[str]] = ..., priority_tier: _Optional[_Union[_common_pb2.Tier, str]] = ...) -> None: ...

class GetEntitlementsRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetEntitlementsResponse(_message.Message):
    __slots__ = ("entitlements",)
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    entitlements: Entitlements
    def __init__(self, entitlements: _Optional[_Union[Entitlements, _Mapping]] = ...) -> None: ...

class LedgerEntry(_message.Message):
    __slots__ = ("id", "transaction_id", "account", "kind", "amount", "unit", "balance_after", "generation_id", "purchase_id", "description", "created_at", "account_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AFTER_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    transaction_id: str
    account: LedgerAccountKind
    kind: LedgerEntryKind
    amount: int
    unit: str
    balance_after: int
    generation_id: str
    purchase_id: str
    description: str
    created_at: _timestamp_pb2.Timestamp
    account_id: str
    def __init__(self, id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., account: _Optional[_Union[LedgerAccountKind, str]] = ..., kind: _Optional[_Union[LedgerEntryKind, str]] = ..., amount: _Optional[int] = ..., unit: _Optional[str] = ..., balance_after: _Optional[int] = ..., generation_id: _Optional[str] = ..., purchase_id: _Optional[str] = ..., description: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account_id: _Optional[str] = ...) -> None: ...

class GetStatementRequest(_message.Message):
    __slots__ = ("user_id", "page", "since", "until")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page: _common_pb2.PageRequest
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStatementResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LedgerEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[LedgerEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
