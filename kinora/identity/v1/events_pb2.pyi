import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kinora.common.v1 import common_pb2 as _common_pb2
from kinora.identity.v1 import identity_pb2 as _identity_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UserCreated(_message.Message):
    __slots__ = ("user", "invite_code", "invited_by_user_id", "occurred_at")
    USER_FIELD_NUMBER: _ClassVar[int]
    INVITE_CODE_FIELD_NUMBER: _ClassVar[int]
    INVITED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user: _identity_pb2.User
    invite_code: str
    invited_by_user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ..., invite_code: _Optional[str] = ..., invited_by_user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UserUpdated(_message.Message):
    __slots__ = ("user", "occurred_at")
    USER_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user: _identity_pb2.User
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user: _Optional[_Union[_identity_pb2.User, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GuardianLinked(_message.Message):
    __slots__ = ("link_id", "guardian_user_id", "teen_user_id", "occurred_at")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEEN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    guardian_user_id: str
    teen_user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, link_id: _Optional[str] = ..., guardian_user_id: _Optional[str] = ..., teen_user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GuardianUnlinked(_message.Message):
    __slots__ = ("link_id", "guardian_user_id", "teen_user_id", "unlinked_by_user_id", "occurred_at", "reason")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEEN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    UNLINKED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    guardian_user_id: str
    teen_user_id: str
    unlinked_by_user_id: str
    occurred_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, link_id: _Optional[str] = ..., guardian_user_id: _Optional[str] = ..., teen_user_id: _Optional[str] = ..., unlinked_by_user_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ParentalControlsChanged(_message.Message):
    __slots__ = ("teen_user_id", "guardian_user_id", "controls", "occurred_at")
    TEEN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    teen_user_id: str
    guardian_user_id: str
    controls: _identity_pb2.ParentalControls
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, teen_user_id: _Optional[str] = ..., guardian_user_id: _Optional[str] = ..., controls: _Optional[_Union[_identity_pb2.ParentalControls, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UserDeleted(_message.Message):
    __slots__ = ("user_id", "anonymous_id", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    anonymous_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., anonymous_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CameoVerified(_message.Message):
    __slots__ = ("user_id", "handle", "display_name", "verification_id", "owner_age_group", "likeness", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGE_GROUP_FIELD_NUMBER: _ClassVar[int]
    LIKENESS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    handle: str
    display_name: str
    verification_id: str
    owner_age_group: _common_pb2.AgeGroup
    likeness: _common_pb2.LikenessAssets
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., handle: _Optional[str] = ..., display_name: _Optional[str] = ..., verification_id: _Optional[str] = ..., owner_age_group: _Optional[_Union[_common_pb2.AgeGroup, str]] = ..., likeness: _Optional[_Union[_common_pb2.LikenessAssets, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerificationFailed(_message.Message):
    __slots__ = ("user_id", "verification_id", "failed_checks", "occurred_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    FAILED_CHECKS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    verification_id: str
    failed_checks: _containers.RepeatedCompositeFieldContainer[_identity_pb2.VerificationCheck]
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., verification_id: _Optional[str] = ..., failed_checks: _Optional[_Iterable[_Union[_identity_pb2.VerificationCheck, _Mapping]]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
