"""A loopback OTLP/HTTP trace receiver: what an OpenTelemetry collector is to reelgate.

It accepts `POST /v1/traces` (protobuf, optionally gzip), decodes each export with
opentelemetry-proto and keeps every span with its service name, so a test can read the trees a
`reelgate serve` or `worker` exported. Point a process at it with
`OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint`.

    with OtlpReceiver().running() as receiver:
        ...
        spans = receiver.wait_for(lambda spans: ..., timeout=60)
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

HOST = "127.0.0.1"
TRACES_PATH = "/v1/traces"
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: str
    trace_id: str  # hex, as in a traceparent
    span_id: str
    parent_id: str  # "" for a root span
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, Any] = field(default_factory=dict)
    status_message: str = ""
    events: tuple[tuple[str, dict[str, Any]], ...] = ()  # (name, attributes) each
    tracestate: str = ""


class OtlpReceiver:
    """`keep_spans=False` only counts them (`span_count`): a sink for a benchmark."""

    def __init__(self, keep_spans: bool = True) -> None:
        self.spans: list[ReceivedSpan] = []
        self.exports = 0
        self.span_count = 0
        self._keep = keep_spans
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != TRACES_PATH:
                    self.send_error(404)
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._add(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces)."""
        return f"http://{HOST}:{self._server.server_address[1]}"

    @contextmanager
    def running(self) -> Iterator[OtlpReceiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()

    def _add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        count = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        for resource_spans in request.resource_spans if self._keep else ():
            resource = _attributes(resource_spans.resource.attributes)
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=service,
                            name=span.name,
                            kind=KINDS.get(span.kind, str(span.kind)),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            error=span.status.code == 2,  # STATUS_CODE_ERROR
                            attributes=_attributes(span.attributes),
                            status_message=span.status.message,
                            events=tuple(
                                (event.name, _attributes(event.attributes)) for event in span.events
                            ),
                            tracestate=span.trace_state,
                        )
                    )
        with self._lock:
            self.exports += 1
            self.span_count += count
            self.spans.extend(received)
            self._lock.notify_all()

    def wait_for(
        self, done: Callable[[list[ReceivedSpan]], bool], timeout: float
    ) -> list[ReceivedSpan]:
        """Every span received, once `done(spans)` holds; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not done(list(self.spans)):
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted({(s.service, s.name) for s in self.spans})
                    raise AssertionError(f"spans not complete after {timeout}s: {names}")
                self._lock.wait(left)
            return list(self.spans)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
