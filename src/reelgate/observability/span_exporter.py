"""The span exporter process: `python -m reelgate.observability.span_exporter SERVICE_NAME`.

It reads batches of finished spans from standard input (written by `span_export.ExportProcess`
in the process that made them), rebuilds each as an OpenTelemetry SDK span and exports it with
the SDK's exporter (OTLP/HTTP, or the console), configured by the standard `OTEL_*` variables
it inherits. It exports what it has read and exits when its input closes. Only this process
imports the SDK; it needs the `otel` extra.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from reelgate.observability.span_export import exporter_name, read_batch
from reelgate.observability.spans import FinishedSpan

log = logging.getLogger(__name__)

SCOPE = "reelgate"  # the instrumentation scope of every span
SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED)  # only sampled spans are ever sent here
UNSET = trace.Status(trace.StatusCode.UNSET)


def main(argv: Sequence[str]) -> int:
    """The child: read batches from standard input and export each, until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    [service_name] = argv
    exporter = _exporter(os.environ)
    resource = _resource(service_name)
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
        return ConsoleSpanExporter()
    if name != "otlp":
        log.warning("tracing: OTEL_TRACES_EXPORTER=%s is not supported; using otlp", name)
    return OTLPSpanExporter()


def _resource(service_name: str) -> Resource:
    """The resource the variables describe (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), named
    `service_name` unless they name the service."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    return resource


def _readable(span: FinishedSpan, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
    state = trace.TraceState.from_header([span.tracestate]) if span.tracestate else None
    context = trace.SpanContext(span.trace_id, span.span_id, False, SAMPLED, state)
    parent = (
        trace.SpanContext(span.trace_id, span.parent_id, span.parent_remote, SAMPLED, state)
        if span.parent_id
        else None
    )
    status = trace.Status(trace.StatusCode.ERROR, span.error) if span.error is not None else UNSET
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
