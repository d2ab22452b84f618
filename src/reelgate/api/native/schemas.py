"""reelgate's own request bodies, strict (unknown fields are 400): a task with every engine
option, and an operator's key and its limits."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)

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


MAX_KEY_NAME_CHARS = 100  # the api_keys.name column
MAX_ACTIVE_TASKS_LIMIT = 1_000_000
MAX_RATE_PER_MINUTE = 1_000_000.0

MaxActive = Annotated[
    StrictInt,
    Field(
        ge=1,
        le=MAX_ACTIVE_TASKS_LIMIT,
        description="queued + running tasks the key may hold; "
        "null: REELGATE_MAX_ACTIVE_TASKS_PER_KEY",
    ),
]
RatePerMinute = Annotated[
    StrictFloat,
    Field(
        gt=0,
        le=MAX_RATE_PER_MINUTE,
        allow_inf_nan=False,
        description="requests a minute the key may make; null: REELGATE_RATE_PER_MINUTE",
    ),
]


class KeyLimitsIn(BaseModel):
    """Both quotas of a key at once: a field left out or null is the server's setting."""

    model_config = ConfigDict(extra="forbid", title="KeyLimits")
    max_active_tasks: MaxActive | None = None
    rate_per_minute: RatePerMinute | None = None


class KeyCreateIn(KeyLimitsIn):
    model_config = ConfigDict(extra="forbid", title="KeyCreate")
    name: str = Field(
        default="", max_length=MAX_KEY_NAME_CHARS, description="a label for people; may be empty"
    )
    admin: StrictBool = Field(
        default=False, description="may manage keys and read the workers and the queue"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            return ""
        return check_text(value, max_chars=MAX_KEY_NAME_CHARS, allow_newlines=False)
