"""The one place where failures become HTTP responses. Every error leaves the
gateway as `{"error": {"code": ..., "message": ...}}`; gRPC statuses map to
HTTP statuses and the domain code comes from the `kinora-error-code` trailer."""

from __future__ import annotations

import grpc
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kinora.runtime.errors import KinoraError, error_code_of

HTTP_BY_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 412,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# Payment-style refusals read better as 402 than as a generic 429/412.
PAYMENT_CODES = {"insufficient_credits", "allowance_exhausted", "payment_declined", "credits_required"}


class ApiError(Exception):
    """Raised by gateway code for failures found before any service is called."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def from_rpc(err: grpc.RpcError) -> ApiError:
    status = err.code()
    code = error_code_of(err) or status.name.lower()
    message = err.details() or "a service failed"
    http = HTTP_BY_GRPC.get(status, 502)
    if code in PAYMENT_CODES:
        http = 402
    if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
        # Don't leak internals (addresses, stack traces) to the public.
        message = "a Kinora service is unavailable right now; try again shortly"
        code = "service_unavailable"
    headers = {"Retry-After": "1"} if http in (429, 503) else {}
    return ApiError(http, code, message, headers)


# OpenAI's error `type` for each HTTP status: the Videos API (`/v1/...`) answers in OpenAI's
# error shape, {"error": {"message", "type", "param", "code"}}, so the openai SDK reads it as its own.
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    412: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_body(status: int, code: str, message: str, param: str | None = None) -> dict:
    return {
        "error": {
            "message": message,
            "type": OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }


def _response(err: ApiError, request: Request | None = None) -> JSONResponse:
    if request is not None and request.url.path.startswith("/v1/"):
        body = openai_error_body(err.status, err.code, err.message)
    else:
        body = error_body(err.code, err.message)
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def install(app) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _response(exc, request)

    @app.exception_handler(grpc.RpcError)
    async def rpc_error(request: Request, exc: grpc.RpcError):
        return _response(from_rpc(exc), request)

    @app.exception_handler(KinoraError)
    async def kinora_error(request: Request, exc: KinoraError):
        return _response(ApiError(HTTP_BY_GRPC.get(exc.status, 500), exc.code, exc.message), request)

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(PydanticValidationError)  # models built by hand, e.g. from multipart forms
    async def validation_error(request: Request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form"))
        message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")
        return _response(ApiError(400, "invalid_request", message), request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _response(ApiError(exc.status_code, code, str(exc.detail)), request)
