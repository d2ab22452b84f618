"""The seed's request bodies (CONTRACT.md 1.1, 1.2). Unknown fields are ignored, as the
wrapper does."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from reelgate.api.cometapi import docs
from reelgate.api.wire import Prompt, Seed, Speed, check_text
from reelgate.outbound import MAX_URL_CHARS

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
)


class MotionVectorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    x: Speed = 0
    y: Speed = 0
    z: Speed = 0
    r: Speed = 0
    bg_x_pan: Speed = 0
    bg_y_pan: Speed = 0


class OptionsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seconds: StrictInt = Field(
        description="clip length: 5 or 10 seconds", json_schema_extra={"enum": [5, 10]}
    )
    motion_vector: MotionVectorIn = Field(
        description="camera speeds in [-10, 10]; a missing component is 0"
    )
    image_as_end_frame: StrictBool = Field(
        False, description="use `image` as the last frame instead of the first"
    )
    seed: Seed | None = Field(None, description="overrides the top-level `seed`")

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, value: int) -> int:
        if value not in (5, 10):
            raise ValueError("must be 5 or 10")
        return value


class GenerateIn(BaseModel):
    """The seed's request body."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {
                "callback_url": "https://example.com/hooks/reelgate",
                "ratio": "16:9",
                "prompt": "a cat",
                "style": "cinematic",
                "model": "gen4",
                "options": {
                    "seconds": 10,
                    "motion_vector": {
                        "x": 0,
                        "y": 0.4,
                        "z": 0,
                        "r": -6,
                        "bg_x_pan": 0,
                        "bg_y_pan": 0,
                    },
                },
            }
        },
    )
    # The 2048-character limit is the outbound policy's, as for every URL (url_not_allowed).
    callback_url: str = Field(
        description="absolute http(s) URL that receives the finished task (CONTRACT.md 5)",
        json_schema_extra={"maxLength": MAX_URL_CHARS},
    )
    prompt: Prompt = Field(
        description="1..1000 characters after trimming; no control or bidirectional characters "
        "except newline and tab",
        json_schema_extra={"minLength": 1, "maxLength": 1000},
    )
    ratio: str = Field(json_schema_extra={"enum": list(RATIOS)})
    style: str = Field(
        description="a style preset or free text (at most 64 characters, one line)",
        json_schema_extra={"maxLength": 64},
    )
    model: str = Field(max_length=64, description="a model the server knows, e.g. gen4")
    options: OptionsIn
    image: str | None = Field(
        default=None,
        max_length=22_400_000,
        description="https URL or data:image/...;base64, URI: image-to-video",
    )
    seed: Seed | None = Field(None, description="absent: a random seed, kept on the task")

    @field_validator("style")
    @classmethod
    def _style(cls, value: str) -> str:
        if not value.strip():
            return "none"
        return check_text(value, max_chars=64, allow_newlines=False)

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str) -> str:
        if value not in RATIOS:
            raise ValueError("must be one of " + ", ".join(RATIOS))
        return value


class FeedIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"example": {"task_id": docs.TASK_ID}}
    )
    task_id: str = Field(max_length=64, description="the id /runway/pro/generate returned")
