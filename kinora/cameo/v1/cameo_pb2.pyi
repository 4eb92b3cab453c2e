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

class CameoKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMEO_KIND_UNSPECIFIED: _ClassVar[CameoKind]
    CAMEO_KIND_PERSON: _ClassVar[CameoKind]
    CAMEO_KIND_CHARACTER: _ClassVar[CameoKind]

class CameoStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMEO_STATUS_UNSPECIFIED: _ClassVar[CameoStatus]
    CAMEO_STATUS_ACTIVE: _ClassVar[CameoStatus]
    CAMEO_STATUS_DELETED: _ClassVar[CameoStatus]

class ApprovalStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_STATUS_UNSPECIFIED: _ClassVar[ApprovalStatus]
    APPROVAL_STATUS_PENDING: _ClassVar[ApprovalStatus]
    APPROVAL_STATUS_APPROVED: _ClassVar[ApprovalStatus]
    APPROVAL_STATUS_DENIED: _ClassVar[ApprovalStatus]
    APPROVAL_STATUS_REMOVED: _ClassVar[ApprovalStatus]

class DecisionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_REASON_UNSPECIFIED: _ClassVar[DecisionReason]
    DECISION_REASON_ALLOWED_OWNER: _ClassVar[DecisionReason]
    DECISION_REASON_ALLOWED_APPROVED: _ClassVar[DecisionReason]
    DECISION_REASON_ALLOWED_MUTUAL: _ClassVar[DecisionReason]
    DECISION_REASON_ALLOWED_EVERYONE: _ClassVar[DecisionReason]
    DECISION_REASON_NOT_PERMITTED: _ClassVar[DecisionReason]
    DECISION_REASON_BLOCKED: _ClassVar[DecisionReason]
    DECISION_REASON_RESTRICTION_CONFLICT: _ClassVar[DecisionReason]
    DECISION_REASON_TEEN_PROTECTION: _ClassVar[DecisionReason]
    DECISION_REASON_NOT_VERIFIED: _ClassVar[DecisionReason]
    DECISION_REASON_CAMEO_NOT_FOUND: _ClassVar[DecisionReason]

class UsePurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USE_PURPOSE_UNSPECIFIED: _ClassVar[UsePurpose]
    USE_PURPOSE_GENERATE: _ClassVar[UsePurpose]
    USE_PURPOSE_PUBLISH: _ClassVar[UsePurpose]

class AppearanceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPEARANCE_KIND_UNSPECIFIED: _ClassVar[AppearanceKind]
    APPEARANCE_KIND_GENERATION: _ClassVar[AppearanceKind]
    APPEARANCE_KIND_DRAFT: _ClassVar[AppearanceKind]
    APPEARANCE_KIND_POST: _ClassVar[AppearanceKind]

class AppearanceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPEARANCE_STATE_UNSPECIFIED: _ClassVar[AppearanceState]
    APPEARANCE_STATE_ACTIVE: _ClassVar[AppearanceState]
    APPEARANCE_STATE_TAKEDOWN_REQUESTED: _ClassVar[AppearanceState]
    APPEARANCE_STATE_REMOVED: _ClassVar[AppearanceState]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_CAMEO_USED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_APPROVAL_REQUESTED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_APPROVAL_DECIDED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_CAMEO_POSTED: _ClassVar[NotificationKind]

class AuditAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_ACTION_UNSPECIFIED: _ClassVar[AuditAction]
    AUDIT_ACTION_CAMEO_CREATED: _ClassVar[AuditAction]
    AUDIT_ACTION_POLICY_CHANGED: _ClassVar[AuditAction]
    AUDIT_ACTION_APPROVAL_REQUESTED: _ClassVar[AuditAction]
    AUDIT_ACTION_APPROVED: _ClassVar[AuditAction]
    AUDIT_ACTION_DENIED: _ClassVar[AuditAction]
    AUDIT_ACTION_APPROVAL_REMOVED: _ClassVar[AuditAction]
    AUDIT_ACTION_BLOCKED: _ClassVar[AuditAction]
    AUDIT_ACTION_UNBLOCKED: _ClassVar[AuditAction]
    AUDIT_ACTION_RESTRICTION_ADDED: _ClassVar[AuditAction]
    AUDIT_ACTION_RESTRICTION_REMOVED: _ClassVar[AuditAction]
    AUDIT_ACTION_ACCESS_REVOKED: _ClassVar[AuditAction]
    AUDIT_ACTION_TAKEDOWN_REQUESTED: _ClassVar[AuditAction]
    AUDIT_ACTION_CAMEO_DELETED: _ClassVar[AuditAction]
