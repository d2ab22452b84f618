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
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
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


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.shutdown_tracing()


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


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
    exported: InMemorySpanExporter,
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
    spans = _by_name(exported)

    server = spans["GET /items/{item_id}"]
    assert server.kind is SpanKind.SERVER
    assert f"{_parent_id(server):016x}" == CLIENT_SPAN
    assert f"{server.context.trace_id:032x}" == CLIENT_TRACE
    assert server.attributes is not None
    assert server.attributes["url.path"] == "/items/42"  # no query: signed links carry secrets
    assert server.attributes["http.response.status_code"] == 200
    lookup = spans["lookup"]
    assert _parent_id(lookup) == server.context.span_id
    assert answer.json()["carrier"].split("-")[2] == f"{lookup.context.span_id:016x}"
    assert "GET" in spans  # an unmatched path keeps the bare method: no ids in span names


def test_a_stored_context_parents_spans_started_later_elsewhere(
    exported: InMemorySpanExporter,
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
    spans = _by_name(exported)

    create, attempt, claim = spans["task.create"], spans["task.attempt"], spans["task.claim"]
    assert attempt.context.trace_id == create.context.trace_id
    assert _parent_id(attempt) == create.context.span_id
    assert _parent_id(claim) == attempt.context.span_id
    assert claim.start_time == start
    assert attempt.status.status_code is StatusCode.ERROR
    assert [event.name for event in attempt.events] == ["exception"]
