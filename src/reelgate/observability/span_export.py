"""Finished spans leave the process that made them: batched on a thread, pickled down a pipe to
a child process, which turns them into OpenTelemetry SDK spans and exports them with the SDK's
exporter (OTLP/HTTP, or the console), configured by the standard `OTEL_*` variables it inherits.

The process that serves requests pays for a span a tuple and a queue append; the protobuf
encoding (pure Python in the SDK) and the HTTP calls to the collector run in the child, on
another core, without the parent's interpreter lock.

    ExportProcess   the parent's side, a `tracing.SpanSink`
    main            the child's side: `python -m reelgate.observability.span_export SERVICE`

The batching follows the SDK's batch processor and its variables: a batch leaves when
`OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans (512) are waiting or `OTEL_BSP_SCHEDULE_DELAY`
milliseconds (5000) have passed; beyond `OTEL_BSP_MAX_QUEUE_SIZE` (2048) waiting spans, new
ones are dropped and counted rather than ever blocking a request. The child exports what it has
read and exits when its input closes, which is also what happens when the parent is killed.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING

from reelgate.observability.spans import FinishedSpan

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

log = logging.getLogger(__name__)

HEADER_BYTES = 4  # each batch: its pickle's length, big-endian, then the pickle
EXIT_SECONDS = 30.0  # how long shutdown waits for the child's last export
SCOPE = "reelgate"  # the instrumentation scope of every span


def exporter_name(environ: Mapping[str, str]) -> str:
    return environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "otlp"


def _setting(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        value = 0
    if value <= 0:
        log.warning("tracing: %s=%r is not a positive whole number; using %d", name, raw, default)
        return default
    return value


class ExportProcess:
    """Hands finished spans to an exporter in a process of its own (started with the first
    batch, and again if it dies)."""

    def __init__(self, service_name: str, environ: Mapping[str, str] = os.environ) -> None:
        self.service_name = service_name
        self._environ = dict(environ)  # the child's: the exporter reads its OTEL_* there
        self.dropped = 0
        self.max_queue = _setting(environ, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        self.batch_size = min(
            _setting(environ, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), self.max_queue
        )
        self.delay = _setting(environ, "OTEL_BSP_SCHEDULE_DELAY", 5000) / 1000.0
        self._queue: deque[FinishedSpan] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._child: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, name="reelgate-span-export", daemon=True)
        self._thread.start()

    def add(self, span: FinishedSpan) -> None:
        queue = self._queue
        if len(queue) >= self.max_queue:
            self.dropped += 1
            return
        queue.append(span)
        if len(queue) >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def shutdown(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join(EXIT_SECONDS)
        child, self._child = self._child, None
        if child is not None:
            _close(child, EXIT_SECONDS)
        if self.dropped:
            log.warning("tracing: %d spans dropped, the export queue being full", self.dropped)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.delay)
            self._wake.clear()
            stopping = self._stopping
            while self._queue:
                size = min(self.batch_size, len(self._queue))
                self._send([self._queue.popleft() for _ in range(size)])
            if stopping:
                return

    def _send(self, batch: list[FinishedSpan]) -> None:
        # Plain tuples: a named tuple pickles through a Python call each, a tuple in C.
        frame = pickle.dumps([tuple(span) for span in batch], protocol=pickle.HIGHEST_PROTOCOL)
        try:
            child = self._child if self._child is not None else self._start()
            assert child.stdin is not None
            child.stdin.write(len(frame).to_bytes(HEADER_BYTES, "big") + frame)
            child.stdin.flush()
        except OSError as error:  # the child died (BrokenPipeError) or could not start
            self.dropped += len(batch)
            log.warning("tracing: the span exporter process failed (%s); starting another", error)
            dead, self._child = self._child, None
            if dead is not None:
                _close(dead, 1.0)

    def _start(self) -> subprocess.Popen[bytes]:
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__, self.service_name],
            stdin=subprocess.PIPE,
            env=self._environ,
            start_new_session=True,  # a terminal's Ctrl-C stops the parent, which then closes us
        )
        return self._child


def _close(child: subprocess.Popen[bytes], seconds: float) -> None:
    """End the child's input so it exports what it has, and wait for it to exit."""
    try:
        if child.stdin is not None:
            child.stdin.close()
    except OSError:
        pass
    try:
        child.wait(seconds)
    except subprocess.TimeoutExpired:
        log.warning("tracing: the span exporter process did not finish in %.0f s", seconds)
        child.kill()
        child.wait()


def read_batch(source: IO[bytes]) -> Sequence[FinishedSpan] | None:
    """The next batch from the parent; None once its end of the pipe is closed (a batch cut
    short by the parent's death is not one)."""
    header = source.read(HEADER_BYTES)
    if len(header) < HEADER_BYTES:
        return None
    size = int.from_bytes(header, "big")
    frame = source.read(size)
    if len(frame) < size:
        return None
    rows: list[tuple[object, ...]] = pickle.loads(frame)  # noqa: S301 - our parent's, a pipe
    return [FinishedSpan._make(row) for row in rows]


def main(argv: Sequence[str]) -> int:
    """The child: read batches from standard input and export each, until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    [service_name] = argv
    exporter = _exporter(os.environ)
    resource = _resource(service_name)
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    scope = InstrumentationScope(SCOPE)
    try:
        while (batch := read_batch(sys.stdin.buffer)) is not None:
            exporter.export([_readable(span, resource, scope) for span in batch])
    finally:
        exporter.shutdown()
    return 0


def _exporter(environ: Mapping[str, str]) -> SpanExporter:
    name = exporter_name(environ)
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("tracing: OTEL_TRACES_EXPORTER=%s is not supported; using otlp", name)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _resource(service_name: str) -> Resource:
    """The resource the variables describe (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), named
    `service_name` unless they name the service."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    return resource


def _readable(span: FinishedSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import Event, ReadableSpan

    flags = trace.TraceFlags(trace.TraceFlags.SAMPLED)
    state = trace.TraceState.from_header([span.tracestate]) if span.tracestate else None
    context = trace.SpanContext(span.trace_id, span.span_id, False, flags, state)
    parent = (
        trace.SpanContext(span.trace_id, span.parent_id, span.parent_remote, flags, state)
        if span.parent_id
        else None
    )
    status = (
        trace.Status(trace.StatusCode.ERROR, span.error)
        if span.error is not None
        else trace.Status(trace.StatusCode.UNSET)
    )
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=span.attributes,
        events=[Event(event.name, event.attributes, event.time_ns) for event in span.events],
        kind=trace.SpanKind[span.kind.name],
        status=status,
        start_time=span.start_ns,
        end_time=span.end_ns,
        instrumentation_scope=scope,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