CAMEO_KIND_UNSPECIFIED: CameoKind
CAMEO_KIND_PERSON: CameoKind
CAMEO_KIND_CHARACTER: CameoKind
CAMEO_STATUS_UNSPECIFIED: CameoStatus
CAMEO_STATUS_ACTIVE: CameoStatus
CAMEO_STATUS_DELETED: CameoStatus
APPROVAL_STATUS_UNSPECIFIED: ApprovalStatus
APPROVAL_STATUS_PENDING: ApprovalStatus
APPROVAL_STATUS_APPROVED: ApprovalStatus
APPROVAL_STATUS_DENIED: ApprovalStatus
APPROVAL_STATUS_REMOVED: ApprovalStatus
DECISION_REASON_UNSPECIFIED: DecisionReason
DECISION_REASON_ALLOWED_OWNER: DecisionReason
DECISION_REASON_ALLOWED_APPROVED: DecisionReason
DECISION_REASON_ALLOWED_MUTUAL: DecisionReason
DECISION_REASON_ALLOWED_EVERYONE: DecisionReason
DECISION_REASON_NOT_PERMITTED: DecisionReason
DECISION_REASON_BLOCKED: DecisionReason
DECISION_REASON_RESTRICTION_CONFLICT: DecisionReason
DECISION_REASON_TEEN_PROTECTION: DecisionReason
DECISION_REASON_NOT_VERIFIED: DecisionReason
DECISION_REASON_CAMEO_NOT_FOUND: DecisionReason
USE_PURPOSE_UNSPECIFIED: UsePurpose
USE_PURPOSE_GENERATE: UsePurpose
USE_PURPOSE_PUBLISH: UsePurpose
APPEARANCE_KIND_UNSPECIFIED: AppearanceKind
APPEARANCE_KIND_GENERATION: AppearanceKind
APPEARANCE_KIND_DRAFT: AppearanceKind
APPEARANCE_KIND_POST: AppearanceKind
APPEARANCE_STATE_UNSPECIFIED: AppearanceState
APPEARANCE_STATE_ACTIVE: AppearanceState
APPEARANCE_STATE_TAKEDOWN_REQUESTED: AppearanceState
APPEARANCE_STATE_REMOVED: AppearanceState
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_CAMEO_USED: NotificationKind
NOTIFICATION_KIND_APPROVAL_REQUESTED: NotificationKind
NOTIFICATION_KIND_APPROVAL_DECIDED: NotificationKind
NOTIFICATION_KIND_CAMEO_POSTED: NotificationKind
AUDIT_ACTION_UNSPECIFIED: AuditAction
AUDIT_ACTION_CAMEO_CREATED: AuditAction
AUDIT_ACTION_POLICY_CHANGED: AuditAction
AUDIT_ACTION_APPROVAL_REQUESTED: AuditAction
AUDIT_ACTION_APPROVED: AuditAction
AUDIT_ACTION_DENIED: AuditAction
AUDIT_ACTION_APPROVAL_REMOVED: AuditAction
AUDIT_ACTION_BLOCKED: AuditAction
AUDIT_ACTION_UNBLOCKED: AuditAction
AUDIT_ACTION_RESTRICTION_ADDED: AuditAction
AUDIT_ACTION_RESTRICTION_REMOVED: AuditAction
AUDIT_ACTION_ACCESS_REVOKED: AuditAction
AUDIT_ACTION_TAKEDOWN_REQUESTED: AuditAction
AUDIT_ACTION_CAMEO_DELETED: AuditAction

