import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kinora.billing.v1 import billing_pb2 as _billing_pb2
from kinora.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UsageOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_OUTCOME_UNSPECIFIED: _ClassVar[UsageOutcome]
    USAGE_OUTCOME_CAPTURED: _ClassVar[UsageOutcome]
    USAGE_OUTCOME_RELEASED: _ClassVar[UsageOutcome]
    USAGE_OUTCOME_EXPIRED: _ClassVar[UsageOutcome]
USAGE_OUTCOME_UNSPECIFIED: UsageOutcome
USAGE_OUTCOME_CAPTURED: UsageOutcome
USAGE_OUTCOME_RELEASED: UsageOutcome
USAGE_OUTCOME_EXPIRED: UsageOutcome

class UsageRecorded(_message.Message):
    __slots__ = ("user_id", "generation_id", "reservation_id", "outcome", "rule", "allowance_units", "credits", "model", "seconds", "size", "tier", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    ALLOWANCE_UNITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    generation_id: str
    reservation_id: str
    outcome: UsageOutcome
    rule: _billing_pb2.PriceRule
    allowance_units: int
    credits: int
    model: str
    seconds: int
    size: str
    tier: _common_pb2.Tier
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., generation_id: _Optional[str] = ..., reservation_id: _Optional[str] = ..., outcome: _Optional[_Union[UsageOutcome, str]] = ..., rule: _Optional[_Union[_billing_pb2.PriceRule, str]] = ..., allowance_units: _Optional[int] = ..., credits: _Optional[int] = ..., model: _Optional[str] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreditsPurchased(_message.Message):
    __slots__ = ("user_id", "purchase_id", "pack_id", "credits", "amount", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    PACK_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    purchase_id: str
    pack_id: str
    credits: int
    amount: _common_pb2.Money
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., purchase_id: _Optional[str] = ..., pack_id: _Optional[str] = ..., credits: _Optional[int] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreditsRefunded(_message.Message):
    __slots__ = ("user_id", "purchase_id", "credits", "amount", "reason", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_ID_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    purchase_id: str
    credits: int
    amount: _common_pb2.Money
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., purchase_id: _Optional[str] = ..., credits: _Optional[int] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SubscriptionChanged(_message.Message):
    __slots__ = ("subscription", "previous_status", "tier", "occurred_at")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    subscription: _billing_pb2.Subscription
    previous_status: _billing_pb2.SubscriptionStatus
    tier: _common_pb2.Tier
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, subscription: _Optional[_Union[_billing_pb2.Subscription, _Mapping]] = ..., previous_status: _Optional[_Union[_billing_pb2.SubscriptionStatus, str]] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LedgerDriftDetected(_message.Message):
    __slots__ = ("run_id", "uncaptured_generation_ids", "unmatched_capture_generation_ids", "mismatched_account_ids", "drift_credits", "window_start", "window_end", "occurred_at")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    UNCAPTURED_GENERATION_IDS_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_CAPTURE_GENERATION_IDS_FIELD_NUMBER: _ClassVar[int]
    MISMATCHED_ACCOUNT_IDS_FIELD_NUMBER: _ClassVar[int]
    DRIFT_CREDITS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    uncaptured_generation_ids: _containers.RepeatedScalarFieldContainer[str]
    unmatched_capture_generation_ids: _containers.RepeatedScalarFieldContainer[str]
    mismatched_account_ids: _containers.RepeatedScalarFieldContainer[str]
    drift_credits: int
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., uncaptured_generation_ids: _Optional[_Iterable[str]] = ..., unmatched_capture_generation_ids: _Optional[_Iterable[str]] = ..., mismatched_account_ids: _Optional[_Iterable[str]] = ..., drift_credits: _Optional[int] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
