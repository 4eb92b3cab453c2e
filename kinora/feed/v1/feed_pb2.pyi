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

class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISIBILITY_UNSPECIFIED: _ClassVar[Visibility]
    VISIBILITY_PUBLIC: _ClassVar[Visibility]
    VISIBILITY_FOLLOWERS: _ClassVar[Visibility]
    VISIBILITY_PRIVATE: _ClassVar[Visibility]

class PostState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POST_STATE_UNSPECIFIED: _ClassVar[PostState]
    POST_STATE_PUBLISHED: _ClassVar[PostState]
    POST_STATE_UNPUBLISHED: _ClassVar[PostState]
    POST_STATE_DELETED: _ClassVar[PostState]
    POST_STATE_TAKEN_DOWN: _ClassVar[PostState]

class CandidateSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANDIDATE_SOURCE_UNSPECIFIED: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_FOLLOWING: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_MUTUALS: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_REMIXES: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_TRENDING_REGION: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_PREFERENCES: _ClassVar[CandidateSource]
    CANDIDATE_SOURCE_RECENT: _ClassVar[CandidateSource]

class ReportReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPORT_REASON_UNSPECIFIED: _ClassVar[ReportReason]
    REPORT_REASON_SPAM: _ClassVar[ReportReason]
    REPORT_REASON_HARASSMENT: _ClassVar[ReportReason]
    REPORT_REASON_SEXUAL: _ClassVar[ReportReason]
    REPORT_REASON_VIOLENCE: _ClassVar[ReportReason]
    REPORT_REASON_SELF_HARM: _ClassVar[ReportReason]
    REPORT_REASON_LIKENESS_MISUSE: _ClassVar[ReportReason]
    REPORT_REASON_OTHER: _ClassVar[ReportReason]
VISIBILITY_UNSPECIFIED: Visibility
VISIBILITY_PUBLIC: Visibility
VISIBILITY_FOLLOWERS: Visibility
VISIBILITY_PRIVATE: Visibility
POST_STATE_UNSPECIFIED: PostState
POST_STATE_PUBLISHED: PostState
POST_STATE_UNPUBLISHED: PostState
POST_STATE_DELETED: PostState
POST_STATE_TAKEN_DOWN: PostState
CANDIDATE_SOURCE_UNSPECIFIED: CandidateSource
CANDIDATE_SOURCE_FOLLOWING: CandidateSource
CANDIDATE_SOURCE_MUTUALS: CandidateSource
CANDIDATE_SOURCE_REMIXES: CandidateSource
CANDIDATE_SOURCE_TRENDING_REGION: CandidateSource
CANDIDATE_SOURCE_PREFERENCES: CandidateSource
CANDIDATE_SOURCE_RECENT: CandidateSource
REPORT_REASON_UNSPECIFIED: ReportReason
REPORT_REASON_SPAM: ReportReason
REPORT_REASON_HARASSMENT: ReportReason
REPORT_REASON_SEXUAL: ReportReason
REPORT_REASON_VIOLENCE: ReportReason
REPORT_REASON_SELF_HARM: ReportReason
REPORT_REASON_LIKENESS_MISUSE: ReportReason
REPORT_REASON_OTHER: ReportReason