class Cameo(_message.Message):
    __slots__ = ("id", "owner_user_id", "owner_handle", "display_name", "policy", "status", "owner_age_group", "max_policy", "verified_at", "created_at", "updated_at", "revision", "verified", "restriction_count", "kind", "handle", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_AGE_GROUP_FIELD_NUMBER: _ClassVar[int]
    MAX_POLICY_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    RESTRICTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner_user_id: str
    owner_handle: str
    display_name: str
    policy: _common_pb2.CameoPolicy
    status: CameoStatus
    owner_age_group: _common_pb2.AgeGroup
    max_policy: _common_pb2.CameoPolicy
    verified_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    revision: int
    verified: bool
    restriction_count: int
    kind: CameoKind
    handle: str
    description: str
    def __init__(self, id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., owner_handle: _Optional[str] = ..., display_name: _Optional[str] = ..., policy: _Optional[_Union[_common_pb2.CameoPolicy, str]] = ..., status: _Optional[_Union[CameoStatus, str]] = ..., owner_age_group: _Optional[_Union[_common_pb2.AgeGroup, str]] = ..., max_policy: _Optional[_Union[_common_pb2.CameoPolicy, str]] = ..., verified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revision: _Optional[int] = ..., verified: _Optional[bool] = ..., restriction_count: _Optional[int] = ..., kind: _Optional[_Union[CameoKind, str]] = ..., handle: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class GetCameoRequest(_message.Message):
    __slots__ = ("cameo_id", "owner_user_id", "owner_handle", "handle")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    owner_user_id: str
    owner_handle: str
    handle: str
    def __init__(self, cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., owner_handle: _Optional[str] = ..., handle: _Optional[str] = ...) -> None: ...

class GetCameoResponse(_message.Message):
    __slots__ = ("cameo",)
    CAMEO_FIELD_NUMBER: _ClassVar[int]
    cameo: Cameo
    def __init__(self, cameo: _Optional[_Union[Cameo, _Mapping]] = ...) -> None: ...

class ListCameosRequest(_message.Message):
    __slots__ = ("page", "usable_by_caller", "query", "owned_by_caller", "kind")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    USABLE_BY_CALLER_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OWNED_BY_CALLER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    usable_by_caller: bool
    query: str
    owned_by_caller: bool
    kind: CameoKind
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ..., usable_by_caller: _Optional[bool] = ..., query: _Optional[str] = ..., owned_by_caller: _Optional[bool] = ..., kind: _Optional[_Union[CameoKind, str]] = ...) -> None: ...

class ListCameosResponse(_message.Message):
    __slots__ = ("cameos", "next_page_token")
    CAMEOS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cameos: _containers.RepeatedCompositeFieldContainer[Cameo]
    next_page_token: str
    def __init__(self, cameos: _Optional[_Iterable[_Union[Cameo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCameoRequest(_message.Message):
    __slots__ = ("cameo_id", "display_name")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    display_name: str
    def __init__(self, cameo_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class UpdateCameoResponse(_message.Message):
    __slots__ = ("cameo",)
    CAMEO_FIELD_NUMBER: _ClassVar[int]
    cameo: Cameo
    def __init__(self, cameo: _Optional[_Union[Cameo, _Mapping]] = ...) -> None: ...

class DeleteCameoRequest(_message.Message):
    __slots__ = ("cameo_id", "takedown")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    takedown: bool
    def __init__(self, cameo_id: _Optional[str] = ..., takedown: _Optional[bool] = ...) -> None: ...

class DeleteCameoResponse(_message.Message):
    __slots__ = ("revision", "takedown_count")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_COUNT_FIELD_NUMBER: _ClassVar[int]
    revision: int
    takedown_count: int
    def __init__(self, revision: _Optional[int] = ..., takedown_count: _Optional[int] = ...) -> None: ...

class SetPolicyRequest(_message.Message):
    __slots__ = ("cameo_id", "policy")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    policy: _common_pb2.CameoPolicy
    def __init__(self, cameo_id: _Optional[str] = ..., policy: _Optional[_Union[_common_pb2.CameoPolicy, str]] = ...) -> None: ...

class SetPolicyResponse(_message.Message):
    __slots__ = ("cameo",)
    CAMEO_FIELD_NUMBER: _ClassVar[int]
    cameo: Cameo
    def __init__(self, cameo: _Optional[_Union[Cameo, _Mapping]] = ...) -> None: ...

class Approval(_message.Message):
    __slots__ = ("id", "cameo_id", "user_id", "user_handle", "status", "message", "requested_at", "decided_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    cameo_id: str
    user_id: str
    user_handle: str
    status: ApprovalStatus
    message: str
    requested_at: _timestamp_pb2.Timestamp
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ..., user_handle: _Optional[str] = ..., status: _Optional[_Union[ApprovalStatus, str]] = ..., message: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RequestApprovalRequest(_message.Message):
    __slots__ = ("cameo_id", "message")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    message: str
    def __init__(self, cameo_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RequestApprovalResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: Approval
    def __init__(self, approval: _Optional[_Union[Approval, _Mapping]] = ...) -> None: ...

class ApproveRequest(_message.Message):
    __slots__ = ("cameo_id", "user_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ApproveResponse(_message.Message):
    __slots__ = ("approval", "revision")
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    approval: Approval
    revision: int
    def __init__(self, approval: _Optional[_Union[Approval, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class DenyRequest(_message.Message):
    __slots__ = ("cameo_id", "user_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class DenyResponse(_message.Message):
    __slots__ = ("approval", "revision")
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    approval: Approval
    revision: int
    def __init__(self, approval: _Optional[_Union[Approval, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class RemoveApprovalRequest(_message.Message):
    __slots__ = ("cameo_id", "user_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class RemoveApprovalResponse(_message.Message):
    __slots__ = ("approval", "revision")
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    approval: Approval
    revision: int
    def __init__(self, approval: _Optional[_Union[Approval, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ListApprovalsRequest(_message.Message):
    __slots__ = ("cameo_id", "status", "page")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    status: ApprovalStatus
    page: _common_pb2.PageRequest
    def __init__(self, cameo_id: _Optional[str] = ..., status: _Optional[_Union[ApprovalStatus, str]] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListApprovalsResponse(_message.Message):
    __slots__ = ("approvals", "next_page_token")
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    next_page_token: str
    def __init__(self, approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BlockedUser(_message.Message):
    __slots__ = ("cameo_id", "user_id", "user_handle", "blocked_at")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_AT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    user_handle: str
    blocked_at: _timestamp_pb2.Timestamp
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ..., user_handle: _Optional[str] = ..., blocked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BlockUserRequest(_message.Message):
    __slots__ = ("cameo_id", "user_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class BlockUserResponse(_message.Message):
    __slots__ = ("blocked", "revision")
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    blocked: BlockedUser
    revision: int
    def __init__(self, blocked: _Optional[_Union[BlockedUser, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class UnblockUserRequest(_message.Message):
    __slots__ = ("cameo_id", "user_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class UnblockUserResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class ListBlockedUsersRequest(_message.Message):
    __slots__ = ("cameo_id", "page")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    page: _common_pb2.PageRequest
    def __init__(self, cameo_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListBlockedUsersResponse(_message.Message):
    __slots__ = ("blocked", "next_page_token")
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    blocked: _containers.RepeatedCompositeFieldContainer[BlockedUser]
    next_page_token: str
    def __init__(self, blocked: _Optional[_Iterable[_Union[BlockedUser, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Restriction(_message.Message):
    __slots__ = ("id", "cameo_id", "text", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    cameo_id: str
    text: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., cameo_id: _Optional[str] = ..., text: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddRestrictionRequest(_message.Message):
    __slots__ = ("cameo_id", "text")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    text: str
    def __init__(self, cameo_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class AddRestrictionResponse(_message.Message):
    __slots__ = ("restriction", "revision")
    RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    restriction: Restriction
    revision: int
    def __init__(self, restriction: _Optional[_Union[Restriction, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...

class ListRestrictionsRequest(_message.Message):
    __slots__ = ("cameo_id",)
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    def __init__(self, cameo_id: _Optional[str] = ...) -> None: ...

class ListRestrictionsResponse(_message.Message):
    __slots__ = ("restrictions",)
    RESTRICTIONS_FIELD_NUMBER: _ClassVar[int]
    restrictions: _containers.RepeatedCompositeFieldContainer[Restriction]
    def __init__(self, restrictions: _Optional[_Iterable[_Union[Restriction, _Mapping]]] = ...) -> None: ...

class RemoveRestrictionRequest(_message.Message):
    __slots__ = ("cameo_id", "restriction_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    RESTRICTION_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    restriction_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., restriction_id: _Optional[str] = ...) -> None: ...

class RemoveRestrictionResponse(_message.Message):
    __slots__ = ("revision",)
    REVISION_FIELD_NUMBER: _ClassVar[int]
    revision: int
    def __init__(self, revision: _Optional[int] = ...) -> None: ...

class CameoDecision(_message.Message):
    __slots__ = ("cameo_id", "allowed", "reason", "message", "conflicting_restriction", "revision", "owner_user_id")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    allowed: bool
    reason: DecisionReason
    message: str
    conflicting_restriction: Restriction
    revision: int
    owner_user_id: str
    def __init__(self, cameo_id: _Optional[str] = ..., allowed: _Optional[bool] = ..., reason: _Optional[_Union[DecisionReason, str]] = ..., message: _Optional[str] = ..., conflicting_restriction: _Optional[_Union[Restriction, _Mapping]] = ..., revision: _Optional[int] = ..., owner_user_id: _Optional[str] = ...) -> None: ...

class CheckUseRequest(_message.Message):
    __slots__ = ("requester_user_id", "cameo_ids", "prompt", "purpose", "generation_id")
    REQUESTER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_IDS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    requester_user_id: str
    cameo_ids: _containers.RepeatedScalarFieldContainer[str]
    prompt: str
    purpose: UsePurpose
    generation_id: str
    def __init__(self, requester_user_id: _Optional[str] = ..., cameo_ids: _Optional[_Iterable[str]] = ..., prompt: _Optional[str] = ..., purpose: _Optional[_Union[UsePurpose, str]] = ..., generation_id: _Optional[str] = ...) -> None: ...

class CheckUseResponse(_message.Message):
    __slots__ = ("decisions", "all_allowed")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    ALL_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[CameoDecision]
    all_allowed: bool
    def __init__(self, decisions: _Optional[_Iterable[_Union[CameoDecision, _Mapping]]] = ..., all_allowed: _Optional[bool] = ...) -> None: ...

class BatchCheckUseRequest(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[CheckUseRequest]
    def __init__(self, checks: _Optional[_Iterable[_Union[CheckUseRequest, _Mapping]]] = ...) -> None: ...

class BatchCheckUseResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CheckUseResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CheckUseResult, _Mapping]]] = ...) -> None: ...

class CheckUseResult(_message.Message):
    __slots__ = ("response", "error", "status")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    response: CheckUseResponse
    error: _common_pb2.Error
    status: int
    def __init__(self, response: _Optional[_Union[CheckUseResponse, _Mapping]] = ..., error: _Optional[_Union[_common_pb2.Error, _Mapping]] = ..., status: _Optional[int] = ...) -> None: ...

class RevokeAccessRequest(_message.Message):
    __slots__ = ("cameo_id", "user_id", "takedown")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    user_id: str
    takedown: bool
    def __init__(self, cameo_id: _Optional[str] = ..., user_id: _Optional[str] = ..., takedown: _Optional[bool] = ...) -> None: ...

class RevokeAccessResponse(_message.Message):
    __slots__ = ("revision", "takedown_count")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TAKEDOWN_COUNT_FIELD_NUMBER: _ClassVar[int]
    revision: int
    takedown_count: int
    def __init__(self, revision: _Optional[int] = ..., takedown_count: _Optional[int] = ...) -> None: ...

class Appearance(_message.Message):
    __slots__ = ("id", "cameo_id", "kind", "state", "generation_id", "post_id", "creator_user_id", "creator_handle", "prompt", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    cameo_id: str
    kind: AppearanceKind
    state: AppearanceState
    generation_id: str
    post_id: str
    creator_user_id: str
    creator_handle: str
    prompt: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., cameo_id: _Optional[str] = ..., kind: _Optional[_Union[AppearanceKind, str]] = ..., state: _Optional[_Union[AppearanceState, str]] = ..., generation_id: _Optional[str] = ..., post_id: _Optional[str] = ..., creator_user_id: _Optional[str] = ..., creator_handle: _Optional[str] = ..., prompt: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAppearancesRequest(_message.Message):
    __slots__ = ("cameo_id", "kind", "include_removed", "page")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REMOVED_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    kind: AppearanceKind
    include_removed: bool
    page: _common_pb2.PageRequest
    def __init__(self, cameo_id: _Optional[str] = ..., kind: _Optional[_Union[AppearanceKind, str]] = ..., include_removed: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAppearancesResponse(_message.Message):
    __slots__ = ("appearances", "next_page_token")
    APPEARANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    appearances: _containers.RepeatedCompositeFieldContainer[Appearance]
    next_page_token: str
    def __init__(self, appearances: _Optional[_Iterable[_Union[Appearance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteAppearanceRequest(_message.Message):
    __slots__ = ("appearance_id",)
    APPEARANCE_ID_FIELD_NUMBER: _ClassVar[int]
    appearance_id: str
    def __init__(self, appearance_id: _Optional[str] = ...) -> None: ...

class DeleteAppearanceResponse(_message.Message):
    __slots__ = ("appearance",)
    APPEARANCE_FIELD_NUMBER: _ClassVar[int]
    appearance: Appearance
    def __init__(self, appearance: _Optional[_Union[Appearance, _Mapping]] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "user_id", "kind", "cameo_id", "actor_user_id", "actor_handle", "generation_id", "post_id", "message", "read", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_HANDLE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    READ_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    kind: NotificationKind
    cameo_id: str
    actor_user_id: str
    actor_handle: str
    generation_id: str
    post_id: str
    message: str
    read: bool
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., kind: _Optional[_Union[NotificationKind, str]] = ..., cameo_id: _Optional[str] = ..., actor_user_id: _Optional[str] = ..., actor_handle: _Optional[str] = ..., generation_id: _Optional[str] = ..., post_id: _Optional[str] = ..., message: _Optional[str] = ..., read: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("unread_only", "page")
    UNREAD_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    unread_only: bool
    page: _common_pb2.PageRequest
    def __init__(self, unread_only: _Optional[bool] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications", "next_page_token", "unread_count")
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    UNREAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    next_page_token: str
    unread_count: int
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., unread_count: _Optional[int] = ...) -> None: ...

class MarkNotificationsReadRequest(_message.Message):
    __slots__ = ("notification_ids",)
    NOTIFICATION_IDS_FIELD_NUMBER: _ClassVar[int]
    notification_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, notification_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class MarkNotificationsReadResponse(_message.Message):
    __slots__ = ("marked",)
    MARKED_FIELD_NUMBER: _ClassVar[int]
    marked: int
    def __init__(self, marked: _Optional[int] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("id", "cameo_id", "action", "actor_user_id", "subject_user_id", "detail_json", "revision", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_USER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_USER_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_JSON_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    cameo_id: str
    action: AuditAction
    actor_user_id: str
    subject_user_id: str
    detail_json: str
    revision: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., cameo_id: _Optional[str] = ..., action: _Optional[_Union[AuditAction, str]] = ..., actor_user_id: _Optional[str] = ..., subject_user_id: _Optional[str] = ..., detail_json: _Optional[str] = ..., revision: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAuditLogRequest(_message.Message):
    __slots__ = ("cameo_id", "page")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    page: _common_pb2.PageRequest
    def __init__(self, cameo_id: _Optional[str] = ..., page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListAuditLogResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetLikenessRequest(_message.Message):
    __slots__ = ("cameo_id",)
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    def __init__(self, cameo_id: _Optional[str] = ...) -> None: ...

class GetLikenessResponse(_message.Message):
    __slots__ = ("cameo_id", "owner_user_id", "owner_handle", "display_name", "likeness", "kind", "description", "reference_pngs")
    CAMEO_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LIKENESS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PNGS_FIELD_NUMBER: _ClassVar[int]
    cameo_id: str
    owner_user_id: str
    owner_handle: str
    display_name: str
    likeness: _common_pb2.LikenessAssets
    kind: CameoKind
    description: str
    reference_pngs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, cameo_id: _Optional[str] = ..., owner_user_id: _Optional[str] = ..., owner_handle: _Optional[str] = ..., display_name: _Optional[str] = ..., likeness: _Optional[_Union[_common_pb2.LikenessAssets, _Mapping]] = ..., kind: _Optional[_Union[CameoKind, str]] = ..., description: _Optional[str] = ..., reference_pngs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class CreateCharacterRequest(_message.Message):
    __slots__ = ("name", "handle", "description", "media", "content_type", "filename")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    handle: str
    description: str
    media: bytes
    content_type: str
    filename: str
    def __init__(self, name: _Optional[str] = ..., handle: _Optional[str] = ..., description: _Optional[str] = ..., media: _Optional[bytes] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class CreateCharacterResponse(_message.Message):
    __slots__ = ("cameo",)
    CAMEO_FIELD_NUMBER: _ClassVar[int]
    cameo: Cameo
    def __init__(self, cameo: _Optional[_Union[Cameo, _Mapping]] = ...) -> None: ...
