"""Schemathesis against reelgate's own OpenAPI document, in process over ASGI.

Every operation of the document is exercised (examples, coverage and fuzzing phases, positive
and negative data), then the stateful phase follows the document's links (generate → feed,
cancel, delivery log → redeliver). Every answer must be a non-5xx with a documented status,
content type, body schema and headers.

Nothing is excluded. Fuzzed `/files` links never carry a valid signature (always 403), and random
bodies seldom make a task, so a hand-made walk adds a real task's answers, a cancel, a delivery
log and a real file (200, 206, 400 and 416 for byte ranges, 404) under the same checks.

The key is an admin key, so the operator's routes (keys, workers, queue) answer as they do for
an operator; the 403 a plain key gets is covered by tests/api/test_operate.py.

The app is `create_app` on a fresh data directory with no worker pool and no notifier, so no task
runs and no callback is ever sent: nothing leaves the process. Request-rate and quota limits are
raised so fuzzing explores the routes instead of the 429 answer (which is documented and covered
by test_cometapi_errors.py). The run is deterministic (fixed seed, derandomized, no example
database) and bounded by `MAX_EXAMPLES`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import hypothesis
import pytest
import schemathesis
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reelgate.api.app import create_app
from reelgate.blobs import keys
from reelgate.runtime import Runtime
from reelgate.settings import Settings
from tests.support.server import seed_body

KEY = "rg_schemathesis_key_0123456789abcdef01234567"
SEED = 20260313
MAX_EXAMPLES = 15  # per operation and phase: the file stays well under a minute on 2 cores
STATEFUL_SCENARIOS = 10
STATEFUL_STEPS = 6
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "auth": {"openapi": {"apiKey": {"bearer": KEY}}},
    }
)


def _runtime(data_dir: Path) -> Runtime:
    settings = Settings(
        data_dir=data_dir,
        api_keys=KEY,
        admin_api_keys=KEY,  # the operator's routes are exercised too
        workers=0,
        rate_per_minute=1e9,
        rate_burst=1_000_000,
        auth_failures_per_minute=1e9,
        max_active_tasks_per_key=1_000_000,
    )
    runtime = Runtime.build(settings, public_url="http://127.0.0.1:9")
    runtime.store.prepare()
    return runtime


# Built at import: `@schema.parametrize()` needs the document while pytest collects, and
# schemathesis's fixture-based loader does not work with pytest 9 (it sets `Function._nodeid`).
_DATA_DIR = tempfile.TemporaryDirectory(prefix="reelgate-schemathesis-")
RUNTIME = _runtime(Path(_DATA_DIR.name))
APP = create_app(RUNTIME.api_services())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def _close_the_store() -> Iterator[None]:
    yield
    RUNTIME.store.close()
    _DATA_DIR.cleanup()


@schema.parametrize()
def test_every_answer_matches_the_document(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)


def test_linked_operations_match_the_document() -> None:
    machine = schema.as_state_machine()

    class Checked(machine):  # type: ignore[misc, valid-type]
        def validate_response(
            self, response: Any, case: schemathesis.Case[Any], **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Checked,
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        ),
    )


def _call(method: str, path: str, **parts: Any) -> Any:
    """One hand-made request, held to the document by the same checks."""
    headers = {"Authorization": f"Bearer {KEY}", **parts.pop("headers", {})}
    case = schema[path][method].Case(headers=headers, **parts)
    return case.call_and_validate(checks=CHECKS)


def test_one_task_through_every_route_matches_the_document() -> None:
    """What fuzzing rarely reaches: a real task's answers, a cancel, a delivery log, a file."""
    created = _call("POST", "/runway/pro/generate", body=seed_body("https://example.com/hook"))
    assert created.status_code == 200
    task_id = created.json()["data"]["task_id"]
    feed = _call("POST", "/runway/feed", body={"task_id": task_id})
    assert feed.json()["data"]["status"] == "QUEUED"
    assert _call("POST", "/admin/tasks/{task_id}/cancel", path_parameters={"task_id": task_id})
    feed = _call("POST", "/runway/feed", body={"task_id": task_id})
    assert feed.json()["data"]["fail_reason"] == "cancelled"
    log = _call(
        "GET", "/admin/tasks/{task_id}/deliveries", path_parameters={"task_id": task_id}
    ).json()
    assert log["events"], "a cancelled task has a webhook event"
    for event in log["events"]:
        redelivered = _call(
            "POST",
            "/admin/tasks/{task_id}/deliveries/{event_id}/redeliver",
            path_parameters={"task_id": task_id, "event_id": event["id"]},
        )
        assert redelivered.status_code == 202

    key = keys.video_key(task_id, 1)
    RUNTIME.blobs.put_bytes(key, b"\x00\x00\x00\x18ftypmp42" + bytes(1000), "video/mp4")
    query = dict(parse_qsl(urlsplit(RUNTIME.signer.url(key)).query))
    file = {"path_parameters": {"key": key}, "query": query}
    assert _call("GET", "/files/{key}", **file).status_code == 200
    assert _call("HEAD", "/files/{key}", **file).status_code == 200
    for header, status in (("bytes=0-9", 206), ("bytes=0-1,5-9", 206), ("bytes=5000-", 416)):
        ranged = _call("GET", "/files/{key}", headers={"Range": header}, **file)
        assert ranged.status_code == status
    assert _call("GET", "/files/{key}", headers={"Range": "pages=1"}, **file).status_code == 400
    RUNTIME.blobs.delete_prefix(keys.task_prefix(task_id))
    assert _call("GET", "/files/{key}", **file).status_code == 404


def test_key_management_matches_the_document() -> None:
    """A key made, limited, used and revoked, and the workers and queue views."""
    created = _call("POST", "/admin/keys", body={"name": "schemathesis", "max_active_tasks": 2})
    assert created.status_code == 201
    key_id = created.json()["id"]
    limits = _call(
        "PUT",
        "/admin/keys/{key_id}/limits",
        path_parameters={"key_id": key_id},
        body={"rate_per_minute": 30.5},
    )
    assert limits.json()["rate_per_minute"] == 30.5
    assert _call("GET", "/admin/me").json()["admin"] is True
    listed = _call("GET", "/admin/keys").json()["data"]
    assert key_id in [k["id"] for k in listed]
    revoked = _call("POST", "/admin/keys/{key_id}/revoke", path_parameters={"key_id": key_id})
    assert revoked.json()["revoked_at"] is not None
    assert _call("GET", "/admin/workers").json()["data"] == []  # no worker pool here
    assert _call("GET", "/admin/queue").json()["models"]
