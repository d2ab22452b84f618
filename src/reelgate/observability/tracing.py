"""OpenTelemetry traces of a task's life: the HTTP request, the create, each attempt's claim,
engine run, encode and upload, and each webhook delivery, in one trace across processes.

Tracing is on only when the `otel` extra is installed and the standard variables name an
exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_TRACES_EXPORTER`). Otherwise `configure_tracing` leaves it off, opentelemetry is never
imported, and every call here returns a shared do-nothing span: a few attribute lookups.

The create stores its span's W3C `traceparent` with the task (`Task.trace_context`); the worker
and the notifier start their spans as children of it, so a worker process on another machine,
hours later, still joins the trace that made the task.

The provider is kept here rather than installed as OpenTelemetry's global one on purpose:
FastAPI traces every request by itself once a global provider exists (several spans per
request, beside ours), and a test process that configured tracing once could not undo it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import Status, Tracer

log = logging.getLogger(__name__)

Carrier = dict[str, str]  # {"traceparent": "00-<trace id>-<span id>-<flags>"[, "tracestate"]}
AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]

EXPORTER_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)
SCOPE = "reelgate"


class SpanKind(StrEnum):
    INTERNAL = "internal"
    SERVER = "server"  # the HTTP request
    CLIENT = "client"  # a webhook delivery


class Span(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...

    def set_attributes(self, attributes: Attributes) -> None:
        """Several at once: one lock taken on the live span rather than one per attribute."""

    def update_name(self, name: str) -> None: ...

    def fail(self, description: str) -> None:
        """Mark the span as an error (an exception escaping it is recorded by itself)."""


class _NoSpan:
    """What every call returns while tracing is off: one shared object that does nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        return None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        return None

    def set_attributes(self, attributes: Attributes) -> None:
        return None

    def update_name(self, name: str) -> None:
        return None

    def fail(self, description: str) -> None:
        return None


NO_SPAN = _NoSpan()


class _Tracing:
    """The live half, built only once opentelemetry is known to be importable."""

    def __init__(self, provider: TracerProvider) -> None:
        from opentelemetry import context, trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self.provider = provider
        self.attach = context.attach
        self.detach = context.detach
        self.in_context = trace.set_span_in_context
        self.error = trace.StatusCode.ERROR
        self._status = trace.Status
        self._current = trace.get_current_span
        self._tracer: Tracer = provider.get_tracer(SCOPE)
        self._propagator = TraceContextTextMapPropagator()
        self._kinds = {
            SpanKind.INTERNAL: trace.SpanKind.INTERNAL,
            SpanKind.SERVER: trace.SpanKind.SERVER,
            SpanKind.CLIENT: trace.SpanKind.CLIENT,
        }

    def span(
        self,
        name: str,
        parent: Mapping[str, str] | None,
        kind: SpanKind,
        attributes: Attributes | None,
        start_ns: int | None,
    ) -> _LiveSpan:
        span = self._tracer.start_span(
            name,
            context=self._propagator.extract(parent) if parent else None,
            kind=self._kinds[kind],
            attributes=attributes,
            start_time=start_ns,
        )
        return _LiveSpan(span, self)

    def current(self) -> Span:
        return _LiveSpan(self._current(), self)

    def carrier(self) -> Carrier | None:
        carrier: Carrier = {}
        self._propagator.inject(carrier)
        return carrier or None

    def status(self, description: str) -> Status:
        return self._status(self.error, description)


class _LiveSpan:
    """A span, current between `__enter__` and `__exit__` and ended at `__exit__`. (The SDK's
    own `start_as_current_span` does the same through three nested generators: this costs
    less per request.)"""

    __slots__ = ("_owner", "_span", "_token")

    def __init__(self, span: OtelSpan, owner: _Tracing) -> None:
        self._span = span
        self._owner = owner
        self._token: Token[Context] | None = None

    def __enter__(self) -> _LiveSpan:
        self._token = self._owner.attach(self._owner.in_context(self._span))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None and error is not None:
            self._span.record_exception(error)
            self._span.set_status(self._owner.status(f"{kind.__name__}: {error}"))
        if self._token is not None:
            self._owner.detach(self._token)
        self._span.end()

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def set_attributes(self, attributes: Attributes) -> None:
        self._span.set_attributes(attributes)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def fail(self, description: str) -> None:
        self._span.set_status(self._owner.status(description))


