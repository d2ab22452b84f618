"""Reading `POST /v1/videos` (CONTRACT.md 3): a JSON body, or multipart/form-data whose
`input_reference` is the first frame as an image file.

The body is parsed by hand rather than by FastAPI because one route takes both encodings; the
fields are then checked by one pydantic model, so both encodings give the same errors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
)
from starlette.datastructures import FormData, UploadFile

from reelgate.api.openai.errors import OpenAIError, validation_error
from reelgate.api.wire import FormError, check_prompt, loads, strict_form
from reelgate.errors import ErrorKind
from reelgate.media.image import MAX_IMAGE_PIXELS, image_size
from reelgate.outbound.fetch import MAX_IMAGE_BYTES

DEFAULT_MODEL = "sora-2"
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
SECONDS = ("4", "8", "12")
MAX_FORM_FIELDS = 16  # a create has six fields; anything far beyond that is not a client of ours

# Magic numbers of the formats the worker decodes, with the extension and type to store under.
_FORMATS = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8", "jpg", "image/jpeg"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
)


class ImageReferenceIn(BaseModel):
    """`input_reference` given as an object (JSON), as the SDK's `ImageInputReferenceParam`."""

    model_config = ConfigDict(extra="forbid")
    image_url: StrictStr | None = Field(default=None, max_length=22_400_000)
    file_id: StrictStr | None = Field(default=None, max_length=128)


class CreateVideoIn(BaseModel):
    """The fields of `POST /v1/videos`; unknown fields are refused, as OpenAI does."""

    model_config = ConfigDict(extra="forbid")
    prompt: Annotated[StrictStr, AfterValidator(check_prompt)] = Field(
        description="what the video shows; 1..1000 characters"
    )
    model: StrictStr = Field(default=DEFAULT_MODEL, max_length=64)
    seconds: StrictStr = Field(
        default="4", description="clip length in seconds", json_schema_extra={"enum": list(SECONDS)}
    )
    size: StrictStr = Field(
        default="720x1280",
        description="width x height in pixels",
        json_schema_extra={"enum": list(SIZES)},
    )
    input_reference: ImageReferenceIn | None = None

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, value: str) -> str:
        if value not in SECONDS:
            raise ValueError("supported values are " + ", ".join(repr(s) for s in SECONDS))
        return value

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        if value not in SIZES:
            raise ValueError("supported values are " + ", ".join(repr(s) for s in SIZES))
        return value


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded `input_reference` that is a real image of a format the worker decodes."""

    data: bytes
    extension: str
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class CreateRequest:
    fields: CreateVideoIn
    upload: Upload | None


async def read_create(request: Request) -> CreateRequest:
    """The create request in either encoding; `OpenAIError` naming the field when it is bad."""
    content_type = request.headers.get("content-type", "").lower()
    upload: Upload | None = None
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        try:
            form = await strict_form(request, max_files=1, max_fields=MAX_FORM_FIELDS)
        except FormError as exc:
            raise OpenAIError(
                ErrorKind.INVALID_REQUEST,
                f"We could not parse the form body of your request: {exc}.",
                code="invalid_request",
            ) from None
        try:
            raw, upload = await _form_fields(form)
        finally:
            await form.close()
    else:
        raw = _json_object(await request.body())
    try:
        fields = CreateVideoIn.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None
    if upload is not None and fields.input_reference is not None:
        raise _invalid("input_reference", "give an uploaded file or an object, not both")
    return CreateRequest(fields, upload)


async def _form_fields(form: FormData) -> tuple[dict[str, Any], Upload | None]:
    """A form's fields as the JSON body's, and its uploaded image if any."""
    raw: dict[str, Any] = {}
    reference: dict[str, Any] = {}
    upload: Upload | None = None
    for name, value in form.multi_items():
        if name in raw or name in reference:
            raise _invalid(name, "must be given once")
        if isinstance(value, UploadFile):
            if name != "input_reference":
                raise _invalid(name, "must be text, not a file", code="invalid_type")
            upload = await _read_upload(value)
        elif name == "input_reference":
            raise _invalid(name, "must be an image file upload", code="invalid_type")
        elif name.startswith("input_reference[") and name.endswith("]"):
            reference[name.removeprefix("input_reference[").removesuffix("]")] = value
        else:
            raw[name] = value
    if reference:
        raw["input_reference"] = reference
    return raw, upload


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = loads(body)
    except json.JSONDecodeError as exc:
        raise OpenAIError(
            ErrorKind.INVALID_REQUEST,
            f"We could not parse the JSON body of your request ({exc.msg}).",
            code="invalid_json",
        ) from None
    if not isinstance(value, dict):
        raise OpenAIError(
            ErrorKind.INVALID_REQUEST,
            "The request body must be a JSON object.",
            code="invalid_type",
        )
    return value


async def _read_upload(file: UploadFile) -> Upload:
    """The file's bytes if it is a PNG, JPEG, WebP or GIF image of a size the worker accepts.

    The header is checked here, at upload, so a wrong file is a 400 now rather than a failed
    task later; the worker decodes the pixels.
    """
    data = await file.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise OpenAIError(
            ErrorKind.REQUEST_TOO_LARGE,
            f"input_reference: the image exceeds {MAX_IMAGE_BYTES} bytes",
            code="request_too_large",
            param="input_reference",
        )
    size = image_size(data)
    image_format = _format(data)
    if size is None or image_format is None:
        raise _invalid(
            "input_reference", "must be a PNG, JPEG, WebP or GIF image", code="invalid_image"
        )
    width, height = size
    if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
        raise _invalid(
            "input_reference",
            f"the image is {width}x{height}; at most {MAX_IMAGE_PIXELS} pixels are accepted",
            code="invalid_image",
        )
    extension, content_type = image_format
    return Upload(data, extension, content_type)


def _format(data: bytes) -> tuple[str, str] | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", "image/webp"
    for magic, extension, content_type in _FORMATS:
        if data.startswith(magic):
            return extension, content_type
    return None


def _invalid(param: str, reason: str, *, code: str = "invalid_value") -> OpenAIError:
    what = "type" if code == "invalid_type" else "value"
    return OpenAIError(
        ErrorKind.INVALID_REQUEST,
        f"Invalid {what} for '{param}': {reason}.",
        code=code,
        param=param,
    )
