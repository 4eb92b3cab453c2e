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

class GenerationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENERATION_STATUS_UNSPECIFIED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_QUEUED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_IN_PROGRESS: _ClassVar[GenerationStatus]
    GENERATION_STATUS_COMPLETED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_FAILED: _ClassVar[GenerationStatus]
    GENERATION_STATUS_CANCELED: _ClassVar[GenerationStatus]

class MediaVariant(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_VARIANT_UNSPECIFIED: _ClassVar[MediaVariant]
    MEDIA_VARIANT_VIDEO: _ClassVar[MediaVariant]
    MEDIA_VARIANT_THUMBNAIL: _ClassVar[MediaVariant]
    MEDIA_VARIANT_SPRITESHEET: _ClassVar[MediaVariant]

class PoolState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POOL_STATE_UNSPECIFIED: _ClassVar[PoolState]
    POOL_STATE_ACTIVE: _ClassVar[PoolState]
    POOL_STATE_DRAINING: _ClassVar[PoolState]
    POOL_STATE_DRAINED: _ClassVar[PoolState]

class TakedownKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAKEDOWN_KIND_UNSPECIFIED: _ClassVar[TakedownKind]
    TAKEDOWN_KIND_LIKENESS: _ClassVar[TakedownKind]
    TAKEDOWN_KIND_INTIMATE: _ClassVar[TakedownKind]
GENERATION_STATUS_UNSPECIFIED: GenerationStatus
GENERATION_STATUS_QUEUED: GenerationStatus
GENERATION_STATUS_IN_PROGRESS: GenerationStatus
GENERATION_STATUS_COMPLETED: GenerationStatus
GENERATION_STATUS_FAILED: GenerationStatus
GENERATION_STATUS_CANCELED: GenerationStatus
MEDIA_VARIANT_UNSPECIFIED: MediaVariant
MEDIA_VARIANT_VIDEO: MediaVariant
MEDIA_VARIANT_THUMBNAIL: MediaVariant
MEDIA_VARIANT_SPRITESHEET: MediaVariant
POOL_STATE_UNSPECIFIED: PoolState
POOL_STATE_ACTIVE: PoolState
POOL_STATE_DRAINING: PoolState
POOL_STATE_DRAINED: PoolState
TAKEDOWN_KIND_UNSPECIFIED: TakedownKind
TAKEDOWN_KIND_LIKENESS: TakedownKind
TAKEDOWN_KIND_INTIMATE: TakedownKind

class MediaRef(_message.Message):
    __slots__ = ("variant", "content_type", "size_bytes", "sha256", "width", "height", "duration_ms")
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    variant: MediaVariant
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    duration_ms: int
    def __init__(self, variant: _Optional[_Union[MediaVariant, str]] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., duration_ms: _Optional[int] = ...) -> None: ...

class Generation(_message.Message):
    __slots__ = ("id", "user_id", "status", "progress", "stage", "prompt", "model", "seconds", "size", "seed", "cameo_ids", "remix_of", "extend_of", "has_input_image", "tier", "reservation_id", "error", "media", "expires_at", "scene_report_json", "created_at", "started_at", "completed_at", "updated_at", "taken_down", "queue_position", "stitch_of", "crossfade_seconds", "shots", "edit_of", "kind", "extension_seconds")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_FIELD_NUMBER: _ClassVar[int]
    EXTEND_OF_FIELD_NUMBER: _ClassVar[int]
    HAS_INPUT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SCENE_REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    TAKEN_DOWN_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    STITCH_OF_FIELD_NUMBER: _ClassVar[int]
    CROSSFADE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SHOTS_FIELD_NUMBER: _ClassVar[int]
    EDIT_OF_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    status: GenerationStatus
    progress: int
    stage: str
    prompt: str
    model: str
    seconds: int
    size: str
    seed: int
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    remix_of: str
    extend_of: str
    has_input_image: bool
    tier: _common_pb2.Tier
    reservation_id: str
    error: _common_pb2.Error
    media: _containers.RepeatedCompositeFieldContainer[MediaRef]
    expires_at: _timestamp_pb2.Timestamp
    scene_report_json: str
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    taken_down: bool
    queue_position: int
    stitch_of: _containers.RepeatedScalarFieldContainer[str]
    crossfade_seconds: float
    shots: _containers.RepeatedCompositeFieldContainer[Shot]
    edit_of: str
    kind: str
    extension_seconds: int
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[GenerationStatus, str]] = ..., progress: _Optional[int] = ..., stage: _Optional[str] = ..., prompt: _Optional[str] = ..., model: _Optional[str] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., seed: _Optional[int] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., remix_of: _Optional[str] = ..., extend_of: _Optional[str] = ..., has_input_image: _Optional[bool] = ..., tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., reservation_id: _Optional[str] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., media: _Optional[_Iterable[_Union[MediaRef, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scene_report_json: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., taken_down: _Optional[bool] = ..., queue_position: _Optional[int] = ..., stitch_of: _Optional[_Iterable[str]] = ..., crossfade_seconds: _Optional[float] = ..., shots: _Optional[_Iterable[_Union[Shot, _Mapping]]] = ..., edit_of: _Optional[str] = ..., kind: _Optional[str] = ..., extension_seconds: _Optional[int] = ...) -> None: ...

class Shot(_message.Message):
    __slots__ = ("prompt", "seconds", "image", "image_content_type", "camera", "start_seconds", "has_image")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HAS_IMAGE_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    seconds: int
    image: bytes
    image_content_type: str
    camera: str
    start_seconds: int
    has_image: bool
    def __init__(self, prompt: _Optional[str] = ..., seconds: _Optional[int] = ..., image: _Optional[bytes] = ..., image_content_type: _Optional[str] = ..., camera: _Optional[str] = ..., start_seconds: _Optional[int] = ..., has_image: _Optional[bool] = ...) -> None: ...

class CreateGenerationRequest(_message.Message):
    __slots__ = ("idempotency_key", "prompt", "input_image", "input_image_content_type", "cameo_ids", "seconds", "size", "model", "seed", "remix_of", "extend_of", "quote_id", "stitch_of", "crossfade_seconds", "shots", "edit_of")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    INPUT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    INPUT_IMAGE_CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_FIELD_NUMBER: _ClassVar[int]
    EXTEND_OF_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    STITCH_OF_FIELD_NUMBER: _ClassVar[int]
    CROSSFADE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SHOTS_FIELD_NUMBER: _ClassVar[int]
    EDIT_OF_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    prompt: str
    input_image: bytes
    input_image_content_type: str
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    seconds: int
    size: str
    model: str
    seed: int
    remix_of: str
    extend_of: str
    quote_id: str
    stitch_of: _containers.RepeatedScalarFieldContainer[str]
    crossfade_seconds: float
    shots: _containers.RepeatedCompositeFieldContainer[Shot]
    edit_of: str
    def __init__(self, idempotency_key: _Optional[str] = ..., prompt: _Optional[str] = ..., input_image: _Optional[bytes] = ..., input_image_content_type: _Optional[str] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., seconds: _Optional[int] = ..., size: _Optional[str] = ..., model: _Optional[str] = ..., seed: _Optional[int] = ..., remix_of: _Optional[str] = ..., extend_of: _Optional[str] = ..., quote_id: _Optional[str] = ..., stitch_of: _Optional[_Iterable[str]] = ..., crossfade_seconds: _Optional[float] = ..., shots: _Optional[_Iterable[_Union[Shot, _Mapping]]] = ..., edit_of: _Optional[str] = ...) -> None: ...

class CreateGenerationResponse(_message.Message):
    __slots__ = ("generation", "replayed")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    replayed: bool
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class GetGenerationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class GetGenerationResponse(_message.Message):
    __slots__ = ("generation",)
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ...) -> None: ...

class ListGenerationsRequest(_message.Message):
    __slots__ = ("page", "order", "after_generation_id", "status")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    AFTER_GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    order: _common_pb2.SortOrder
    after_generation_id: str
    status: GenerationStatus
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., order: _Optional[_Union[_common_pb2.SortOrder, str]] = ..., after_generation_id: _Optional[str] = ..., status: _Optional[_Union[GenerationStatus, str]] = ...) -> None: ...

