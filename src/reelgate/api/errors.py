"""Rendering errors: each dialect owns one renderer, chosen by the request's path; routes
outside the dialects (files, health, admin, the native task routes) use `DefaultRenderer`.

Routes and services raise `ApiError`; the handlers here turn it, FastAPI's validation errors,
Starlette's HTTP errors and anything unexpected into the shape of the dialect that was called,
with the request id at the end of the message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from reelgate.api.middleware.request_id import request_id
from reelgate.api.wire import first_validation_error, json_response
from reelgate.errors import ApiError, ErrorKind

log = logging.getLogger(__name__)

DEFAULT_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.CALLBACK_URL_EMPTY: 400,
    ErrorKind.MODEL_NOT_SUPPORTED: 400,
    ErrorKind.URL_NOT_ALLOWED: 400,
    ErrorKind.UNSUPPORTED_VERSION: 400,
    ErrorKind.INVALID_TOKEN: 401,
    ErrorKind.LINK_INVALID: 403,
    ErrorKind.ADMIN_REQUIRED: 403,
    ErrorKind.TASK_NOT_FOUND: 404,
    ErrorKind.KEY_NOT_FOUND: 404,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.METHOD_NOT_ALLOWED: 405,
    ErrorKind.IDEMPOTENCY_IN_FLIGHT: 409,
    ErrorKind.IDEMPOTENCY_MISMATCH: 422,
    ErrorKind.REQUEST_TOO_LARGE: 413,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.INTERNAL: 500,
}


class ErrorRenderer(Protocol):
    def render(self, err: ApiError, rid: str) -> Response: ...

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError: ...


def _with_rid(message: str, rid: str) -> str:
    return f"{message} (request id: {rid})"


class DefaultRenderer:
    """`{"error": {"code", "message"}}` for routes outside the three dialects."""

    def render(self, err: ApiError, rid: str) -> Response:
        headers = retry_headers(err)
        body = {"error": {"code": err.kind.value, "message": _with_rid(err.message, rid)}}
        return json_response(body, DEFAULT_STATUS[err.kind], headers)

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError:
        return first_validation_error(exc)


def retry_headers(err: ApiError) -> dict[str, str] | None:
    """`Retry-After` for an error that carries a wait (rate limits, quotas)."""
    if err.retry_after_seconds is None:
        return None
    return {"Retry-After": str(err.retry_after_seconds)}


@dataclass
class Renderers:
    """Renderers by path prefix; the longest matching prefix wins."""

    default: ErrorRenderer = field(default_factory=DefaultRenderer)
    by_prefix: list[tuple[str, ErrorRenderer]] = field(default_factory=list)

    def add(self, prefix: str, renderer: ErrorRenderer) -> None:
        self.by_prefix.append((prefix, renderer))
        self.by_prefix.sort(key=lambda item: -len(item[0]))

    def for_path(self, path: str) -> ErrorRenderer:
        for prefix, renderer in self.by_prefix:
            if path.startswith(prefix):
                return renderer
        return self.default

    def render_scope(self, scope: Scope, err: ApiError) -> Response:
        return self.for_path(scope["path"]).render(err, request_id(scope))


def install(app: FastAPI, renderers: Renderers, authenticate: Callable[[Request], object]) -> None:
    """Register the exception handlers that route every error through `renderers`.

    A request whose body fails validation is authenticated first, so an unauthenticated caller
    learns nothing about the body rules and always gets 401.
    """

    def render(request: Request, err: ApiError) -> Response:
        return renderers.render_scope(request.scope, err)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return render(request, exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        try:
            authenticate(request)
        except ApiError as auth_error:
            return render(request, auth_error)
        renderer = renderers.for_path(request.url.path)
        return render(request, renderer.from_validation(request, exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            err = ApiError(ErrorKind.NOT_FOUND, f"no route {request.url.path}")
        elif exc.status_code == 405:
            err = ApiError(
                ErrorKind.METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {request.url.path}",
            )
        elif exc.status_code == 413:
            err = ApiError(ErrorKind.REQUEST_TOO_LARGE, "the request body is too large")
        elif exc.status_code < 500:
            err = ApiError(ErrorKind.INVALID_REQUEST, f"the request is not valid: {exc.detail}")
        else:
            err = ApiError(ErrorKind.INTERNAL, "internal error")
        return render(request, err)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = render(request, ApiError(ErrorKind.INTERNAL, "internal error"))
        # Starlette answers from outside every middleware here, RequestIdMiddleware included.
        response.headers["X-Request-Id"] = request_id(request.scope)
        return response

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