class Post(_message.Message):
    __slots__ = ("id", "author_user_id", "author_handle", "generation_id", "caption", "visibility", "state", "cameo_ids", "remix_of_post_id", "remix_of_generation_id", "like_count", "comment_count", "remix_count", "liked_by_caller", "region", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_POST_ID_FIELD_NUMBER: _ClassVar[int]
    REMIX_OF_GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    LIKE_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    REMIX_COUNT_FIELD_NUMBER: _ClassVar[int]
    LIKED_BY_CALLER_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    author_user_id: str
    author_handle: str
    generation_id: str
    caption: str
    visibility: Visibility
    state: PostState
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    remix_of_post_id: str
    remix_of_generation_id: str
    like_count: int
    comment_count: int
    remix_count: int
    liked_by_caller: bool
    region: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., author_user_id: _Optional[str] = ..., author_handle: _Optional[str] = ..., generation_id: _Optional[str] = ..., caption: _Optional[str] = ..., visibility: _Optional[_Union[Visibility, str]] = ..., state: _Optional[_Union[PostState, str]] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., remix_of_post_id: _Optional[str] = ..., remix_of_generation_id: _Optional[str] = ..., like_count: _Optional[int] = ..., comment_count: _Optional[int] = ..., remix_count: _Optional[int] = ..., liked_by_caller: _Optional[bool] = ..., region: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PublishPostRequest(_message.Message):
    __slots__ = ("generation_id", "caption", "visibility")
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    generation_id: str
    caption: str
    visibility: Visibility
    def __init__(self, generation_id: _Optional[str] = ..., caption: _Optional[str] = ..., visibility: _Optional[_Union[Visibility, str]] = ...) -> None: ...

class PublishPostResponse(_message.Message):
    __slots__ = ("post",)
    POST_FIELD_NUMBER: _ClassVar[int]
    post: Post
    def __init__(self, post: _Optional[_Union[Post, _Mapping]] = ...) -> None: ...

class UnpublishPostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class UnpublishPostResponse(_message.Message):
    __slots__ = ("post",)
    POST_FIELD_NUMBER: _ClassVar[int]
    post: Post
    def __init__(self, post: _Optional[_Union[Post, _Mapping]] = ...) -> None: ...

class DeletePostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class DeletePostResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class GetPostResponse(_message.Message):
    __slots__ = ("post",)
    POST_FIELD_NUMBER: _ClassVar[int]
    post: Post
    def __init__(self, post: _Optional[_Union[Post, _Mapping]] = ...) -> None: ...

class ListUserPostsRequest(_message.Message):
    __slots__ = ("user_id", "page")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page: _common_pb2.PageRequest
    def __init__(self, user_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListUserPostsResponse(_message.Message):
    __slots__ = ("posts", "next_page_token")
    POSTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    posts: _containers.RepeatedCompositeFieldContainer[Post]
    next_page_token: str
    def __init__(self, posts: _Optional[_Iterable[_Union[Post, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class FeedItem(_message.Message):
    __slots__ = ("post", "source", "reason", "score")
    POST_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    post: Post
    source: CandidateSource
    reason: str
    score: float
    def __init__(self, post: _Optional[_Union[Post, _Mapping]] = ..., source: _Optional[_Union[CandidateSource, str]] = ..., reason: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class GetFeedRequest(_message.Message):
    __slots__ = ("page", "session_id")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    session_id: str
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., session_id: _Optional[str] = ...) -> None: ...

class GetFeedResponse(_message.Message):
    __slots__ = ("items", "next_page_token", "session_id", "nudge", "cap_reached", "cap_message", "fallback", "non_personalized", "timings")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NUDGE_FIELD_NUMBER: _ClassVar[int]
    CAP_REACHED_FIELD_NUMBER: _ClassVar[int]
    CAP_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    NON_PERSONALIZED_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[FeedItem]
    next_page_token: str
    session_id: str
    nudge: str
    cap_reached: bool
    cap_message: str
    fallback: bool
    non_personalized: bool
    timings: FeedTimings
    def __init__(self, items: _Optional[_Iterable[_Union[FeedItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., session_id: _Optional[str] = ..., nudge: _Optional[str] = ..., cap_reached: _Optional[bool] = ..., cap_message: _Optional[str] = ..., fallback: _Optional[bool] = ..., non_personalized: _Optional[bool] = ..., timings: _Optional[_Union[FeedTimings, _Mapping]] = ...) -> None: ...

class FeedTimings(_message.Message):
    __slots__ = ("candidates_ms", "score_ms", "policy_ms", "candidate_count")
    CANDIDATES_MS_FIELD_NUMBER: _ClassVar[int]
    SCORE_MS_FIELD_NUMBER: _ClassVar[int]
    POLICY_MS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    candidates_ms: float
    score_ms: float
    policy_ms: float
    candidate_count: int
    def __init__(self, candidates_ms: _Optional[float] = ..., score_ms: _Optional[float] = ..., policy_ms: _Optional[float] = ..., candidate_count: _Optional[int] = ...) -> None: ...

class FeedPreferences(_message.Message):
    __slots__ = ("text", "updated_at")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    text: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetFeedPreferencesRequest(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class SetFeedPreferencesResponse(_message.Message):
    __slots__ = ("preferences",)
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    preferences: FeedPreferences
    def __init__(self, preferences: _Optional[_Union[FeedPreferences, _Mapping]] = ...) -> None: ...

class GetFeedPreferencesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetFeedPreferencesResponse(_message.Message):
    __slots__ = ("preferences",)
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    preferences: FeedPreferences
    def __init__(self, preferences: _Optional[_Union[FeedPreferences, _Mapping]] = ...) -> None: ...

class PostView(_message.Message):
    __slots__ = ("post_id", "watch_ms", "viewed_at")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    WATCH_MS_FIELD_NUMBER: _ClassVar[int]
    VIEWED_AT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    watch_ms: int
    viewed_at: _timestamp_pb2.Timestamp
    def __init__(self, post_id: _Optional[str] = ..., watch_ms: _Optional[int] = ..., viewed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordViewsRequest(_message.Message):
    __slots__ = ("views",)
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    views: _containers.RepeatedCompositeFieldContainer[PostView]
    def __init__(self, views: _Optional[_Iterable[_Union[PostView, _Mapping]]] = ...) -> None: ...

class RecordViewsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FollowRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class FollowResponse(_message.Message):
    __slots__ = ("mutual",)
    MUTUAL_FIELD_NUMBER: _ClassVar[int]
    mutual: bool
    def __init__(self, mutual: _Optional[bool] = ...) -> None: ...

class UnfollowRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UnfollowResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BlockUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class BlockUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UnblockUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class UnblockUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UserSummary(_message.Message):
    __slots__ = ("user_id", "handle", "since")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    handle: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., handle: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListFollowersRequest(_message.Message):
    __slots__ = ("user_id", "page")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page: _common_pb2.PageRequest
    def __init__(self, user_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListFollowersResponse(_message.Message):
    __slots__ = ("users", "next_page_token")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserSummary]
    next_page_token: str
    def __init__(self, users: _Optional[_Iterable[_Union[UserSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFollowingRequest(_message.Message):
    __slots__ = ("user_id", "page")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page: _common_pb2.PageRequest
    def __init__(self, user_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListFollowingResponse(_message.Message):
    __slots__ = ("users", "next_page_token")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserSummary]
    next_page_token: str
    def __init__(self, users: _Optional[_Iterable[_Union[UserSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListMutualsRequest(_message.Message):
    __slots__ = ("user_id", "page")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    page: _common_pb2.PageRequest
    def __init__(self, user_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListMutualsResponse(_message.Message):
    __slots__ = ("users", "next_page_token")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[UserSummary]
    next_page_token: str
    def __init__(self, users: _Optional[_Iterable[_Union[UserSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LikePostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class LikePostResponse(_message.Message):
    __slots__ = ("like_count",)
    LIKE_COUNT_FIELD_NUMBER: _ClassVar[int]
    like_count: int
    def __init__(self, like_count: _Optional[int] = ...) -> None: ...

class UnlikePostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class UnlikePostResponse(_message.Message):
    __slots__ = ("like_count",)
    LIKE_COUNT_FIELD_NUMBER: _ClassVar[int]
    like_count: int
    def __init__(self, like_count: _Optional[int] = ...) -> None: ...

class Comment(_message.Message):
    __slots__ = ("id", "post_id", "author_user_id", "author_handle", "text", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    post_id: str
    author_user_id: str
    author_handle: str
    text: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., post_id: _Optional[str] = ..., author_user_id: _Optional[str] = ..., author_handle: _Optional[str] = ..., text: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCommentRequest(_message.Message):
    __slots__ = ("post_id", "text")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    text: str
    def __init__(self, post_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class CreateCommentResponse(_message.Message):
    __slots__ = ("comment",)
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    comment: Comment
    def __init__(self, comment: _Optional[_Union[Comment, _Mapping]] = ...) -> None: ...

class ListCommentsRequest(_message.Message):
    __slots__ = ("post_id", "page")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    page: _common_pb2.PageRequest
    def __init__(self, post_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListCommentsResponse(_message.Message):
    __slots__ = ("comments", "next_page_token")
    COMMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    comments: _containers.RepeatedCompositeFieldContainer[Comment]
    next_page_token: str
    def __init__(self, comments: _Optional[_Iterable[_Union[Comment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteCommentRequest(_message.Message):
    __slots__ = ("comment_id",)
    COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    comment_id: str
    def __init__(self, comment_id: _Optional[str] = ...) -> None: ...

class DeleteCommentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SeeLessRequest(_message.Message):
    __slots__ = ("post_id", "note")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    note: str
    def __init__(self, post_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class SeeLessResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReportPostRequest(_message.Message):
    __slots__ = ("post_id", "reason", "details")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    reason: ReportReason
    details: str
    def __init__(self, post_id: _Optional[str] = ..., reason: _Optional[_Union[ReportReason, str]] = ..., details: _Optional[str] = ...) -> None: ...

class ReportPostResponse(_message.Message):
    __slots__ = ("report_id",)
    REPORT_ID_FIELD_NUMBER: _ClassVar[int]
    report_id: str
    def __init__(self, report_id: _Optional[str] = ...) -> None: ...

class RemixNode(_message.Message):
    __slots__ = ("post", "children")
    POST_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    post: Post
    children: _containers.RepeatedCompositeFieldContainer[RemixNode]
    def __init__(self, post: _Optional[_Union[Post, _Mapping]] = ..., children: _Optional[_Iterable[_Union[RemixNode, _Mapping]]] = ...) -> None: ...

class GetRemixesRequest(_message.Message):
    __slots__ = ("post_id", "max_depth")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    max_depth: int
    def __init__(self, post_id: _Optional[str] = ..., max_depth: _Optional[int] = ...) -> None: ...

class GetRemixesResponse(_message.Message):
    __slots__ = ("root", "ancestors", "truncated")
    ROOT_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    root: RemixNode
    ancestors: _containers.RepeatedCompositeFieldContainer[Post]
    truncated: bool
    def __init__(self, root: _Optional[_Union[RemixNode, _Mapping]] = ..., ancestors: _Optional[_Iterable[_Union[Post, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class CanViewGenerationRequest(_message.Message):
    __slots__ = ("viewer_user_id", "generation_id")
    VIEWER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    viewer_user_id: str
    generation_id: str
    def __init__(self, viewer_user_id: _Optional[str] = ..., generation_id: _Optional[str] = ...) -> None: ...

class CanViewGenerationResponse(_message.Message):
    __slots__ = ("visible", "post_id")
    VISIBLE_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    visible: bool
    post_id: str
    def __init__(self, visible: _Optional[bool] = ..., post_id: _Optional[str] = ...) -> None: ...
