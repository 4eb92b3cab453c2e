from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_UNSPECIFIED: _ClassVar[Tier]
    TIER_FREE: _ClassVar[Tier]
    TIER_PAID: _ClassVar[Tier]
    TIER_PRO: _ClassVar[Tier]

class CameoPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMEO_POLICY_UNSPECIFIED: _ClassVar[CameoPolicy]
    CAMEO_POLICY_ONLY_ME: _ClassVar[CameoPolicy]
    CAMEO_POLICY_APPROVED: _ClassVar[CameoPolicy]
    CAMEO_POLICY_MUTUALS: _ClassVar[CameoPolicy]
    CAMEO_POLICY_EVERYONE: _ClassVar[CameoPolicy]

class AgeGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGE_GROUP_UNSPECIFIED: _ClassVar[AgeGroup]
    AGE_GROUP_ADULT: _ClassVar[AgeGroup]
    AGE_GROUP_TEEN: _ClassVar[AgeGroup]

class SortOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SORT_ORDER_UNSPECIFIED: _ClassVar[SortOrder]
    SORT_ORDER_DESC: _ClassVar[SortOrder]
    SORT_ORDER_ASC: _ClassVar[SortOrder]
TIER_UNSPECIFIED: Tier
TIER_FREE: Tier
TIER_PAID: Tier
TIER_PRO: Tier
CAMEO_POLICY_UNSPECIFIED: CameoPolicy
CAMEO_POLICY_ONLY_ME: CameoPolicy
CAMEO_POLICY_APPROVED: CameoPolicy
CAMEO_POLICY_MUTUALS: CameoPolicy
CAMEO_POLICY_EVERYONE: CameoPolicy
AGE_GROUP_UNSPECIFIED: AgeGroup
AGE_GROUP_ADULT: AgeGroup
AGE_GROUP_TEEN: AgeGroup
SORT_ORDER_UNSPECIFIED: SortOrder
SORT_ORDER_DESC: SortOrder
SORT_ORDER_ASC: SortOrder

class PageRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class BlobRef(_message.Message):
    __slots__ = ("key", "content_type", "size_bytes", "sha256")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    key: str
    content_type: str
    size_bytes: int
    sha256: str
    def __init__(self, key: _Optional[str] = ..., content_type: _Optional[str] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class LikenessAssets(_message.Message):
    __slots__ = ("face_crops", "voice_profile")
    FACE_CROPS_FIELD_NUMBER: _ClassVar[int]
    VOICE_PROFILE_FIELD_NUMBER: _ClassVar[int]
    face_crops: _containers.RepeatedCompositeFieldContainer[BlobRef]
    voice_profile: BlobRef
    def __init__(self, face_crops: _Optional[_Iterable[_Union[BlobRef, _Mapping]]] = ..., voice_profile: _Optional[_Union[BlobRef, _Mapping]] = ...) -> None: ...
