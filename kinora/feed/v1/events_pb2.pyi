import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from kinora.feed.v1 import feed_pb2 as _feed_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RemovalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REMOVAL_REASON_UNSPECIFIED: _ClassVar[RemovalReason]
    REMOVAL_REASON_UNPUBLISHED: _ClassVar[RemovalReason]
    REMOVAL_REASON_DELETED: _ClassVar[RemovalReason]
    REMOVAL_REASON_TAKEN_DOWN: _ClassVar[RemovalReason]
    REMOVAL_REASON_MODERATED: _ClassVar[RemovalReason]
REMOVAL_REASON_UNSPECIFIED: RemovalReason
REMOVAL_REASON_UNPUBLISHED: RemovalReason
REMOVAL_REASON_DELETED: RemovalReason
REMOVAL_REASON_TAKEN_DOWN: RemovalReason
REMOVAL_REASON_MODERATED: RemovalReason

class PostPublished(_message.Message):
    __slots__ = ("post_id", "author_user_id", "generation_id", "cameo_ids", "visibility", "remix_of_post_id", "remix_of_generation_id", "occurred_at")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_POST_ID_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    author_user_id: str
    generation_id: str
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    visibility: _feed_pb2.Visibility
    remix_of_post_id: str
    remix_of_generation_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, post_id: _Optional[str] = ..., author_user_id: _Optional[str] = ..., generation_id: _Optional[str] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., visibility: _Optional[_Union[_feed_pb2.Visibility, str]] = ..., remix_of_post_id: _Optional[str] = ..., remix_of_generation_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PostRemoved(_message.Message):
    __slots__ = ("post_id", "author_user_id", "generation_id", "cameo_ids", "reason", "takedown_id", "occurred_at")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    author_user_id: str
    generation_id: str
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: RemovalReason
    takedown_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, post_id: _Optional[str] = ..., author_user_id: _Optional[str] = ..., generation_id: _Optional[str] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[RemovalReason, str]] = ..., takedown_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FollowChanged(_message.Message):
    __slots__ = ("follower_user_id", "followee_user_id", "following", "followed_back", "occurred_at")
    FOLLOWER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWEE_USER_ID_FIELD_NUMBER: _ClassVar[int]
    FOLLOWING_FIELD_NUMBER: _ClassVar[int]
    FOLLOWED_BACK_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    follower_user_id: str
    followee_user_id: str
    following: bool
    followed_back: bool
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, follower_user_id: _Optional[str] = ..., followee_user_id: _Optional[str] = ..., following: _Optional[bool] = ..., followed_back: _Optional[bool] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BlockChanged(_message.Message):
    __slots__ = ("blocker_user_id", "blocked_user_id", "blocked", "occurred_at")
    BLOCKER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_USER_ID_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    blocker_user_id: str
    blocked_user_id: str
    blocked: bool
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, blocker_user_id: _Optional[str] = ..., blocked_user_id: _Optional[str] = ..., blocked: _Optional[bool] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
