"""Spans leave through the export process: a real child running the SDK's OTLP exporter,
posting to a loopback collector. The process that made the spans never imports the SDK."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reelgate.observability import tracing
from reelgate.observability.span_export import ExportProcess, read_batch
from tests.support.otlp import OtlpReceiver
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
EXPORT_SECONDS = 60.0
NEVER_MS = "600000"  # a schedule delay no test waits for: batches leave when full or at shutdown


def _environ(endpoint: str, **more: str) -> dict[str, str]:
    base = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    return {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, **more}


def _span(name: str, trace_id: int = 1, span_id: int = 1) -> tracing.FinishedSpan:
    return tracing.FinishedSpan(
        trace_id, span_id, 0, False, name, tracing.SpanKind.INTERNAL, 10, 20, {}, None, (), ""
    )


def test_spans_reach_the_collector_as_they_were_made() -> None:
    with OtlpReceiver().running() as collector:
        tracing.enable(ExportProcess("reelgate-test", _environ(collector.endpoint)))
        try:
            incoming = {
                "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                "tracestate": "vendor=abc",
            }
            with tracing.span(
                "POST /v1/videos",
                parent=incoming,
                kind=tracing.SpanKind.SERVER,
                attributes={"http.request.method": "POST"},
            ) as server:
                server.set_attributes({"http.response.status_code": 500, "ok": False})
                server.fail("answered 500")
                try:
                    with tracing.span("task.create", attributes={"reelgate.attempt": 1}):
                        raise ValueError("no such model")
                except ValueError:
                    pass
        finally:
            tracing.shutdown_tracing()  # waits for the child's last export
        spans = {span.name: span for span in collector.spans}

    assert set(spans) == {"POST /v1/videos", "task.create"}
    server_span, create = spans["POST /v1/videos"], spans["task.create"]
    assert {span.service for span in spans.values()} == {"reelgate-test"}
    assert (server_span.kind, server_span.trace_id, server_span.parent_id) == (
        "server",
        CLIENT_TRACE,
        CLIENT_SPAN,
    )
    assert server_span.attributes == {
        "http.request.method": "POST",
        "http.response.status_code": 500,
        "ok": False,
    }
    assert (server_span.error, server_span.status_message) == (True, "answered 500")
    assert server_span.tracestate == "vendor=abc"
    assert (create.kind, create.trace_id, create.parent_id) == (
        "internal",
        CLIENT_TRACE,
        server_span.span_id,
    )
    assert create.attributes == {"reelgate.attempt": 1}
    assert (create.error, create.status_message) == (True, "ValueError: no such model")
    [(event, attributes)] = create.events
    assert event == "exception"
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "no such model"
    assert server_span.start_ns <= create.start_ns <= create.end_ns <= server_span.end_ns


def test_otel_service_name_names_the_service() -> None:
    with OtlpReceiver().running() as collector:
        environ = _environ(collector.endpoint, OTEL_SERVICE_NAME="api-eu-1")
        export = ExportProcess("reelgate", environ)
        export.add(_span("task.create"))
        export.shutdown()
        [span] = collector.spans
    assert (span.service, span.name) == ("api-eu-1", "task.create")


def test_a_full_queue_drops_spans_rather_than_waiting() -> None:
    # Spans added far faster than a batch can be pickled and written (the exporter's thread
    # also needs the interpreter lock to drain): the queue of 3 overflows, however the two
    # threads happen to interleave, and every span is either exported or counted as dropped.
    added = 10_000
    with OtlpReceiver().running() as collector:
        environ = _environ(
            collector.endpoint, OTEL_BSP_MAX_QUEUE_SIZE="3", OTEL_BSP_SCHEDULE_DELAY=NEVER_MS
        )
        export = ExportProcess("reelgate", environ)
        for number in range(added):
            export.add(_span(f"span {number}", span_id=number + 1))
        export.shutdown()
        received = [span.name for span in collector.spans]
    assert export.dropped > 0
    assert len(received) + export.dropped == added
    assert len(set(received)) == len(received)  # none sent twice


def test_a_batch_leaves_when_it_is_full_and_a_dead_exporter_is_replaced() -> None:
    with OtlpReceiver().running() as collector:
        environ = _environ(
            collector.endpoint,
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2",
            OTEL_BSP_SCHEDULE_DELAY=NEVER_MS,
        )
        export = ExportProcess("reelgate", environ)
        try:
            export.add(_span("first", span_id=1))
            export.add(_span("second", span_id=2))  # a full batch: sent without waiting
            collector.wait_for(lambda spans: len(spans) == 2, EXPORT_SECONDS)

            child = export._child
            assert child is not None
            child.kill()
            child.wait()
            export.add(_span("lost", span_id=3))
            export.add(_span("lost too", span_id=4))  # written to a dead child: dropped
            wait_until(
                lambda: export.dropped == 2, EXPORT_SECONDS, what="the batch for the dead child"
            )
            export.add(_span("after", span_id=5))
            export.add(_span("after too", span_id=6))  # a new child takes this batch
            collector.wait_for(lambda spans: len(spans) == 4, EXPORT_SECONDS)
        finally:
            export.shutdown()
        names = [span.name for span in collector.spans]
    assert export.dropped == 2
    assert names == ["first", "second", "after", "after too"]
    assert export._child is None  # shut down: the replacement exited too


TRACED_SCRIPT = textwrap.dedent(
    """
    import sys
    from reelgate.observability import tracing

    assert tracing.configure_tracing("reelgate")
    with tracing.span("task.create"):
        pass
    tracing.shutdown_tracing()
    # Finding the extra without importing it imports its two package markers, nothing more.
    found = {"opentelemetry", "opentelemetry.sdk"}
    prefixes = ("opentelemetry", "google.protobuf", "requests")
    loaded = [m for m in sys.modules if m.startswith(prefixes) and m not in found]
    print("loaded:", loaded)
    """
)


def test_the_traced_process_never_imports_the_sdk() -> None:
    with OtlpReceiver().running() as collector:
        done = subprocess.run(
            [sys.executable, "-c", TRACED_SCRIPT],
            cwd=ROOT,
            env=_environ(collector.endpoint),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "loaded: []" in done.stdout, done.stdout
        [span] = collector.spans  # exported by the child before shutdown returned
    assert (span.service, span.name) == ("reelgate", "task.create")


def test_a_batch_cut_short_ends_the_input_rather_than_failing() -> None:
    batch = pickle.dumps([tuple(_span("whole"))])
    whole = len(batch).to_bytes(4, "big") + batch
    assert [span.name for span in read_batch(io.BytesIO(whole)) or []] == ["whole"]
    assert read_batch(io.BytesIO(whole[:-3])) is None  # the parent died mid-write
    assert read_batch(io.BytesIO(whole[:2])) is None
    assert read_batch(io.BytesIO(b"")) is None


@pytest.mark.parametrize("raw", ["", "lots", "-5", "0", "2.5"])
def test_a_batch_setting_that_is_not_a_positive_number_falls_back_to_the_default(
    raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {
        "OTEL_BSP_MAX_QUEUE_SIZE": raw,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": raw,
        "OTEL_BSP_SCHEDULE_DELAY": raw,
    }
    export = ExportProcess("reelgate", environ)
    export.shutdown()  # nothing was added: no child was started
    assert (export.max_queue, export.batch_size, export.delay) == (2048, 512, 5.0)
    warned = [r.getMessage() for r in caplog.records if "positive whole number" in r.getMessage()]
    assert len(warned) == (0 if raw == "" else 3), warned
