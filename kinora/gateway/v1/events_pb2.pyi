import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebhookOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEBHOOK_OUTCOME_UNSPECIFIED: _ClassVar[WebhookOutcome]
    WEBHOOK_OUTCOME_DELIVERED: _ClassVar[WebhookOutcome]
    WEBHOOK_OUTCOME_RETRYING: _ClassVar[WebhookOutcome]
    WEBHOOK_OUTCOME_ABANDONED: _ClassVar[WebhookOutcome]
WEBHOOK_OUTCOME_UNSPECIFIED: WebhookOutcome
WEBHOOK_OUTCOME_DELIVERED: WebhookOutcome
WEBHOOK_OUTCOME_RETRYING: WebhookOutcome
WEBHOOK_OUTCOME_ABANDONED: WebhookOutcome

class WebhookDeliveryAttempted(_message.Message):
    __slots__ = ("delivery_id", "webhook_event_id", "event_type", "video_id", "user_id", "api_key_id", "endpoint_url", "attempt", "outcome", "http_status", "error_message", "duration_seconds", "next_attempt_at", "occurred_at")
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    VIDEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_URL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    delivery_id: str
    webhook_event_id: str
    event_type: str
    video_id: str
    user_id: str
    api_key_id: str
    endpoint_url: str
    attempt: int
    outcome: WebhookOutcome
    http_status: int
    error_message: str
    duration_seconds: float
    next_attempt_at: _timestamp_pb2.Timestamp
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, delivery_id: _Optional[str] = ..., webhook_event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., video_id: _Optional[str] = ..., user_id: _Optional[str] = ..., api_key_id: _Optional[str] = ..., endpoint_url: _Optional[str] = ..., attempt: _Optional[int] = ..., outcome: _Optional[_Union[WebhookOutcome, str]] = ..., http_status: _Optional[int] = ..., error_message: _Optional[str] = ..., duration_seconds: _Optional[float] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
