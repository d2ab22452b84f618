"""Runway's request bodies (CONTRACT.md 2.1, 2.2).

Unknown body fields are ignored: the SDK's typed parameters cover options reelgate does not
implement (`contentModeration`, `outputFormat`, `audio`, `negativePrompt`, ...) and it passes
`extra_body` through, so a client written against Runway must not fail on them. The fields we
do read are strict: `duration: "5"` is a 400, not 5.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    field_validator,
)

from reelgate.api.runway import docs
from reelgate.api.wire import Prompt, Seed

RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
IMAGE_DEFAULT_SECONDS = 10  # Runway's image-to-video default
MAX_IMAGE_URI_CHARS = 5 * 1024 * 1024  # Runway's data URI limit; the body limit bites first

Duration = Annotated[StrictInt, Field(ge=2, le=10, description="seconds, 2..10")]


def _ratio(value: str) -> str:
    if value not in RATIOS:
        raise ValueError("must be one of " + ", ".join(RATIOS))
    return value


Ratio = Annotated[str, AfterValidator(_ratio), Field(json_schema_extra={"enum": list(RATIOS)})]


class TextToVideoIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=64, examples=["gen4.5"])
    prompt_text: Prompt = Field(alias="promptText", description="1..1000 characters")
    ratio: Ratio
    duration: Duration
    seed: Seed | None = None


class PromptImageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uri: str = Field(max_length=MAX_IMAGE_URI_CHARS)
    position: Literal["first", "last"]


def _image_list(value: object) -> object:
    """A bare URI string is the first frame; anything but a string or a list is refused."""
    if isinstance(value, str):
        return [{"uri": value, "position": "first"}]
    if not isinstance(value, list):
        raise ValueError("must be a URI string or a list of {uri, position}")
    return value


class ImageToVideoIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=64, examples=["gen4_turbo"])
    prompt_image: Annotated[
        list[PromptImageIn],
        BeforeValidator(_image_list),
        WithJsonSchema(docs.PROMPT_IMAGE_SCHEMA),
    ] = Field(alias="promptImage")
    prompt_text: Prompt | None = Field(default=None, alias="promptText")
    ratio: Ratio
    duration: Duration = IMAGE_DEFAULT_SECONDS
    seed: Seed | None = None

    @field_validator("prompt_image")
    @classmethod
    def _one_image(cls, value: list[PromptImageIn]) -> list[PromptImageIn]:
        if len(value) != 1:
            raise ValueError(f"must hold exactly one image, first or last (got {len(value)})")
        return value
