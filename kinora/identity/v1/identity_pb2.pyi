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

class GuardianRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUARDIAN_ROLE_UNSPECIFIED: _ClassVar[GuardianRole]
    GUARDIAN_ROLE_GUARDIAN: _ClassVar[GuardianRole]
    GUARDIAN_ROLE_TEEN: _ClassVar[GuardianRole]

class GuardianLinkStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUARDIAN_LINK_STATUS_UNSPECIFIED: _ClassVar[GuardianLinkStatus]
    GUARDIAN_LINK_STATUS_PENDING: _ClassVar[GuardianLinkStatus]
    GUARDIAN_LINK_STATUS_ACTIVE: _ClassVar[GuardianLinkStatus]
    GUARDIAN_LINK_STATUS_UNLINKED: _ClassVar[GuardianLinkStatus]
    GUARDIAN_LINK_STATUS_EXPIRED: _ClassVar[GuardianLinkStatus]
    GUARDIAN_LINK_STATUS_AWAITING_APPROVAL: _ClassVar[GuardianLinkStatus]

class HeadTurn(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HEAD_TURN_UNSPECIFIED: _ClassVar[HeadTurn]
    HEAD_TURN_LEFT: _ClassVar[HeadTurn]
    HEAD_TURN_RIGHT: _ClassVar[HeadTurn]
    HEAD_TURN_UP: _ClassVar[HeadTurn]
    HEAD_TURN_DOWN: _ClassVar[HeadTurn]

class VerificationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_STATUS_UNSPECIFIED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_PENDING: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_PASSED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_FAILED: _ClassVar[VerificationStatus]
    VERIFICATION_STATUS_EXPIRED: _ClassVar[VerificationStatus]

class VerificationCheckKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_CHECK_KIND_UNSPECIFIED: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_MEDIA: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_NONCE: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_FACE: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_HEAD_TURNS: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_SPEECH_PRESENT: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_SPOKEN_DIGITS: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_LIVE_MOTION: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_LIP_SYNC: _ClassVar[VerificationCheckKind]
    VERIFICATION_CHECK_KIND_UNIQUE: _ClassVar[VerificationCheckKind]
GUARDIAN_ROLE_UNSPECIFIED: GuardianRole
GUARDIAN_ROLE_GUARDIAN: GuardianRole
GUARDIAN_ROLE_TEEN: GuardianRole
GUARDIAN_LINK_STATUS_UNSPECIFIED: GuardianLinkStatus
GUARDIAN_LINK_STATUS_PENDING: GuardianLinkStatus
GUARDIAN_LINK_STATUS_ACTIVE: GuardianLinkStatus
GUARDIAN_LINK_STATUS_UNLINKED: GuardianLinkStatus
GUARDIAN_LINK_STATUS_EXPIRED: GuardianLinkStatus
GUARDIAN_LINK_STATUS_AWAITING_APPROVAL: GuardianLinkStatus
HEAD_TURN_UNSPECIFIED: HeadTurn
HEAD_TURN_LEFT: HeadTurn
HEAD_TURN_RIGHT: HeadTurn
HEAD_TURN_UP: HeadTurn
HEAD_TURN_DOWN: HeadTurn
VERIFICATION_STATUS_UNSPECIFIED: VerificationStatus
VERIFICATION_STATUS_PENDING: VerificationStatus
VERIFICATION_STATUS_PASSED: VerificationStatus
VERIFICATION_STATUS_FAILED: VerificationStatus
VERIFICATION_STATUS_EXPIRED: VerificationStatus
VERIFICATION_CHECK_KIND_UNSPECIFIED: VerificationCheckKind
VERIFICATION_CHECK_KIND_MEDIA: VerificationCheckKind
VERIFICATION_CHECK_KIND_NONCE: VerificationCheckKind
VERIFICATION_CHECK_KIND_FACE: VerificationCheckKind
VERIFICATION_CHECK_KIND_HEAD_TURNS: VerificationCheckKind
VERIFICATION_CHECK_KIND_SPEECH_PRESENT: VerificationCheckKind
VERIFICATION_CHECK_KIND_SPOKEN_DIGITS: VerificationCheckKind
VERIFICATION_CHECK_KIND_LIVE_MOTION: VerificationCheckKind
VERIFICATION_CHECK_KIND_LIP_SYNC: VerificationCheckKind
VERIFICATION_CHECK_KIND_UNIQUE: VerificationCheckKind

class User(_message.Message):
    __slots__ = ("id", "handle", "display_name", "region", "age_group", "cameo_verified", "created_at", "updated_at", "guardian_user_id", "invites_remaining")
    ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    AGE_GROUP_FIELD_NUMBER: _ClassVar[int]
    CAMEO_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    INVITES_REMAINING_FIELD_NUMBER: _ClassVar[int]
    id: str
    handle: str
    display_name: str
    region: str
    age_group: _common_pb2.AgeGroup
    cameo_verified: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    guardian_user_id: str
    invites_remaining: int
    def __init__(self, id: _Optional[str] = ..., handle: _Optional[str] = ..., display_name: _Optional[str] = ..., region: _Optional[str] = ..., age_group: _Optional[_Union[_common_pb2.AgeGroup, str]] = ..., cameo_verified: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., guardian_user_id: _Optional[str] = ..., invites_remaining: _Optional[int] = ...) -> None: ...

class TokenPair(_message.Message):
    __slots__ = ("access_token", "access_token_expires_at", "refresh_token", "refresh_token_expires_at")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    access_token_expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_token_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, access_token: _Optional[str] = ..., access_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_token_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignUpRequest(_message.Message):
    __slots__ = ("invite_code", "handle", "password", "birthdate", "region", "display_name", "client_address")
    INVITE_CODE_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    BIRTHDATE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    invite_code: str
    handle: str
    password: str
    birthdate: str
    region: str
    display_name: str
    client_address: str
    def __init__(self, invite_code: _Optional[str] = ..., handle: _Optional[str] = ..., password: _Optional[str] = ..., birthdate: _Optional[str] = ..., region: _Optional[str] = ..., display_name: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class SignUpResponse(_message.Message):
    __slots__ = ("user", "tokens")
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    user: User
    tokens: TokenPair
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., tokens: _Optional[_Union[TokenPair, _Mapping]] = ...) -> None: ...

class SignInRequest(_message.Message):
    __slots__ = ("handle", "password", "client_address")
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    handle: str
    password: str
    client_address: str
    def __init__(self, handle: _Optional[str] = ..., password: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class SignInResponse(_message.Message):
    __slots__ = ("user", "tokens")
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    user: User
    tokens: TokenPair
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., tokens: _Optional[_Union[TokenPair, _Mapping]] = ...) -> None: ...

class RefreshTokensRequest(_message.Message):
    __slots__ = ("refresh_token", "client_address")
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    client_address: str
    def __init__(self, refresh_token: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RefreshTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: TokenPair
    def __init__(self, tokens: _Optional[_Union[TokenPair, _Mapping]] = ...) -> None: ...

class SignOutRequest(_message.Message):
    __slots__ = ("refresh_token", "all_sessions")
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ALL_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    all_sessions: bool
    def __init__(self, refresh_token: _Optional[str] = ..., all_sessions: _Optional[bool] = ...) -> None: ...

class SignOutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChangePasswordRequest(_message.Message):
    __slots__ = ("current_password", "new_password")
    CURRENT_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    current_password: str
    new_password: str
    def __init__(self, current_password: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ChangePasswordResponse(_message.Message):
    __slots__ = ("sessions_ended",)
    SESSIONS_ENDED_FIELD_NUMBER: _ClassVar[int]
    sessions_ended: int
    def __init__(self, sessions_ended: _Optional[int] = ...) -> None: ...

class DeleteAccountRequest(_message.Message):
    __slots__ = ("password",)
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    password: str
    def __init__(self, password: _Optional[str] = ...) -> None: ...

class DeleteAccountResponse(_message.Message):
    __slots__ = ("deleted_at",)
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    deleted_at: _timestamp_pb2.Timestamp
    def __init__(self, deleted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Jwk(_message.Message):
    __slots__ = ("kid", "kty", "alg", "use", "crv", "x", "y", "n", "e")
    KID_FIELD_NUMBER: _ClassVar[int]
    KTY_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    USE_FIELD_NUMBER: _ClassVar[int]
    CRV_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    E_FIELD_NUMBER: _ClassVar[int]
    kid: str
    kty: str
    alg: str
    use: str
    crv: str
    x: str
    y: str
    n: str
    e: str
    def __init__(self, kid: _Optional[str] = ..., kty: _Optional[str] = ..., alg: _Optional[str] = ..., use: _Optional[str] = ..., crv: _Optional[str] = ..., x: _Optional[str] = ..., y: _Optional[str] = ..., n: _Optional[str] = ..., e: _Optional[str] = ...) -> None: ...

class GetJwksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetJwksResponse(_message.Message):
    __slots__ = ("keys", "max_age_seconds")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[Jwk]
    max_age_seconds: int
    def __init__(self, keys: _Optional[_Iterable[_Union[Jwk, _Mapping]]] = ..., max_age_seconds: _Optional[int] = ...) -> None: ...

class ListRevokedSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRevokedSessionsResponse(_message.Message):
    __slots__ = ("session_ids", "max_age_seconds")
    SESSION_IDS_FIELD_NUMBER: _ClassVar[int]
    MAX_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    session_ids: _containers.RepeatedScalarFieldContainer[str]
    max_age_seconds: int
    def __init__(self, session_ids: _Optional[_Iterable[str]] = ..., max_age_seconds: _Optional[int] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class GetUserByHandleRequest(_message.Message):
    __slots__ = ("handle",)
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    handle: str
    def __init__(self, handle: _Optional[str] = ...) -> None: ...

class GetUserByHandleResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class BatchGetUsersRequest(_message.Message):
    __slots__ = ("user_ids",)
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetUsersResponse(_message.Message):
    __slots__ = ("users",)
    USERS_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ...) -> None: ...

class UpdateProfileRequest(_message.Message):
    __slots__ = ("display_name",)
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    def __init__(self, display_name: _Optional[str] = ...) -> None: ...

class UpdateProfileResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class Invite(_message.Message):
    __slots__ = ("code", "created_by_user_id", "created_at", "expires_at", "used_by_user_id", "used_at")
    CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    USED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    code: str
    created_by_user_id: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    used_by_user_id: str
    used_at: _timestamp_pb2.Timestamp
    def __init__(self, code: _Optional[str] = ..., created_by_user_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., used_by_user_id: _Optional[str] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateInviteRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateInviteResponse(_message.Message):
    __slots__ = ("invite",)
    INVITE_FIELD_NUMBER: _ClassVar[int]
    invite: Invite
    def __init__(self, invite: _Optional[_Union[Invite, _Mapping]] = ...) -> None: ...

class ListInvitesRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListInvitesResponse(_message.Message):
    __slots__ = ("invites", "next_page_token")
    INVITES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invites: _containers.RepeatedCompositeFieldContainer[Invite]
    next_page_token: str
    def __init__(self, invites: _Optional[_Iterable[_Union[Invite, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("id", "name", "prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    prefix: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., prefix: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("name", "scopes", "expires_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("api_key", "secret")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    secret: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("api_keys", "next_page_token")
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    next_page_token: str
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("api_key_id",)
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    def __init__(self, api_key_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class ApiKeyWebhook(_message.Message):
    __slots__ = ("api_key_id", "url", "secret", "updated_at")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    url: str
    secret: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, api_key_id: _Optional[str] = ..., url: _Optional[str] = ..., secret: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetApiKeyWebhookRequest(_message.Message):
    __slots__ = ("api_key_id", "url")
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    url: str
    def __init__(self, api_key_id: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class SetApiKeyWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: ApiKeyWebhook
    def __init__(self, webhook: _Optional[_Union[ApiKeyWebhook, _Mapping]] = ...) -> None: ...

class GetApiKeyWebhookRequest(_message.Message):
    __slots__ = ("api_key_id",)
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    def __init__(self, api_key_id: _Optional[str] = ...) -> None: ...

class GetApiKeyWebhookResponse(_message.Message):
    __slots__ = ("webhook",)
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    webhook: ApiKeyWebhook
    def __init__(self, webhook: _Optional[_Union[ApiKeyWebhook, _Mapping]] = ...) -> None: ...

class DeleteApiKeyWebhookRequest(_message.Message):
    __slots__ = ("api_key_id",)
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    api_key_id: str
    def __init__(self, api_key_id: _Optional[str] = ...) -> None: ...

class DeleteApiKeyWebhookResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class ExchangeApiKeyRequest(_message.Message):
    __slots__ = ("secret", "client_address")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    secret: str
    client_address: str
    def __init__(self, secret: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class ExchangeApiKeyResponse(_message.Message):
    __slots__ = ("access_token", "expires_at", "user_id", "api_key_id", "scopes")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    expires_at: _timestamp_pb2.Timestamp
    user_id: str
    api_key_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, access_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., user_id: _Optional[str] = ..., api_key_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class GuardianLink(_message.Message):
    __slots__ = ("id", "guardian_user_id", "teen_user_id", "status", "created_at", "confirmed_at", "unlinked_at", "unlinked_by_user_id", "approver_user_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEEN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_AT_FIELD_NUMBER: _ClassVar[int]
    UNLINKED_AT_FIELD_NUMBER: _ClassVar[int]
    UNLINKED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    guardian_user_id: str
    teen_user_id: str
    status: GuardianLinkStatus
    created_at: _timestamp_pb2.Timestamp
    confirmed_at: _timestamp_pb2.Timestamp
    unlinked_at: _timestamp_pb2.Timestamp
    unlinked_by_user_id: str
    approver_user_id: str
    def __init__(self, id: _Optional[str] = ..., guardian_user_id: _Optional[str] = ..., teen_user_id: _Optional[str] = ..., status: _Optional[_Union[GuardianLinkStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirmed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unlinked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unlinked_by_user_id: _Optional[str] = ..., approver_user_id: _Optional[str] = ...) -> None: ...

class StartGuardianLinkRequest(_message.Message):
    __slots__ = ("role",)
    ROLE_FIELD_NUMBER: _ClassVar[int]
    role: GuardianRole
    def __init__(self, role: _Optional[_Union[GuardianRole, str]] = ...) -> None: ...

class StartGuardianLinkResponse(_message.Message):
    __slots__ = ("link", "code", "code_expires_at")
    LINK_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CODE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    link: GuardianLink
    code: str
    code_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, link: _Optional[_Union[GuardianLink, _Mapping]] = ..., code: _Optional[str] = ..., code_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfirmGuardianLinkRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class ConfirmGuardianLinkResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: GuardianLink
    def __init__(self, link: _Optional[_Union[GuardianLink, _Mapping]] = ...) -> None: ...

class ApproveGuardianLinkRequest(_message.Message):
    __slots__ = ("link_id",)
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    def __init__(self, link_id: _Optional[str] = ...) -> None: ...

class ApproveGuardianLinkResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: GuardianLink
    def __init__(self, link: _Optional[_Union[GuardianLink, _Mapping]] = ...) -> None: ...

class UnlinkGuardianRequest(_message.Message):
    __slots__ = ("link_id", "reason")
    LINK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    link_id: str
    reason: str
    def __init__(self, link_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UnlinkGuardianResponse(_message.Message):
    __slots__ = ("link",)
    LINK_FIELD_NUMBER: _ClassVar[int]
    link: GuardianLink
    def __init__(self, link: _Optional[_Union[GuardianLink, _Mapping]] = ...) -> None: ...

class ListGuardianLinksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListGuardianLinksResponse(_message.Message):
    __slots__ = ("links",)
    LINKS_FIELD_NUMBER: _ClassVar[int]
    links: _containers.RepeatedCompositeFieldContainer[GuardianLink]
    def __init__(self, links: _Optional[_Iterable[_Union[GuardianLink, _Mapping]]] = ...) -> None: ...

class ParentalControls(_message.Message):
    __slots__ = ("daily_feed_item_cap", "non_personalized_feed", "max_cameo_policy", "updated_at", "updated_by_user_id")
    DAILY_FEED_ITEM_CAP_FIELD_NUMBER: _ClassVar[int]
    NON_PERSONALIZED_FEED_FIELD_NUMBER: _ClassVar[int]
    MAX_CAMEO_POLICY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_USER_ID_FIELD_NUMBER: _ClassVar[int]
    daily_feed_item_cap: int
    non_personalized_feed: bool
    max_cameo_policy: _common_pb2.CameoPolicy
    updated_at: _timestamp_pb2.Timestamp
    updated_by_user_id: str
    def __init__(self, daily_feed_item_cap: _Optional[int] = ..., non_personalized_feed: _Optional[bool] = ..., max_cameo_policy: _Optional[_Union[_common_pb2.CameoPolicy, str]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by_user_id: _Optional[str] = ...) -> None: ...

class SetParentalControlsRequest(_message.Message):
    __slots__ = ("teen_user_id", "controls")
    TEEN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    teen_user_id: str
    controls: ParentalControls
    def __init__(self, teen_user_id: _Optional[str] = ..., controls: _Optional[_Union[ParentalControls, _Mapping]] = ...) -> None: ...

class SetParentalControlsResponse(_message.Message):
    __slots__ = ("controls",)
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    controls: ParentalControls
    def __init__(self, controls: _Optional[_Union[ParentalControls, _Mapping]] = ...) -> None: ...

class GetParentalControlsRequest(_message.Message):
    __slots__ = ("teen_user_id",)
    TEEN_USER_ID_FIELD_NUMBER: _ClassVar[int]
    teen_user_id: str
    def __init__(self, teen_user_id: _Optional[str] = ...) -> None: ...

class GetParentalControlsResponse(_message.Message):
    __slots__ = ("controls",)
    CONTROLS_FIELD_NUMBER: _ClassVar[int]
    controls: ParentalControls
    def __init__(self, controls: _Optional[_Union[ParentalControls, _Mapping]] = ...) -> None: ...

class VerificationChallenge(_message.Message):
    __slots__ = ("digits", "head_turns", "nonce", "expires_at")
    DIGITS_FIELD_NUMBER: _ClassVar[int]
    HEAD_TURNS_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    digits: str
    head_turns: _containers.RepeatedScalarFieldContainer[HeadTurn]
    nonce: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, digits: _Optional[str] = ..., head_turns: _Optional[_Iterable[_Union[HeadTurn, str]]] = ..., nonce: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerificationCheck(_message.Message):
    __slots__ = ("kind", "passed", "reason", "observed", "evaluated", "name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    EVALUATED_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: VerificationCheckKind
    passed: bool
    reason: str
    observed: str
    evaluated: bool
    name: str
    def __init__(self, kind: _Optional[_Union[VerificationCheckKind, str]] = ..., passed: _Optional[bool] = ..., reason: _Optional[str] = ..., observed: _Optional[str] = ..., evaluated: _Optional[bool] = ..., name: _Optional[str] = ...) -> None: ...

class Verification(_message.Message):
    __slots__ = ("id", "user_id", "status", "challenge", "checks", "created_at", "completed_at", "likeness")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    LIKENESS_FIELD_NUMBER: _ClassVar[int]
    id: str
    user_id: str
    status: VerificationStatus
    challenge: VerificationChallenge
    checks: _containers.RepeatedCompositeFieldContainer[VerificationCheck]
    created_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    likeness: _common_pb2.LikenessAssets
    def __init__(self, id: _Optional[str] = ..., user_id: _Optional[str] = ..., status: _Optional[_Union[VerificationStatus, str]] = ..., challenge: _Optional[_Union[VerificationChallenge, _Mapping]] = ..., checks: _Optional[_Iterable[_Union[VerificationCheck, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., likeness: _Optional[_Union[_common_pb2.LikenessAssets, _Mapping]] = ...) -> None: ...

class StartVerificationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StartVerificationResponse(_message.Message):
    __slots__ = ("verification",)
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    verification: Verification
    def __init__(self, verification: _Optional[_Union[Verification, _Mapping]] = ...) -> None: ...

class SubmitVerificationRequest(_message.Message):
    __slots__ = ("verification_id", "nonce", "video", "content_type", "filename", "cameo_display_name", "latest_open_challenge")
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CAMEO_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    LATEST_OPEN_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    verification_id: str
    nonce: str
    video: bytes
    content_type: str
    filename: str
    cameo_display_name: str
    latest_open_challenge: bool
    def __init__(self, verification_id: _Optional[str] = ..., nonce: _Optional[str] = ..., video: _Optional[bytes] = ..., content_type: _Optional[str] = ..., filename: _Optional[str] = ..., cameo_display_name: _Optional[str] = ..., latest_open_challenge: _Optional[bool] = ...) -> None: ...

class SubmitVerificationResponse(_message.Message):
    __slots__ = ("verification",)
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    verification: Verification
    def __init__(self, verification: _Optional[_Union[Verification, _Mapping]] = ...) -> None: ...

class GetVerificationRequest(_message.Message):
    __slots__ = ("verification_id",)
    VERIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    verification_id: str
    def __init__(self, verification_id: _Optional[str] = ...) -> None: ...

class GetVerificationResponse(_message.Message):
    __slots__ = ("verification",)
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    verification: Verification
    def __init__(self, verification: _Optional[_Union[Verification, _Mapping]] = ...) -> None: ...

class MatchFacesRequest(_message.Message):
    __slots__ = ("embeddings",)
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, embeddings: _Optional[_Iterable[bytes]] = ...) -> None: ...

class FaceMatch(_message.Message):
    __slots__ = ("face_index", "user_id", "distance")
    FACE_INDEX_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    face_index: int
    user_id: str
    distance: float
    def __init__(self, face_index: _Optional[int] = ..., user_id: _Optional[str] = ..., distance: _Optional[float] = ...) -> None: ...

class MatchFacesResponse(_message.Message):
    __slots__ = ("matches",)
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[FaceMatch]
    def __init__(self, matches: _Optional[_Iterable[_Union[FaceMatch, _Mapping]]] = ...) -> None: ...
