"""reelgate's own request bodies: every engine option, strict (unknown fields are 400)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from reelgate.api.wire import Prompt, Seed, Speed, check_text
from reelgate.outbound import MAX_URL_CHARS

# CometAPI's ratio names and OpenAI's pixel sizes, in that order.
RATIOS = (
    "16:9",
    "9:16",
    "1:1",
    "4:3",
    "3:4",
    "21:9",
    "1280:720",
    "720:1280",
    "960:960",
    "1104:832",
    "832:1104",
    "1584:672",
    "1280x720",
    "720x1280",
    "1792x1024",
    "1024x1792",
)


class MotionIn(BaseModel):
    """The CometAPI motion vector, strict: our own format rejects unknown fields."""

    model_config = ConfigDict(extra="forbid")
    x: Speed = 0
    y: Speed = 0
    z: Speed = 0
    r: Speed = 0
    bg_x_pan: Speed = 0
    bg_y_pan: Speed = 0


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    ratio: str = "16:9"
    seconds: StrictInt = Field(default=5, ge=1, le=20)
    style: str = "none"
    model: str = Field(default="gen4", max_length=64)
    motion: MotionIn = Field(default_factory=MotionIn)
    seed: Seed | None = None
    image: str | None = Field(default=None, max_length=1_000_000)
    image_as_end_frame: StrictBool = False
    # The 2048-character limit is the outbound policy's, as for every URL (url_not_allowed).
    callback_url: Annotated[str, Field(json_schema_extra={"maxLength": MAX_URL_CHARS})] | None = (
        None
    )

    @field_validator("style")
    @classmethod
    def _style(cls, value: str) -> str:
        return check_text(value, max_chars=64, allow_newlines=False)

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str) -> str:
        if value not in RATIOS:
            raise ValueError("must be one of " + ", ".join(RATIOS))
        return value
