"""Tracing: off and free unless asked for; when on, spans parent as the trace needs them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from reelgate.api.middleware.tracing import TracingMiddleware
from reelgate.observability import tracing

ROOT = Path(__file__).resolve().parents[3]
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"

# Run in a fresh interpreter: this test process has imported the SDK for the tests below.
OFF_SCRIPT = textwrap.dedent(
    """
    import sys, tempfile
    from pathlib import Path
    from reelgate.observability import tracing
    from tests.support.inprocess import running
    from tests.support.server import seed_body

    assert not tracing.configure_tracing("reelgate")
    assert tracing.span("task.create") is tracing.NO_SPAN and tracing.carrier() is None
    with tempfile.TemporaryDirectory() as data, running(Path(data)) as server:
        with server.client() as client:
            created = client.post("/runway/pro/generate", json=seed_body("http://127.0.0.1:9/"))
            assert created.status_code == 200, created.text
        assert server.runtime is not None
        task = server.runtime.store.tasks.get(created.json()["data"]["task_id"], None)
        assert task is not None and task.trace_context is None, task
    loaded = [m for m in sys.modules if m.startswith(("opentelemetry.sdk", "opentelemetry.exp"))]
    print("loaded:", loaded)
    """
)


class Collected:
    """A span sink that keeps what it is given."""

    def __init__(self) -> None:
        self.spans: list[tracing.FinishedSpan] = []
        self.closed = False

    def add(self, span: tracing.FinishedSpan) -> None:
        self.spans.append(span)

    def shutdown(self) -> None:
        self.closed = True

    def by_name(self) -> dict[str, tracing.FinishedSpan]:
        return {span.name: span for span in self.spans}


@pytest.fixture
def exported() -> Iterator[Collected]:
    sink = Collected()
    tracing.enable(sink)
    try:
        yield sink
    finally:
        tracing.shutdown_tracing()
    assert sink.closed


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "api"}, False),  # names the service, asks for no export
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_tracing_is_wanted_only_when_an_exporter_is_named(
    environ: dict[str, str], wanted: bool
) -> None:
    assert tracing.wanted(environ) is wanted


def test_off_loads_no_sdk_and_stores_no_trace_context() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", OFF_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout, done.stdout


def test_the_server_span_is_named_by_its_route_and_joins_the_clients_trace(
    exported: Collected,
) -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str | None]:
        with tracing.span("lookup"):
            return {"carrier": (tracing.carrier() or {}).get("traceparent")}

    app.add_middleware(TracingMiddleware)
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    with TestClient(app) as client:
        answer = client.get("/items/42?sig=secret", headers={"traceparent": traceparent})
        assert client.get("/nowhere").status_code == 404
    spans = exported.by_name()

    server = spans["GET /items/{item_id}"]
    assert server.kind is tracing.SpanKind.SERVER
    assert f"{server.parent_id:016x}" == CLIENT_SPAN
    assert server.parent_remote
    assert f"{server.trace_id:032x}" == CLIENT_TRACE
    assert server.attributes["url.path"] == "/items/42"  # no query: signed links carry secrets
    assert server.attributes["http.response.status_code"] == 200
    lookup = spans["lookup"]
    assert (lookup.parent_id, lookup.parent_remote) == (server.span_id, False)
    assert answer.json()["carrier"].split("-")[2] == f"{lookup.span_id:016x}"
    assert "GET" in spans  # an unmatched path keeps the bare method: no ids in span names


def test_a_stored_context_parents_spans_started_later_elsewhere(
    exported: Collected,
) -> None:
    with tracing.span("task.create"):
        stored = tracing.carrier()
    assert stored is not None
    assert set(stored) == {"traceparent"}

    start = tracing.now_ns()

    def attempt_that_fails() -> None:
        with tracing.span("task.attempt", parent=stored):
            tracing.record("task.claim", start)
            raise RuntimeError("engine exploded")

    with pytest.raises(RuntimeError):
        attempt_that_fails()
    spans = exported.by_name()

    create, attempt, claim = spans["task.create"], spans["task.attempt"], spans["task.claim"]
    assert attempt.trace_id == create.trace_id
    assert (attempt.parent_id, attempt.parent_remote) == (create.span_id, True)
    assert (claim.parent_id, claim.trace_id) == (attempt.span_id, create.trace_id)
    assert claim.start_ns == start <= claim.end_ns
    assert create.parent_id == 0
    assert create.error is None
    assert attempt.error == "RuntimeError: engine exploded"
    [event] = attempt.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "engine exploded"
    assert "attempt_that_fails" in str(event.attributes["exception.stacktrace"])


UNSAMPLED_PARENT = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"}
SAMPLED_PARENT = {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"}


@pytest.mark.parametrize(
    ("environ", "parent", "recorded"),
    [
        ({}, None, True),  # parentbased_always_on, the default
        ({}, SAMPLED_PARENT, True),
        ({}, UNSAMPLED_PARENT, False),  # the caller decided not to sample this trace
        ({"OTEL_TRACES_SAMPLER": "always_on"}, UNSAMPLED_PARENT, True),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, None, False),
        ({"OTEL_TRACES_SAMPLER": "always_off"}, SAMPLED_PARENT, False),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, None, False),
        ({"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, SAMPLED_PARENT, True),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}, None, False),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"}, None, True),
        (
            {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
            SAMPLED_PARENT,
            True,
        ),
        ({"OTEL_TRACES_SAMPLER": "no_such_sampler"}, None, True),  # warned, the default used
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, None, True),
    ],
)
def test_the_sampler_follows_otel_traces_sampler(
    environ: dict[str, str], parent: dict[str, str] | None, recorded: bool
) -> None:
    sink = Collected()
    tracing.enable(sink, tracing.sampler_from(environ))
    try:
        with tracing.span("task.create", parent=parent):
            handed_on = tracing.carrier()
            with tracing.span("task.attempt") as inner:
                inner.set_attribute("reelgate.attempt", 1)
    finally:
        tracing.shutdown_tracing()
    assert [span.name for span in sink.spans] == (
        ["task.attempt", "task.create"] if recorded else []
    )
    # Whatever the decision, the context is handed on, and says whether the trace is sampled.
    assert handed_on is not None
    assert handed_on["traceparent"].endswith("-01" if recorded else "-00")
    if parent is not None:
        assert handed_on["traceparent"].split("-")[1] == CLIENT_TRACE


def test_the_trace_id_ratio_compares_the_low_64_bits() -> None:
    half = tracing.sampler_from(
        {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}
    )
    assert half(None, (7 << 64) | 0)
    assert half(None, (1 << 63) - 1)
    assert not half(None, 1 << 63)
    assert not half(None, (7 << 64) | (1 << 64) - 1)


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        f"00-{CLIENT_TRACE.upper()}-{CLIENT_SPAN}-01",  # upper case is not the format
        f"00-{'0' * 32}-{CLIENT_SPAN}-01",  # an all-zero trace id is invalid
        f"00-{CLIENT_TRACE}-{'0' * 16}-01",
        f"ff-{CLIENT_TRACE}-{CLIENT_SPAN}-01",  # version ff is forbidden
        f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01-extra",  # version 00 has nothing after the flags
        f"00-{CLIENT_TRACE}-{CLIENT_SPAN}",
        "not a traceparent",
    ],
)
def test_a_malformed_traceparent_starts_a_new_trace(exported: Collected, traceparent: str) -> None:
    with tracing.span("POST /v1/videos", parent={"traceparent": traceparent}):
        pass
    [span] = exported.spans
    assert span.parent_id == 0
    assert not span.parent_remote
    assert f"{span.trace_id:032x}" != CLIENT_TRACE


def test_a_later_version_and_the_tracestate_are_carried_on(exported: Collected) -> None:
    incoming = {
        "traceparent": f"01-{CLIENT_TRACE}-{CLIENT_SPAN}-01-what-a-later-version-adds",
        "tracestate": "vendor=abc",
    }
    with tracing.span("POST /v1/videos", parent=incoming), tracing.span("task.create"):
        handed_on = tracing.carrier()
    create, server = exported.spans
    assert f"{server.trace_id:032x}" == CLIENT_TRACE
    assert f"{server.parent_id:016x}" == CLIENT_SPAN
    assert create.parent_id == server.span_id
    assert (server.tracestate, create.tracestate) == ("vendor=abc", "vendor=abc")
    assert handed_on == {
        "traceparent": f"00-{CLIENT_TRACE}-{create.span_id:016x}-01",
        "tracestate": "vendor=abc",
    }


def test_a_failed_span_keeps_its_description_and_its_attributes(exported: Collected) -> None:
    with tracing.span("webhook.deliver", kind=tracing.SpanKind.CLIENT) as span:
        span.set_attributes({"server.address": "http://127.0.0.1:9", "reelgate.attempt": 2})
        span.update_name("webhook.deliver")
        span.fail("answered 503")
    assert tracing.current() is tracing.NO_SPAN  # nothing current once the block has left
    [span_done] = exported.spans
    assert span_done.kind is tracing.SpanKind.CLIENT
    assert span_done.error == "answered 503"
    assert span_done.events == ()
    assert span_done.attributes == {"server.address": "http://127.0.0.1:9", "reelgate.attempt": 2}
