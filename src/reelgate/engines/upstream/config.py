"""What an `engine = "upstream"` entry of the model registry says: which service renders the
model, where, with which key, and how patiently.

    [models.gen4]
    engine = "upstream"
    protocol = "runway"                            # runway | cometapi | openai
    endpoints = ["https://api.dev.runwayml.com"]   # base URLs, used in turn
    model = "gen4.5"                               # the upstream's own model name
    api_key_env = "RUNWAYML_API_SECRET"            # the variable holding the key, never the key

Optional: `concurrency` (jobs in flight per endpoint), `poll_seconds`, `timeout_seconds` (a job
that has not finished by then fails), `request_timeout_seconds`, `max_output_bytes`,
`cooldown_seconds` (how long an endpoint that refuses connections is skipped), `ratios` /
`sizes` / `durations` (what the upstream model accepts; the request is mapped to the nearest),
and `extra` (fields passed through as-is, e.g. vLLM-Omni's `num_inference_steps`).
This module imports no HTTP client, so a registry can be checked and listed anywhere.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

# Upper case only, as environment variables are by convention: a key pasted here by mistake
# (keys are mixed or lower case) is refused rather than looked up, and is never repeated.
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_RATIO = re.compile(r"^[1-9][0-9]{1,4}:[1-9][0-9]{1,4}$")
_SIZE = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}$")

ExtraValue = StrictBool | StrictInt | StrictFloat | StrictStr


class Protocol(StrEnum):
    RUNWAY = "runway"  # Runway's official API: /v1/text_to_video, /v1/tasks/{id}
    COMETAPI = "cometapi"  # CometAPI's wrapper: /runway/pro/generate, /runway/feed
    OPENAI = "openai"  # OpenAI's /v1/videos: OpenAI, vLLM-Omni, SGLang, Dynamo, reelgate


# What each protocol's models accept when the entry does not say (its public documentation).
DEFAULT_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
DEFAULT_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
DEFAULT_DURATIONS: dict[Protocol, tuple[int, ...]] = {
    Protocol.RUNWAY: (2, 3, 4, 5, 6, 7, 8, 9, 10),
    Protocol.COMETAPI: (5, 10),
    Protocol.OPENAI: (4, 8, 12),
}
DEFAULT_POLL_SECONDS = 5.0


class UpstreamConfig(BaseModel):
    """One `engine = "upstream"` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["upstream"] = "upstream"
    protocol: Protocol
    endpoints: tuple[StrictStr, ...] = Field(min_length=1, max_length=32)
    model: StrictStr = Field(min_length=1, max_length=128)
    api_key_env: StrictStr | None = None
    concurrency: StrictInt = Field(default=16, ge=1, le=10_000)
    poll_seconds: StrictFloat = Field(default=DEFAULT_POLL_SECONDS, ge=0.05, le=600)
    timeout_seconds: StrictFloat = Field(default=3600, ge=1, le=7 * 86_400)
    request_timeout_seconds: StrictFloat = Field(default=30, ge=1, le=600)
    max_output_bytes: StrictInt = Field(default=1024**3, ge=1024, le=64 * 1024**3)
    cooldown_seconds: StrictFloat = Field(default=30, ge=0, le=3600)
    ratios: tuple[StrictStr, ...] | None = None
    sizes: tuple[StrictStr, ...] | None = None
    durations: tuple[StrictInt, ...] | None = None
    extra: dict[str, ExtraValue] = Field(default_factory=dict)

    @field_validator("endpoints")
    @classmethod
    def _endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = []
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http:// or https:// base URL")
            if parts.username or parts.password:
                raise ValueError(
                    "a base URL holds no credentials; name the key's variable in api_key_env"
                )
            if parts.query or parts.fragment:
                raise ValueError(f"{url!r}: a base URL has no query or fragment")
            cleaned.append(url.rstrip("/"))
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("an endpoint is listed twice")
        return tuple(cleaned)

    @field_validator("api_key_env")
    @classmethod
    def _api_key_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "must be the NAME of an environment variable (upper case letters, digits, _), "
                "never the key"
            )
        return value

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("must list at least one ratio")
            for ratio in value:
                if not _RATIO.match(ratio):
                    raise ValueError(f"{ratio!r} is not WIDTH:HEIGHT in pixels")
        return value

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("must list at least one size")
            for size in value:
                if not _SIZE.match(size):
                    raise ValueError(f"{size!r} is not WIDTHxHEIGHT in pixels")
        return value

    @field_validator("durations")
    @classmethod
    def _durations(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (not value or any(not 1 <= d <= 600 for d in value)):
            raise ValueError("must list seconds between 1 and 600")
        return value

    @field_validator("extra")
    @classmethod
    def _extra(cls, value: dict[str, object]) -> dict[str, object]:
        for name in value:
            if not name or len(name) > 64:
                raise ValueError(f"field name {name!r} must be 1..64 characters")
        return value

    @model_validator(mode="after")
    def _fits_protocol(self) -> UpstreamConfig:
        if self.ratios is not None and self.protocol is not Protocol.RUNWAY:
            raise ValueError("ratios: only for protocol runway (openai takes sizes)")
        if self.sizes is not None and self.protocol is not Protocol.OPENAI:
            raise ValueError("sizes: only for protocol openai (runway takes ratios)")
        return self

    @property
    def accepted_durations(self) -> tuple[int, ...]:
        return self.durations or DEFAULT_DURATIONS[self.protocol]

    @property
    def accepted_ratios(self) -> tuple[str, ...]:
        return self.ratios or DEFAULT_RATIOS

    @property
    def accepted_sizes(self) -> tuple[str, ...]:
        return self.sizes or DEFAULT_SIZES

    def summary(self) -> str:
        """One line for `reelgate models`: never the key, only the variable's name."""
        parts = [
            f"protocol={self.protocol.value}",
            f"model={self.model}",
            f"endpoints={','.join(self.endpoints)}",
            f"concurrency={self.concurrency}/endpoint",
            f"poll={self.poll_seconds:g}s",
            f"timeout={self.timeout_seconds:g}s",
        ]
        if self.api_key_env:
            parts.append(f"key=${self.api_key_env}")
        if self.extra:
            parts.append("extra=" + ",".join(sorted(self.extra)))
        return " ".join(parts)
