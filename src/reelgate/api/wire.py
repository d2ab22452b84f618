"""Wire helpers every dialect shares; no dialect imports another, they all import this.

json_response, iso           orjson bodies; ISO 8601 UTC times
Prompt, check_text           the text rules for prompts and styles
Seed, Speed                  integer seeds and motion speeds as every dialect takes them
runway_version, …Header      `X-Runway-Version` (CONTRACT.md 0)
idempotency, …Header         the `Idempotency-Key` header and the request's fingerprint
StrictJsonRoute, loads       strict JSON bodies
strict_form, FormError       form bodies whose text fields must be UTF-8
first_validation_error       FastAPI's validation errors as one `invalid_request`
rename_param                 an error's field named in a dialect's own spelling
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

import orjson
from fastapi import Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field, StrictFloat, StrictInt
from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.responses import Response

from reelgate.core.tasks import MAX_SEED
from reelgate.errors import ApiError, ErrorKind, invalid
from reelgate.notifier.payload import iso
from reelgate.service import IdempotencyKey

__all__ = ["iso"]

SUPPORTED_RUNWAY_VERSIONS = ("2024-11-06",)
DEFAULT_RUNWAY_VERSION = "2024-11-06"
MAX_BODY_BYTES = 1024 * 1024  # every JSON body (CONTRACT.md 0)
MAX_PROMPT_CHARS = 1000  # every dialect's prompt limit (CONTRACT.md 1.1, 2.1, 3)
MAX_IDEMPOTENCY_KEY_CHARS = 255


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


# -- text ------------------------------------------------------------------------------------------
# Bidirectional overrides and isolates can make a prompt read differently from what is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def check_text(value: str, *, max_chars: int, allow_newlines: bool = True) -> str:
    """Trim and check `value`; ValueError (with the reason) when it breaks a rule."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > max_chars:
        raise ValueError(f"must be at most {max_chars} characters (got {len(text)})")
    for ch in text:
        if ch in "\n\t" and allow_newlines:
            continue
        if ch in _BIDI_CONTROLS:
            raise ValueError(f"must not contain the bidirectional control U+{ord(ch):04X}")
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or ch in "\u2028\u2029":
            raise ValueError(f"must not contain the control character U+{ord(ch):04X}")
    return text


def check_prompt(value: str) -> str:
    return check_text(value, max_chars=MAX_PROMPT_CHARS)


Prompt = Annotated[str, AfterValidator(check_prompt)]
"""A prompt as every dialect accepts it: trimmed, 1..1000 characters, no control characters."""

Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]
Speed = Annotated[StrictFloat, Field(ge=-10, le=10, allow_inf_nan=False)]


# -- X-Runway-Version ------------------------------------------------------------------------------
def runway_version(value: str | None, *, required: bool) -> str:
    """The `X-Runway-Version` in force for this request (CONTRACT.md 0)."""
    if value is None:
        if required:
            raise ApiError(
                ErrorKind.UNSUPPORTED_VERSION,
                "the X-Runway-Version header is required; supported: "
                + ", ".join(SUPPORTED_RUNWAY_VERSIONS),
                param="X-Runway-Version",
            )
        return DEFAULT_RUNWAY_VERSION
    if value not in SUPPORTED_RUNWAY_VERSIONS:
        raise ApiError(
            ErrorKind.UNSUPPORTED_VERSION,
            f"X-Runway-Version {value!r} is not supported; supported: "
            + ", ".join(SUPPORTED_RUNWAY_VERSIONS),
            param="X-Runway-Version",
        )
    return value


RunwayVersionHeader = Annotated[
    str | None,
    Header(
        alias="X-Runway-Version",
        description="API version; absent means " + DEFAULT_RUNWAY_VERSION,
        json_schema_extra={"enum": list(SUPPORTED_RUNWAY_VERSIONS)},
    ),
]


# -- Idempotency-Key (IETF httpapi idempotency-key draft) ------------------------------------------
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1..255 printable characters; a repeat with the same body returns the same "
        "task, with another body 422, while the first is in flight 409",
        json_schema_extra={"minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS},
    ),
]


