"""Domain errors. Domain code raises these; the runtime turns them into gRPC
status codes (and the gateway into HTTP statuses) with the message intact.

`code` is a stable machine-readable reason ("prompt_too_long"); `message` is a
sentence for a person.
"""

from __future__ import annotations

from typing import cast

import grpc


class KinoraError(Exception):
    status = grpc.StatusCode.UNKNOWN
    default_code = "error"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class InvalidArgument(KinoraError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    default_code = "invalid_argument"


class NotFound(KinoraError):
    status = grpc.StatusCode.NOT_FOUND
    default_code = "not_found"


class AlreadyExists(KinoraError):
    status = grpc.StatusCode.ALREADY_EXISTS
    default_code = "already_exists"


class PermissionDenied(KinoraError):
    status = grpc.StatusCode.PERMISSION_DENIED
    default_code = "permission_denied"


class Unauthenticated(KinoraError):
    status = grpc.StatusCode.UNAUTHENTICATED
    default_code = "unauthenticated"


class FailedPrecondition(KinoraError):
    status = grpc.StatusCode.FAILED_PRECONDITION
    default_code = "failed_precondition"


class ResourceExhausted(KinoraError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_code = "resource_exhausted"


class Conflict(KinoraError):
    status = grpc.StatusCode.ABORTED
    default_code = "conflict"


class Unavailable(KinoraError):
    status = grpc.StatusCode.UNAVAILABLE
    default_code = "unavailable"


class DeadlineExceeded(KinoraError):
    status = grpc.StatusCode.DEADLINE_EXCEEDED
    default_code = "deadline_exceeded"


ERROR_CODE_KEY = "kinora-error-code"


def error_code_of(err: grpc.RpcError) -> str | None:
    """The domain code a server attached to a failed call, if any."""
    try:
        for item in err.trailing_metadata() or ():
            key, value = cast("tuple[str, str]", item)  # a (key, value) pair; grpc-stubs leave it opaque
            if key == ERROR_CODE_KEY:
                return value
    except Exception:  # not every RpcError carries metadata
        return None
    return None


_BY_STATUS = {
    cls.status: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        Unauthenticated,
        FailedPrecondition,
        ResourceExhausted,
        Conflict,
        Unavailable,
        DeadlineExceeded,
    )
}


def from_rpc_error(err: grpc.RpcError) -> KinoraError:
    """Rebuild the domain error a downstream service raised, so it can be
    passed on with its code and message (e.g. a consent refusal)."""
    cls = _BY_STATUS.get(err.code(), Unavailable)
    return cls(err.details() or "a downstream service failed", error_code_of(err))
