"""Errors on Runway's routes: HTTP status plus `{"error": "<message> (request id: …)"}`
(CONTRACT.md 2.3); a 400 about one field names it in the message and adds
`issues: [{"path": [...], "message"}]`, as Runway's validation does."""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from reelgate.api.errors import DEFAULT_STATUS, retry_headers
from reelgate.api.wire import first_validation_error, json_response, rename_param
from reelgate.errors import ApiError, ErrorKind

# Paths whose errors this dialect renders (`/v1/videos` belongs to the OpenAI dialect).
PREFIXES = ("/v1/text_to_video", "/v1/image_to_video", "/v1/tasks", "/runwayml/")
# The service's field names in Runway's spelling.
FIELD_NAMES = {"image": "promptImage.0.uri"}


class RunwayRenderer:
    # Runway answers an unknown task with 404, as the default table does.
    _STATUS: ClassVar[dict[ErrorKind, int]] = DEFAULT_STATUS

    def render(self, err: ApiError, rid: str) -> Response:
        status = self._STATUS[err.kind]
        param, message = rename_param(err, FIELD_NAMES)
        body: dict[str, Any] = {"error": f"{message} (request id: {rid})"}
        if status == 400 and param is not None:
            reason = message.removeprefix(f"{param}: ")
            body["issues"] = [{"path": issue_path(param), "message": reason}]
        return json_response(body, status, retry_headers(err))

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError:
        return first_validation_error(exc)


def issue_path(param: str) -> list[str | int]:
    """`promptImage.0.position` -> `["promptImage", 0, "position"]`."""
    return [int(part) if part.isdigit() else part for part in param.split(".")]