def idempotency(key: str | None, route: str, body: BaseModel) -> IdempotencyKey | None:
    """The key and a fingerprint of the request it was first used with, if a key was sent."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not key.isprintable():
        raise invalid(
            "Idempotency-Key", f"must be 1..{MAX_IDEMPOTENCY_KEY_CHARS} printable characters"
        )
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    fingerprint = hashlib.sha256(route.encode() + b"\n" + canonical).hexdigest()
    return IdempotencyKey(key=key, request_hash=fingerprint)


# -- strict JSON bodies ----------------------------------------------------------------------------
# FastAPI parses bodies with `json.loads(bytes)`, which guesses UTF-16 and UTF-32, skips a UTF-8
# byte order mark, accepts `NaN` and `Infinity`, turns `1e400` into infinity and keeps the last
# of two members with the same name. Each is a way for one request to mean different things to
# different readers (a proxy, a log, the idempotency fingerprint), so a route built with
# `StrictJsonRoute` refuses them all as malformed JSON. Nesting is bounded by the interpreter's
# recursion limit, reported the same way.
def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the member name {name[:64]!r} appears twice in one object")
            seen.add(name)
    return members


def loads(body: bytes) -> Any:
    """Parse a request body; `json.JSONDecodeError` (with the reason) when it is not strict JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from None
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("the body starts with a byte order mark", "", 0)
    try:
        return json.loads(
            text, object_pairs_hook=_unique, parse_constant=_constant, parse_float=_finite
        )
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", "", 0) from None
    except ValueError as exc:  # our hooks, and integers over Python's 4300-digit limit
        raise json.JSONDecodeError(str(exc), "", 0) from None


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose JSON bodies are parsed by `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


# -- strict form bodies ----------------------------------------------------------------------------
# Starlette decodes a form field that is not valid UTF-8 as latin-1, so the same bytes would be
# stored as different text than a JSON body carrying them; these parsers refuse such fields.
class FormError(ValueError):
    """A form body that cannot be read (the reason is the message)."""


class _StrictMultiPartParser(MultiPartParser):
    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                bytes(part.data).decode("utf-8")
            except UnicodeDecodeError:
                raise MultiPartException(
                    f"the form field {part.field_name[:64]!r} is not valid UTF-8"
                ) from None
        super().on_part_end()


class _StrictFormParser(FormParser):
    def on_field_end(self) -> None:
        for raw in (self._field_name, self._field_value):
            try:
                unquote_to_bytes(bytes(raw).replace(b"+", b" ")).decode("utf-8")
                raw.decode("ascii")
            except UnicodeDecodeError:
                raise MultiPartException("a form field is not valid UTF-8") from None
        super().on_field_end()


async def strict_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The request's multipart or urlencoded form (the caller closes it); FormError when
    malformed."""
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    stream = request.stream()
    parser: MultiPartParser | FormParser
    if content_type == b"multipart/form-data":
        parser = _StrictMultiPartParser(
            request.headers, stream, max_files=max_files, max_fields=max_fields
        )
    else:
        parser = _StrictFormParser(request.headers, stream, max_fields=max_fields)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise FormError(exc.message) from None


# -- errors ----------------------------------------------------------------------------------------
def field_path(loc: Sequence[int | str]) -> str:
    """`('body', 'options', 'motion_vector', 'r')` -> `options.motion_vector.r`."""
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def first_validation_error(exc: RequestValidationError) -> ApiError:
    """The first of FastAPI's validation errors as an `invalid_request` naming the field."""
    errors = list(exc.errors())
    if not errors:
        return ApiError(ErrorKind.INVALID_REQUEST, "the request body is not valid")
    error = errors[0]
    path = field_path(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        reason = error.get("ctx", {}).get("error")
        detail = f" ({reason})" if reason else ""
        return ApiError(ErrorKind.INVALID_REQUEST, f"the request body is not valid JSON{detail}")
    if path == "body" and isinstance(error.get("input"), bytes):
        # FastAPI hands over raw bytes when the Content-Type is not JSON.
        return ApiError(
            ErrorKind.INVALID_REQUEST,
            "the request body must be a JSON object sent with Content-Type: application/json",
        )
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return ApiError(ErrorKind.INVALID_REQUEST, f"{path}: {message}", param=path)


def rename_param(err: ApiError, names: Mapping[str, str]) -> tuple[str | None, str]:
    """The error's field and message in a dialect's own field names: the service says `image`
    where Runway says `promptImage.0.uri`."""
    param = err.param
    if param is None or param not in names:
        return param, err.message
    wire = names[param]
    message = err.message
    if message.startswith(f"{param}: "):
        message = f"{wire}: " + message.removeprefix(f"{param}: ")
    return wire, message