class ListGenerationsResponse(_message.Message):
    __slots__ = ("generations", "next_page_token", "has_more")
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    generations: _containers.RepeatedCompositeFieldContainer[Generation]
    next_page_token: str
    has_more: bool
    def __init__(self, generations: _Optional[_Iterable[_Union[Generation, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., has_more: _Optional[bool] = ...) -> None: ...

class CancelGenerationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class CancelGenerationResponse(_message.Message):
    __slots__ = ("generation",)
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ...) -> None: ...

class DeleteGenerationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class DeleteGenerationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamGenerationRequest(_message.Message):
    __slots__ = ("generation_id",)
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    def __init__(self, generation_id: _Optional[str] = ...) -> None: ...

class StreamGenerationResponse(_message.Message):
    __slots__ = ("generation",)
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ...) -> None: ...

class GetMediaRequest(_message.Message):
    __slots__ = ("generation_id", "variant", "download_token", "chunk_size", "offset", "length")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    variant: MediaVariant
    download_token: str
    chunk_size: int
    offset: int
    length: int
    def __init__(self, generation_id: _Optional[str] = ..., variant: _Optional[_Union[MediaVariant, str]] = ..., download_token: _Optional[str] = ..., chunk_size: _Optional[int] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class GetMediaResponse(_message.Message):
    __slots__ = ("media", "offset", "chunk")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    media: MediaRef
    offset: int
    chunk: bytes
    def __init__(self, media: _Optional[_Union[MediaRef, _Mapping]] = ..., offset: _Optional[int] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class CreateMediaDownloadTokenRequest(_message.Message):
    __slots__ = ("generation_id", "variant", "ttl_seconds")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    variant: MediaVariant
    ttl_seconds: int
    def __init__(self, generation_id: _Optional[str] = ..., variant: _Optional[_Union[MediaVariant, str]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class CreateMediaDownloadTokenResponse(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FindByWatermarkRequest(_message.Message):
    __slots__ = ("watermark_id",)
    WATERMARK_ID_FIELD_NUMBER: _ClassVar[int]
    watermark_id: int
    def __init__(self, watermark_id: _Optional[int] = ...) -> None: ...

class FindByWatermarkResponse(_message.Message):
    __slots__ = ("found", "generation_id", "user_id", "deleted", "taken_down", "created_at", "model")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    TAKEN_DOWN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    found: bool
    generation_id: str
    user_id: str
    deleted: bool
    taken_down: bool
    created_at: _timestamp_pb2.Timestamp
    model: str
    def __init__(self, found: _Optional[bool] = ..., generation_id: _Optional[str] = ..., user_id: _Optional[str] = ..., deleted: _Optional[bool] = ..., taken_down: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., model: _Optional[str] = ...) -> None: ...

class TierQueue(_message.Message):
    __slots__ = ("tier", "depth", "oldest_wait_seconds")
    TIER_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    OLDEST_WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    tier: _common_pb2.Tier
    depth: int
    oldest_wait_seconds: float
    def __init__(self, tier: _Optional[_Union[_common_pb2.Tier, str]] = ..., depth: _Optional[int] = ..., oldest_wait_seconds: _Optional[float] = ...) -> None: ...

class Pool(_message.Message):
    __slots__ = ("name", "models", "state", "instances_ready", "instances_total", "jobs_running", "queues", "p50_generation_seconds", "p95_generation_seconds", "drain_reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_READY_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    JOBS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    P50_GENERATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P95_GENERATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DRAIN_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    models: _containers.RepeatedScalarFieldContainer[str]
    state: PoolState
    instances_ready: int
    instances_total: int
    jobs_running: int
    queues: _containers.RepeatedCompositeFieldContainer[TierQueue]
    p50_generation_seconds: float
    p95_generation_seconds: float
    drain_reason: str
    def __init__(self, name: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[PoolState, str]] = ..., instances_ready: _Optional[int] = ..., instances_total: _Optional[int] = ..., jobs_running: _Optional[int] = ..., queues: _Optional[_Iterable[_Union[TierQueue, _Mapping]]] = ..., p50_generation_seconds: _Optional[float] = ..., p95_generation_seconds: _Optional[float] = ..., drain_reason: _Optional[str] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools",)
    POOLS_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[Pool]
    def __init__(self, pools: _Optional[_Iterable[_Union[Pool, _Mapping]]] = ...) -> None: ...

class DrainPoolRequest(_message.Message):
    __slots__ = ("pool_name", "reason")
    POOL_NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    pool_name: str
    reason: str
    def __init__(self, pool_name: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DrainPoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class ResumePoolRequest(_message.Message):
    __slots__ = ("pool_name",)
    POOL_NAME_FIELD_NUMBER: _ClassVar[int]
    pool_name: str
    def __init__(self, pool_name: _Optional[str] = ...) -> None: ...

class ResumePoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class ProbeFrame(_message.Message):
    __slots__ = ("hashes",)
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, hashes: _Optional[_Iterable[int]] = ...) -> None: ...

class TakedownTarget(_message.Message):
    __slots__ = ("generation_id", "why", "via")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    WHY_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    why: str
    via: str
    def __init__(self, generation_id: _Optional[str] = ..., why: _Optional[str] = ..., via: _Optional[str] = ...) -> None: ...

class TakedownRequest(_message.Message):
    __slots__ = ("id", "created_at", "contact", "statement", "kind", "generation_id", "link", "file_sha256", "file_kind", "has_watermark", "watermark_id", "status", "decided_by", "decided_at", "decision_reason", "completed_at", "targets", "removal_seconds", "probe_frames")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    FILE_KIND_FIELD_NUMBER: _ClassVar[int]
    HAS_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PROBE_FRAMES_FIELD_NUMBER: _ClassVar[int]
    id: str
    created_at: _timestamp_pb2.Timestamp
    contact: str
    statement: str
    kind: TakedownKind
    generation_id: str
    link: str
    file_sha256: str
    file_kind: str
    has_watermark: bool
    watermark_id: int
    status: str
    decided_by: str
    decided_at: _timestamp_pb2.Timestamp
    decision_reason: str
    completed_at: _timestamp_pb2.Timestamp
    targets: _containers.RepeatedCompositeFieldContainer[TakedownTarget]
    removal_seconds: float
    probe_frames: int
    def __init__(self, id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., contact: _Optional[str] = ..., statement: _Optional[str] = ..., kind: _Optional[_Union[TakedownKind, str]] = ..., generation_id: _Optional[str] = ..., link: _Optional[str] = ..., file_sha256: _Optional[str] = ..., file_kind: _Optional[str] = ..., has_watermark: _Optional[bool] = ..., watermark_id: _Optional[int] = ..., status: _Optional[str] = ..., decided_by: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decision_reason: _Optional[str] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., targets: _Optional[_Iterable[_Union[TakedownTarget, _Mapping]]] = ..., removal_seconds: _Optional[float] = ..., probe_frames: _Optional[int] = ...) -> None: ...

class TakedownAuditEntry(_message.Message):
    __slots__ = ("at", "actor", "action", "detail")
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    actor: str
    action: str
    detail: str
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class FileTakedownRequestRequest(_message.Message):
    __slots__ = ("contact", "statement", "kind", "generation_id", "link", "file_sha256", "file_kind", "probe", "has_watermark", "watermark_id")
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    FILE_SHA256_FIELD_NUMBER: _ClassVar[int]
    FILE_KIND_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    HAS_WATERMARK_FIELD_NUMBER: _ClassVar[int]
    WATERMARK_ID_FIELD_NUMBER: _ClassVar[int]
    contact: str
    statement: str
    kind: TakedownKind
    generation_id: str
    link: str
    file_sha256: str
    file_kind: str
    probe: _containers.RepeatedCompositeFieldContainer[ProbeFrame]
    has_watermark: bool
    watermark_id: int
    def __init__(self, contact: _Optional[str] = ..., statement: _Optional[str] = ..., kind: _Optional[_Union[TakedownKind, str]] = ..., generation_id: _Optional[str] = ..., link: _Optional[str] = ..., file_sha256: _Optional[str] = ..., file_kind: _Optional[str] = ..., probe: _Optional[_Iterable[_Union[ProbeFrame, _Mapping]]] = ..., has_watermark: _Optional[bool] = ..., watermark_id: _Optional[int] = ...) -> None: ...

class FileTakedownRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: TakedownRequest
    def __init__(self, request: _Optional[_Union[TakedownRequest, _Mapping]] = ...) -> None: ...

class ListTakedownRequestsRequest(_message.Message):
    __slots__ = ("status", "page_size", "after_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    page_size: int
    after_id: str
    def __init__(self, status: _Optional[str] = ..., page_size: _Optional[int] = ..., after_id: _Optional[str] = ...) -> None: ...

class ListTakedownRequestsResponse(_message.Message):
    __slots__ = ("requests", "has_more")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    HAS_MORE_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[TakedownRequest]
    has_more: bool
    def __init__(self, requests: _Optional[_Iterable[_Union[TakedownRequest, _Mapping]]] = ..., has_more: _Optional[bool] = ...) -> None: ...

class ApproveTakedownRequestRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ApproveTakedownRequestResponse(_message.Message):
    __slots__ = ("request", "audit")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    AUDIT_FIELD_NUMBER: _ClassVar[int]
    request: TakedownRequest
    audit: _containers.RepeatedCompositeFieldContainer[TakedownAuditEntry]
    def __init__(self, request: _Optional[_Union[TakedownRequest, _Mapping]] = ..., audit: _Optional[_Iterable[_Union[TakedownAuditEntry, _Mapping]]] = ...) -> None: ...

class RejectTakedownRequestRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectTakedownRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: TakedownRequest
    def __init__(self, request: _Optional[_Union[TakedownRequest, _Mapping]] = ...) -> None: ...
