"""Errors on the CometAPI routes: HTTP status plus `{"code", "message", "data": null}`
(CONTRACT.md 1.1)."""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from reelgate.api.errors import retry_headers
from reelgate.api.wire import first_validation_error, json_response
from reelgate.errors import ApiError, ErrorKind

PREFIX = "/runway/"


class CometApiRenderer:
    _CODES: ClassVar[dict[ErrorKind, tuple[int, str]]] = {
        ErrorKind.INVALID_REQUEST: (400, "invalid_request"),
        ErrorKind.UNSUPPORTED_VERSION: (400, "invalid_request"),
        ErrorKind.CALLBACK_URL_EMPTY: (400, "callback_url_empty"),
        ErrorKind.MODEL_NOT_SUPPORTED: (400, "model_not_supported"),
        ErrorKind.URL_NOT_ALLOWED: (400, "url_not_allowed"),
        ErrorKind.TASK_NOT_FOUND: (400, "task_not_exist"),
        ErrorKind.INVALID_TOKEN: (401, "invalid_token"),
        ErrorKind.LINK_INVALID: (403, "forbidden"),
        ErrorKind.NOT_FOUND: (404, "not_found"),
        ErrorKind.METHOD_NOT_ALLOWED: (405, "method_not_allowed"),
        ErrorKind.IDEMPOTENCY_IN_FLIGHT: (409, "idempotency_key_in_use"),
        ErrorKind.IDEMPOTENCY_MISMATCH: (422, "idempotency_key_reused"),
        ErrorKind.REQUEST_TOO_LARGE: (413, "request_too_large"),
        ErrorKind.RATE_LIMITED: (429, "rate_limited"),
        ErrorKind.INTERNAL: (500, "internal_error"),
    }

    def render(self, err: ApiError, rid: str) -> Response:
        status, code = self._CODES[err.kind]
        body = {"code": code, "message": f"{err.message} (request id: {rid})", "data": None}
        return json_response(body, status, retry_headers(err))

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError:
        if request.url.path.endswith("/generate") and _callback_missing(exc.body):
            return ApiError(
                ErrorKind.CALLBACK_URL_EMPTY, "callback_url is required", param="callback_url"
            )
        return first_validation_error(exc)


def _callback_missing(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    value = body.get("callback_url")
    return value is None or (isinstance(value, str) and not value.strip())
