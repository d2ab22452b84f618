"""Every error reelgate raises on purpose, in one tree.

    ReelgateError
    ├── ApiError(kind, message, param)      a request that cannot be served; each dialect's one
    │   │                                   handler renders it (status and wire code per kind)
    │   └── api.openai.errors.OpenAIError   ... carrying OpenAI's short `code` as well
    ├── SettingsError (ValueError)          a setting the process cannot start with
    │   └── ModelsFileError                 REELGATE_MODELS_FILE names a bad entry
    ├── SchemaBehindError (RuntimeError)    the database needs `reelgate migrate`
    ├── QuotaExceededError                  the owner already holds its cap of active tasks
    ├── TaskInterrupted                     a worker must stop a task now (cancel, lease, shutdown)
    ├── InputError                          a task's input cannot be used (ASSET.INVALID)
    │   ├── ImageFetchError                 the input image could not be fetched
    │   └── ImageDecodeError (ValueError)   the input image is not a picture we decode
    ├── UrlRefused                          a URL breaks the outbound policy (CONTRACT.md 5)
    ├── UpstreamError                       another service could not be used (engines/upstream)
    │   └── UpstreamFailed                  ... it rendered the task and reports a failure
    ├── EncodeError (RuntimeError)          the MP4 encoder failed
    └── ModelLoadError (RuntimeError)       a diffusers pipeline could not be loaded

Two more derive from their library's base so that library code handles them as its own:
`outbound.transport.OutboundRefused` is an `httpx.TransportError` (a refused connection is a
failed delivery to httpx) as well as a `UrlRefused`, and `blobs.s3.S3StorageError` is an
`OSError`.

An `ApiError` says what went wrong in the service's terms; a dialect decides the HTTP status and
the wire code of each kind (CometAPI's `task_not_exist` is HTTP 400, Runway's unknown task is
404) and renames `param` to its own field names.
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
    KEY_NOT_FOUND = "key_not_found"
    ADMIN_REQUIRED = "admin_required"
    REQUEST_TOO_LARGE = "request_too_large"
    NOT_FOUND = "not_found"
    LINK_INVALID = "link_invalid"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    IDEMPOTENCY_IN_FLIGHT = "idempotency_in_flight"
    INTERNAL = "internal_error"


class ApiError(ReelgateError):
    """A request that cannot be served. `param` names the field in the service's terms
    (`model`, `callback_url`, `image`, `ratio`, `task_id`, …); a message about one field starts
    with `<param>: ` unless it names the field itself."""

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


class SettingsError(ReelgateError, ValueError):
    """A setting, or a combination of settings, that the server cannot start with."""


class ModelsFileError(SettingsError):
    """The registry file cannot be used; the message names the file, the entry and the problem."""


class SchemaBehindError(ReelgateError, RuntimeError):
    """The database's schema is older than this code; run `reelgate migrate`."""


class QuotaExceededError(ReelgateError):
    """The owner already holds `limit` queued or running tasks."""

    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} active tasks, limit {limit}")
        self.active = active
        self.limit = limit


class TaskInterrupted(ReelgateError):
    """The task must stop now: it was cancelled, or this worker no longer holds its lease, or the
    process is shutting down. Engines must let it unwind, never swallow it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InputError(ReelgateError):
    """A task's input (its reference image) cannot be used: the task fails as ASSET.INVALID."""


class ImageFetchError(InputError):
    """The image could not be fetched within the rules; the message says why."""


class ImageDecodeError(InputError, ValueError):
    """The bytes are not an image we decode, or one that is too large."""


class UrlRefused(ReelgateError):
    """The URL breaks the outbound policy; the message says which rule, in words."""


class UpstreamError(ReelgateError):
    """A call to an upstream service did not work. `retryable` says whether the same call may
    be made again (429, 5xx, a refused connection); `retry_after_seconds` is the upstream's own
    `Retry-After` when it sent one; `refused` means no connection was made at all (the next
    endpoint may be tried). The message is for operators and never holds a key."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after_seconds: float | None = None,
        refused: bool = False,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds
        self.refused = refused
        self.status = status


class UpstreamFailed(UpstreamError):
    """The upstream ran the task and it failed there: its message and code become the task's."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class EncodeError(ReelgateError, RuntimeError):
    """The encoder could not write the MP4."""


class ModelLoadError(ReelgateError, RuntimeError):
    """A diffusers pipeline could not be loaded from its directory."""
