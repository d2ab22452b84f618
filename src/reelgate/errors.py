"""Errors the service raises, independent of any dialect.

    ReelgateError
    └── ApiError(kind, message, param)       rendered by each dialect's one handler
        kinds: invalid_request, callback_url_empty, model_not_supported, url_not_allowed,
               unsupported_version, invalid_token, rate_limited, task_not_found,
               request_too_large, not_found, link_invalid,
               method_not_allowed, idempotency_mismatch, idempotency_in_flight,
               internal_error

A dialect decides the HTTP status and the wire code of each kind (CometAPI's `task_not_exist` is
HTTP 400, Runway's unknown task is 404); the service only says what went wrong.
"""

from __future__ import annotations

from enum import StrEnum


class ReelgateError(Exception):
    """Base of every error reelgate raises on purpose."""


class ErrorKind(StrEnum):
    INVALID_REQUEST = "invalid_request"
    CALLBACK_URL_EMPTY = "callback_url_empty"
    MODEL_NOT_SUPPORTED = "model_not_supported"
    URL_NOT_ALLOWED = "url_not_allowed"
    UNSUPPORTED_VERSION = "unsupported_version"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    RATE_LIMITED = "rate_limited"
    TASK_NOT_FOUND = "task_not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    NOT_FOUND = "not_found"
    LINK_INVALID = "link_invalid"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    IDEMPOTENCY_IN_FLIGHT = "idempotency_in_flight"
    INTERNAL = "internal_error"


class ApiError(ReelgateError):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        param: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        self.retry_after_seconds = retry_after_seconds


def invalid(param: str, message: str) -> ApiError:
    """An `invalid_request` naming the field path, e.g. `options.motion_vector.r`."""
    return ApiError(ErrorKind.INVALID_REQUEST, f"{param}: {message}", param=param)
