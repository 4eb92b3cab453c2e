import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kinora.common.v1 import common_pb2 as _common_pb2
from kinora.generator.v1 import generator_pb2 as _generator_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerationFacts(_message.Message):
    __slots__ = ("generation_id", "user_id", "tier", "model", "seconds", "size", "cameo_ids", "reservation_id", "remix_of", "extend_of", "edit_of", "kind")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_FIELD_NUMBER: _ClassVar[int]
    EXTEND_OF_FIELD_NUMBER: _ClassVar[int]
    EDIT_OF_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    user_id: str
    tier: _common_pb2.Tier
    model: str
    seconds: int
    size: str
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    reservation_id: str
    remix_of: str
    extend_of: str
    edit_of: str
    kind: str
    def __init__(self, generation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., model: _Optional[str] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., reservation_id: _Optional[str] = ..., remix_of: _Optional[str] = ..., extend_of: _Optional[str] = ..., edit_of: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class GenerationRequested(_message.Message):
    __slots__ = ("facts", "prompt", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    prompt: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., prompt: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationStarted(_message.Message):
    __slots__ = ("facts", "pool_name", "worker_id", "attempt", "wait_seconds", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    POOL_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    pool_name: str
    worker_id: str
    attempt: int
    wait_seconds: float
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., pool_name: _Optional[str] = ..., worker_id: _Optional[str] = ..., attempt: _Optional[int] = ..., wait_seconds: _Optional[float] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationProgress(_message.Message):
    __slots__ = ("facts", "progress", "stage", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    progress: int
    stage: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., progress: _Optional[int] = ..., stage: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationCompleted(_message.Message):
    __slots__ = ("facts", "media", "expires_at", "compute_seconds", "total_seconds", "prompt", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    media: _containers.RepeatedCompositeFieldContainer[_generator_pb2.MediaRef]
    expires_at: _timestamp_pb2.Timestamp
    compute_seconds: float
    total_seconds: float
    prompt: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., media: _Optional[_Iterable[_Union[_generator_pb2.MediaRef, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., compute_seconds: _Optional[float] = ..., total_seconds: _Optional[float] = ..., prompt: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationFailed(_message.Message):
    __slots__ = ("facts", "error", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    error: _common_pb2.Error
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationCanceled(_message.Message):
    __slots__ = ("facts", "canceled_by", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    CANCELED_BY_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    canceled_by: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., canceled_by: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationTakenDown(_message.Message):
    __slots__ = ("facts", "takedown_id", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    takedown_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., takedown_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GenerationDeleted(_message.Message):
    __slots__ = ("facts", "occurred_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    facts: GenerationFacts
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[GenerationFacts, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TierDemand(_message.Message):
    __slots__ = ("tier", "queue_depth", "oldest_wait_seconds", "p50_wait_seconds")
    TIER_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    OLDEST_WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P50_WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    tier: _common_pb2.Tier
    queue_depth: int
    oldest_wait_seconds: float
    p50_wait_seconds: float
    def __init__(self, tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., queue_depth: _Optional[int] = ..., oldest_wait_seconds: _Optional[float] = ..., p50_wait_seconds: _Optional[float] = ...) -> None: ...

class DemandChanged(_message.Message):
    __slots__ = ("pool_name", "tiers", "instances_ready", "measured_at")
    POOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_READY_FIELD_NUMBER: _ClassVar[int]
    MEASURED_AT_FIELD_NUMBER: _ClassVar[int]
    pool_name: str
    tiers: _containers.RepeatedCompositeFieldContainer[TierDemand]
    instances_ready: int
    measured_at: _timestamp_pb2.Timestamp
    def __init__(self, pool_name: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[TierDemand, _Mapping]]] = ..., instances_ready: _Optional[int] = ..., measured_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
