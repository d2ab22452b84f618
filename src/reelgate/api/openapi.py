"""The OpenAPI document: pieces every router's documentation shares, and the final clean-up.

Routes return orjson `Response`s on the hot paths; their bodies are documented here and in each
dialect's docs module through `responses=`, so the document describes what is really sent
without a pydantic serialisation per request. The schemathesis suite
(tests/integration/api/test_schemathesis.py) holds the document to the real answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from reelgate.api.wire import SUPPORTED_RUNWAY_VERSIONS

Responses = dict[int | str, dict[str, Any]]

REQUEST_ID_HEADER = {
    "X-Request-Id": {
        "description": "This request's id; error messages end with `(request id: <id>)`.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "example": "5f0c9b1e2a7d4c3b8e6f1a2d",
    }
}
RUNWAY_VERSION_HEADER = {
    "X-Runway-Version": {
        "description": "The API version in force for this request (the one sent, or the default).",
        "required": True,
        "schema": {"type": "string", "enum": list(SUPPORTED_RUNWAY_VERSIONS)},
    }
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
        "example": 5,
    }
}

# What each error status means, whatever the dialect's wire codes are.
ERROR_MEANINGS: Mapping[int, str] = {
    400: "The request is not valid: the body is not a JSON object, a field is missing, has the "
    "wrong type or is out of range, or a header is malformed. The message names the field.",
    401: "The `Authorization: Bearer <api key>` header is missing or the key is unknown.",
    403: "The signed link is invalid or has expired.",
    404: "No such task (or it belongs to another key), or no such file.",
    409: "A request with this `Idempotency-Key` is still being processed.",
    413: "The request body is over 1 MiB.",
    422: "This `Idempotency-Key` was already used with a different request body.",
    429: "Too many requests for this key, too many queued tasks, or too many failed "
    "authentication attempts from this address.",
    500: "An unexpected error; the request id in the message finds it in the server log.",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str


class ErrorOut(BaseModel):
    """`{"error": {"code", "message"}}`: errors on routes outside the dialects."""

    model_config = ConfigDict(extra="forbid", title="Error")
    error: ErrorDetail


def ok(
    model: type[BaseModel],
    description: str,
    *,
    example: Any = None,
    headers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A success response with its body model, the request id header and an example."""
    entry: dict[str, Any] = {
        "model": model,
        "description": description,
        "headers": {**REQUEST_ID_HEADER, **(headers or {})},
    }
    if example is not None:
        entry["content"] = {"application/json": {"example": example}}
    return entry


def errors(
    model: type[BaseModel], examples: Mapping[int, Mapping[str, Any]], statuses: Iterable[int]
) -> Responses:
    """Error responses in one dialect's shape, each with its examples (by wire code)."""
    out: Responses = {}
    for status in statuses:
        headers = {**REQUEST_ID_HEADER, **(RETRY_AFTER_HEADER if status == 429 else {})}
        named = {code: {"value": body} for code, body in examples[status].items()}
        out[status] = {
            "model": model,
            "description": ERROR_MEANINGS[status],
            "headers": headers,
            "content": {"application/json": {"examples": named}},
        }
    return out


def default_error_examples() -> dict[int, dict[str, Any]]:
    """Examples of `ErrorOut` by status, one per wire code that status carries."""
    rid = "(request id: 5f0c9b1e2a7d4c3b8e6f1a2d)"

    def body(code: str, message: str) -> dict[str, Any]:
        return {"error": {"code": code, "message": f"{message} {rid}"}}

    return {
        400: {"invalid_request": body("invalid_request", "the request is not valid")},
        401: {"invalid_token": body("invalid_token", "invalid token")},
        403: {"link_invalid": body("link_invalid", "this link is invalid or has expired")},
        404: {
            "task_not_found": body("task_not_found", "task 'nope' does not exist"),
            "not_found": body("not_found", "this file no longer exists"),
        },
        409: {
            "idempotency_in_flight": body(
                "idempotency_in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
        },
        413: {"request_too_large": body("request_too_large", "the body exceeds 1048576 bytes")},
        422: {
            "idempotency_mismatch": body(
                "idempotency_mismatch",
                "this Idempotency-Key was already used with a different request body",
            )
        },
        429: {"rate_limited": body("rate_limited", "this key is over its request rate")},
        500: {"internal_error": body("internal_error", "internal error")},
    }


def default_errors(*statuses: int) -> Responses:
    """Error responses in the default `{"error": {...}}` shape."""
    return errors(ErrorOut, default_error_examples(), statuses)


def install(app: FastAPI) -> None:
    """Serve FastAPI's generated document without the validation-error schema it adds.

    FastAPI documents a 422 `HTTPValidationError` on every route with parameters; reelgate never
    sends one (validation errors are 400 in the dialect's shape, documented per route), so those
    entries are dropped unless a route documented its own 422.
    """

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _drop_validation_error(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _drop_validation_error(document: dict[str, Any]) -> None:
    generated = "#/components/schemas/HTTPValidationError"
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            schema = responses.get("422", {}).get("content", {}).get("application/json", {})
            if schema.get("schema", {}).get("$ref") == generated:
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
