"""An `engine = "upstream"` entry of the models file: what it may say, what a bad one is told,
and that no error or listing repeats a key (tests/integration/upstream/test_config_errors.py
starts `reelgate serve` on a few of these)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reelgate.engines.models_file import parse_models
from reelgate.engines.registry import ModelRegistry
from reelgate.engines.upstream.config import DEFAULT_POLL_SECONDS, Protocol, UpstreamConfig
from reelgate.errors import SettingsError

PASTED_KEY = "sk-proj-4Ab9QzT7xY2w"
ENTRY: dict[str, Any] = {
    "engine": "upstream",
    "protocol": "openai",
    "endpoints": ["http://10.0.0.5:8000/", "https://gpu-2.internal"],
    "model": "Wan-AI/Wan2.2-T2V-A14B-Diffusers",
    "api_key_env": "VLLM_KEY",
}


def _parse(**changes: Any) -> UpstreamConfig:
    entry = {k: v for k, v in {**ENTRY, **changes}.items() if v is not None}
    [parsed] = parse_models({"models": {"wan": entry}}, Path("."))
    assert isinstance(parsed.config, UpstreamConfig)
    return parsed.config


def _refused(**changes: Any) -> str:
    with pytest.raises(ValueError, match=r"^\[models\.wan\] ") as raised:
        _parse(**changes)
    return str(raised.value)


def test_an_entry_needs_only_protocol_endpoints_and_model() -> None:
    config = _parse(api_key_env=None)
    assert config.protocol is Protocol.OPENAI
    assert config.endpoints == ("http://10.0.0.5:8000", "https://gpu-2.internal")
    assert (config.concurrency, config.poll_seconds, config.timeout_seconds) == (
        16,
        DEFAULT_POLL_SECONDS,
        3600,
    )
    assert config.api_key_env is None
    assert config.accepted_durations == (4, 8, 12)


def test_extra_fields_pass_through_as_given() -> None:
    config = _parse(extra={"num_inference_steps": 30, "guidance_scale": 5.0, "fps": 16})
    assert config.extra == {"num_inference_steps": 30, "guidance_scale": 5.0, "fps": 16}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"protocol": "grpc"}, "protocol: Input should be 'runway', 'cometapi' or 'openai'"),
        ({"endpoints": []}, "endpoints: Tuple should have at least 1 item"),
        ({"endpoints": ["gpu-1:8000"]}, "'gpu-1:8000' is not an http:// or https:// base URL"),
        ({"endpoints": ["http://a/?x=1"]}, "'http://a/?x=1': a base URL has no query or fragment"),
        ({"endpoints": ["http://a", "http://a/"]}, "endpoints: an endpoint is listed twice"),
        ({"model": None}, "model: Field required"),
        ({"model": ""}, "model: String should have at least 1 character"),
        ({"concurrency": 0}, "concurrency: Input should be greater than or equal to 1"),
        ({"poll_seconds": 0.01}, "poll_seconds: Input should be greater than or equal to 0.05"),
        ({"poll_seconds": "5"}, "poll_seconds: Input should be a valid number (got '5')"),
        ({"max_output_bytes": 10}, "max_output_bytes: Input should be greater than or equal"),
        ({"ratios": ["1280:720"]}, "entry: ratios: only for protocol runway"),
        ({"sizes": ["1280*720"]}, "sizes: '1280*720' is not WIDTHxHEIGHT in pixels"),
        ({"durations": [0]}, "durations: must list seconds between 1 and 600"),
        ({"extra": {"steps": [1, 2]}}, "extra.steps"),
        ({"colour": "red"}, "colour: unknown key"),
    ],
)
def test_a_bad_entry_is_refused_naming_the_key(changes: dict[str, Any], message: str) -> None:
    assert message in _refused(**changes)


@pytest.mark.parametrize(
    "changes",
    [
        {"api_key_env": PASTED_KEY},
        {"api_key_env": "vllm_key"},  # names are upper case; keys rarely are
        {"endpoints": [f"https://user:{PASTED_KEY}@api.example"]},
        {
            "sizes": ["1280x720"],
            "protocol": "runway",
            "api_key_env": "SK_" + PASTED_KEY.upper()[3:],
        },
    ],
)
def test_an_error_never_repeats_what_may_be_a_key(changes: dict[str, Any]) -> None:
    message = _refused(**changes)
    assert PASTED_KEY not in message
    assert PASTED_KEY.upper()[3:] not in message


def test_a_listing_names_the_variable_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_KEY", PASTED_KEY)
    summary = _parse(extra={"fps": 16}).summary()
    assert "key=$VLLM_KEY" in summary
    assert "extra=fps" in summary
    assert PASTED_KEY not in summary


def test_an_unset_key_variable_stops_a_worker_naming_the_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VLLM_KEY", raising=False)
    registry = ModelRegistry.from_entries(parse_models({"models": {"wan": ENTRY}}, Path(".")))
    with pytest.raises(SettingsError, match=r"^\[models\.wan\] the environment variable VLLM_KEY"):
        registry.build_job_engines()
