import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kinora.cameo.v1 import cameo_pb2 as _cameo_pb2
from kinora.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TakedownTargetKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAKEDOWN_TARGET_KIND_UNSPECIFIED: _ClassVar[TakedownTargetKind]
    TAKEDOWN_TARGET_KIND_GENERATION: _ClassVar[TakedownTargetKind]
    TAKEDOWN_TARGET_KIND_POST: _ClassVar[TakedownTargetKind]

class TakedownCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAKEDOWN_CAUSE_UNSPECIFIED: _ClassVar[TakedownCause]
    TAKEDOWN_CAUSE_APPEARANCE_DELETED: _ClassVar[TakedownCause]
    TAKEDOWN_CAUSE_ACCESS_REVOKED: _ClassVar[TakedownCause]
    TAKEDOWN_CAUSE_CAMEO_DELETED: _ClassVar[TakedownCause]
TAKEDOWN_TARGET_KIND_UNSPECIFIED: TakedownTargetKind
TAKEDOWN_TARGET_KIND_GENERATION: TakedownTargetKind
TAKEDOWN_TARGET_KIND_POST: TakedownTargetKind
TAKEDOWN_CAUSE_UNSPECIFIED: TakedownCause
TAKEDOWN_CAUSE_APPEARANCE_DELETED: TakedownCause
TAKEDOWN_CAUSE_ACCESS_REVOKED: TakedownCause
TAKEDOWN_CAUSE_CAMEO_DELETED: TakedownCause

class CameoCreated(_message.Message):
    __slots__ = ("cameo", "likeness", "occurred_at")
    CAMEO_FIELD_NUMBER: _ClassVar[int]
    LIKENESS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo: _cameo_pb2.Cameo
    likeness: _common_pb2.LikenessAssets
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo: _Optional[_Union[_cameo_pb2.Cameo, _Mapping]] = ..., likeness: _Optional[_Union[_common_pb2.LikenessAssets, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PolicyChanged(_message.Message):
    __slots__ = ("cameo_id", "owner_user_id", "old_policy", "new_policy", "revision", "occurred_at")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_POLICY_FIELD_NUMBER: _ClassVar[int]
    NEW_POLICY_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    owner_user_id: str
    old_policy: _common_pb2.CameoPolicy
    new_policy: _common_pb2.CameoPolicy
    revision: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., old_policy: _Optional[_Union[_common_pb2.CameoPolicy, str]] = ..., new_policy: _Optional[_Union[_common_pb2.CameoPolicy, str]] = ..., revision: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AccessRevoked(_message.Message):
    __slots__ = ("cameo_id", "owner_user_id", "user_id", "takedown", "revision", "occurred_at")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    owner_user_id: str
    user_id: str
    takedown: bool
    revision: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., user_id: _Optional[str] = ..., takedown: _Optional[bool] = ..., revision: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CameoDeleted(_message.Message):
    __slots__ = ("cameo_id", "owner_user_id", "takedown", "revision", "occurred_at", "verification_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    owner_user_id: str
    takedown: bool
    revision: int
    occurred_at: _timestamp_pb2.Timestamp
    verification_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., takedown: _Optional[bool] = ..., revision: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verification_id: _Optional[str] = ...) -> None: ...

class TakedownRequested(_message.Message):
    __slots__ = ("takedown_id", "cameo_id", "owner_user_id", "target_kind", "target_ids", "cause", "occurred_at")
    TAKEDOWN_ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_IDS_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    takedown_id: str
    cameo_id: str
    owner_user_id: str
    target_kind: TakedownTargetKind
    target_ids: _containers.RepeatedScalarFieldContainer[str]
    cause: TakedownCause
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, takedown_id: _Optional[str] = ..., cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., target_kind: _Optional[_Union[TakedownTargetKind, str]] = ..., target_ids: _Optional[_Iterable[str]] = ..., cause: _Optional[_Union[TakedownCause, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CameoUsed(_message.Message):
    __slots__ = ("cameo_id", "owner_user_id", "user_id", "user_handle", "generation_id", "purpose", "occurred_at")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    owner_user_id: str
    user_id: str
    user_handle: str
    generation_id: str
    purpose: _cameo_pb2.UsePurpose
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., user_id: _Optional[str] = ..., user_handle: _Optional[str] = ..., generation_id: _Optional[str] = ..., purpose: _Optional[_Union[_cameo_pb2.UsePurpose, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CharacterCreated(_message.Message):
    __slots__ = ("cameo_id", "handle", "owner_user_id", "occurred_at")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    handle: str
    owner_user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo_id: _Optional[str] = ..., handle: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CharacterDeleted(_message.Message):
    __slots__ = ("cameo_id", "handle", "owner_user_id", "occurred_at")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    handle: str
    owner_user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo_id: _Optional[str] = ..., handle: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