_tracing: _Tracing | None = None


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces: an exporter named, the SDK not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return any(environ.get(name, "").strip() for name in EXPORTER_VARIABLES)


def installed() -> bool:
    """Whether the `otel` extra is installed (looked up without importing it)."""
    try:
        return importlib.util.find_spec("opentelemetry.sdk.trace") is not None
    except ModuleNotFoundError:
        return False


def configure_tracing(service_name: str) -> bool:
    """Turn tracing on for this process if the extra is installed and the environment names
    an exporter; returns whether it is on. `service_name` applies unless OTEL_SERVICE_NAME
    (or `service.name` in OTEL_RESOURCE_ATTRIBUTES) names the service."""
    global _tracing
    environ = os.environ
    if _tracing is not None or not wanted(environ):
        return _tracing is not None
    if not installed():
        log.warning(
            "tracing: OTEL_* variables are set but the otel extra is not installed "
            "(pip install 'reelgate[otel]'); tracing stays off"
        )
        return False
    enable(_provider(service_name, environ))
    log.info("tracing: spans exported (%s)", _exporter_name(environ))
    return True


def enable(provider: TracerProvider) -> None:
    """Trace with `provider` (an SDK provider with its processors and exporters already added):
    what `configure_tracing` does with the one the environment describes, and what tests do
    with an in-memory exporter. `shutdown_tracing` undoes it."""
    global _tracing
    _tracing = _Tracing(provider)


def shutdown_tracing() -> None:
    """Export the spans still queued and stop; tracing is off afterwards."""
    global _tracing
    if _tracing is not None:
        tracing, _tracing = _tracing, None
        tracing.provider.shutdown()


def enabled() -> bool:
    return _tracing is not None


def span(
    name: str,
    *,
    parent: Mapping[str, str] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes | None = None,
    start_ns: int | None = None,
) -> AbstractContextManager[Span]:
    """A span around the block, current inside it. Its parent is the context in `parent` (a
    carrier from `carrier()`, e.g. a task's `trace_context`) or else the current span; a
    `parent` of None outside any span starts a new trace. `start_ns` (`time.time_ns()`) backdates
    its start. An exception leaving the block is recorded and marks the span an error."""
    if _tracing is None:
        return NO_SPAN
    return _tracing.span(name, parent, kind, attributes, start_ns)


def record(name: str, start_ns: int, attributes: Attributes | None = None) -> None:
    """A span from `start_ns` to now, a child of the current span: for a stage whose end is
    known only once it is over (the claim, the encoder that ran beside the engine)."""
    if _tracing is not None:
        _tracing.span(name, None, SpanKind.INTERNAL, attributes, start_ns)._span.end()


def current() -> Span:
    """The current span (a do-nothing one outside any span, or while tracing is off)."""
    if _tracing is None:
        return NO_SPAN
    return _tracing.current()


def carrier() -> Carrier | None:
    """The current span's context as W3C trace context headers; None when there is none."""
    if _tracing is None:
        return None
    return _tracing.carrier()


def now_ns() -> int:
    """A span start time (`record`, `span(start_ns=…)`)."""
    return time.time_ns()


def _exporter_name(environ: Mapping[str, str]) -> str:
    return environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "otlp"


def _provider(service_name: str, environ: Mapping[str, str]) -> TracerProvider:
    """An SDK provider configured by the standard variables: the resource (OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES), the sampler (OTEL_TRACES_SAMPLER), the batch processor
    (OTEL_BSP_*) and the OTLP/HTTP exporter (OTEL_EXPORTER_OTLP_*), all read by the SDK."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    exporter: SpanExporter
    name = _exporter_name(environ)
    if name == "console":
        exporter = ConsoleSpanExporter()
    else:
        if name != "otlp":
            log.warning("tracing: OTEL_TRACES_EXPORTER=%s is not supported; using otlp", name)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
