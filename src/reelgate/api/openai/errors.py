"""Errors on OpenAI's video routes (CONTRACT.md 3): `{"error": {"message", "type", "param",
"code"}}` with OpenAI's HTTP statuses, so the `openai` SDK raises its own exception classes
(`BadRequestError`, `AuthenticationError`, `NotFoundError`, `RateLimitError`, …).

Validation errors follow OpenAI's wording and codes: `missing_required_parameter`,
`unknown_parameter`, `invalid_type` and `invalid_value`, with the field in `param`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from reelgate.api.errors import retry_headers
from reelgate.api.wire import json_response, rename_param
from reelgate.errors import ApiError, ErrorKind

PREFIX = "/v1/videos"
# The service's field names in OpenAI's spelling.
FIELD_NAMES = {"image": "input_reference.image_url"}

# Where FastAPI says a parameter came from; OpenAI's `param` names only the parameter.
_SOURCES = frozenset({"body", "query", "path", "header"})


class OpenAIError(ApiError):
    """An `ApiError` that also carries OpenAI's short `code` (e.g. `invalid_value`)."""

    def __init__(
        self, kind: ErrorKind, message: str, *, code: str, param: str | None = None
    ) -> None:
        super().__init__(kind, message, param=param)
        self.code = code


class OpenAIRenderer:
    """HTTP status plus `{"error": {"message", "type", "param", "code"}}`."""

    _WIRE: ClassVar[dict[ErrorKind, tuple[int, str, str]]] = {
        ErrorKind.INVALID_REQUEST: (400, "invalid_request_error", "invalid_value"),
        ErrorKind.UNSUPPORTED_VERSION: (400, "invalid_request_error", "unsupported_version"),
        ErrorKind.CALLBACK_URL_EMPTY: (400, "invalid_request_error", "invalid_value"),
        ErrorKind.MODEL_NOT_SUPPORTED: (400, "invalid_request_error", "invalid_value"),
        ErrorKind.URL_NOT_ALLOWED: (400, "invalid_request_error", "url_not_allowed"),
        ErrorKind.INVALID_TOKEN: (401, "authentication_error", "invalid_api_key"),
        ErrorKind.LINK_INVALID: (403, "permission_error", "link_invalid"),
        ErrorKind.TASK_NOT_FOUND: (404, "not_found_error", "video_not_found"),
        ErrorKind.NOT_FOUND: (404, "not_found_error", "not_found"),
        ErrorKind.METHOD_NOT_ALLOWED: (405, "invalid_request_error", "method_not_allowed"),
        ErrorKind.IDEMPOTENCY_IN_FLIGHT: (409, "invalid_request_error", "idempotency_key_in_use"),
        ErrorKind.REQUEST_TOO_LARGE: (413, "invalid_request_error", "request_too_large"),
        ErrorKind.IDEMPOTENCY_MISMATCH: (422, "invalid_request_error", "idempotency_key_reused"),
        ErrorKind.RATE_LIMITED: (429, "rate_limit_error", "rate_limit_exceeded"),
        ErrorKind.INTERNAL: (500, "server_error", "internal_error"),
    }

    def render(self, err: ApiError, rid: str) -> Response:
        status, error_type, code = self._WIRE[err.kind]
        if isinstance(err, OpenAIError):
            code = err.code
        param, message = rename_param(err, FIELD_NAMES)
        if err.kind is ErrorKind.TASK_NOT_FOUND:
            param = None  # the service names the id `task_id`; OpenAI's 404s name no parameter
        body = {
            "error": {
                "message": f"{message} (request id: {rid})",
                "type": error_type,
                "param": param,
                "code": code,
            }
        }
        return json_response(body, status, retry_headers(err))

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError:
        return validation_error(exc.errors())


def validation_error(errors: Sequence[Mapping[str, Any]]) -> OpenAIError:
    """The first of pydantic's (or FastAPI's) errors, worded and coded as OpenAI does."""
    if not errors:
        return OpenAIError(
            ErrorKind.INVALID_REQUEST, "The request is not valid.", code="invalid_value"
        )
    error = errors[0]
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in _SOURCES:
        loc = loc[1:]
    param = ".".join(loc) or None
    kind = str(error.get("type", ""))
    reason = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind == "json_invalid":
        return OpenAIError(
            ErrorKind.INVALID_REQUEST,
            "We could not parse the JSON body of your request.",
            code="invalid_json",
        )
    if param is None:
        return OpenAIError(
            ErrorKind.INVALID_REQUEST,
            f"The request body must be a JSON object: {reason}.",
            code="invalid_type",
        )
    if kind == "missing":
        message, code = f"Missing required parameter: '{param}'.", "missing_required_parameter"
    elif kind == "extra_forbidden":
        message, code = f"Unknown parameter: '{param}'.", "unknown_parameter"
    elif kind.endswith(("_type", "_parsing")):
        message, code = f"Invalid type for '{param}': {reason}.", "invalid_type"
    else:
        message, code = f"Invalid value for '{param}': {reason}.", "invalid_value"
    return OpenAIError(ErrorKind.INVALID_REQUEST, message, code=code, param=param)
