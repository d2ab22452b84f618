"""OpenTelemetry traces of a task's life: the HTTP request, the create, each attempt's claim,
engine run, encode and upload, and each webhook delivery, in one trace across processes.

Tracing is on only when the `otel` extra is installed and the standard variables name an
exporter (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_TRACES_EXPORTER`). Otherwise `configure_tracing` leaves it off and every call here returns
a shared do-nothing span: a few attribute lookups.

Spans are recorded here and exported elsewhere. A span is a small object with W3C ids, made
current through a context variable; when it ends, if sampled, it becomes a `FinishedSpan` tuple
handed to a `SpanSink`. The sink `configure_tracing` installs (`span_export.ExportProcess`)
batches them to a child process that runs the OpenTelemetry SDK's OTLP exporter. The SDK's own
span objects, and above all its pure-Python protobuf encoding on a thread of the server, cost a
request a good part of its time; here the request pays a few microseconds per span and the
encoding runs on another core. The sampler follows `OTEL_TRACES_SAMPLER` and
`OTEL_TRACES_SAMPLER_ARG` as the specification defines them.

The create stores its span's W3C `traceparent` with the task (`Task.trace_context`); the worker
and the notifier start their spans as children of it, so a worker process on another machine,
hours later, still joins the trace that made the task.

Nothing here installs a global OpenTelemetry provider: FastAPI traces every request by itself
once one exists (several spans per request, beside ours).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import random
import re
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import NamedTuple, Protocol

from reelgate.observability.spans import (
    Attributes,
    AttributeValue,
    FinishedSpan,
    SpanEvent,
    SpanKind,
    SpanSink,
)

__all__ = [
    "NO_SPAN",
    "AttributeValue",
    "Attributes",
    "Carrier",
    "FinishedSpan",
    "Span",
    "SpanEvent",
    "SpanKind",
    "SpanSink",
    "carrier",
    "configure_tracing",
    "current",
    "enable",
    "enabled",
    "record",
    "shutdown_tracing",
    "span",
]

log = logging.getLogger(__name__)

Carrier = dict[str, str]  # {"traceparent": "00-<trace id>-<span id>-<flags>"[, "tracestate"]}

EXPORTER_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
)
# W3C trace context, version 00 (a later version may append fields after the flags).
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
SAMPLED = 0x01


class Span(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None: ...

    def set_attributes(self, attributes: Attributes) -> None: ...

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


class _Parent(NamedTuple):
    trace_id: int
    span_id: int
    sampled: bool
    remote: bool
    tracestate: str


# A sampler decides a new span from its parent (None for a trace's root) and its trace id.
Sampler = Callable[[_Parent | None, int], bool]


class _LiveSpan:
    """A span, current between `__enter__` and `__exit__` and ended at `__exit__`. An unsampled
    one records nothing but still carries its context, so that its children and the traceparent
    it hands on say "not sampled" too."""

    __slots__ = (
        "_recorder",
        "_token",
        "attributes",
        "error",
        "events",
        "kind",
        "name",
        "parent",
        "sampled",
        "span_id",
        "start_ns",
        "trace_id",
    )

    def __init__(
        self,
        recorder: _Recorder,
        name: str,
        kind: SpanKind,
        parent: _Parent | None,
        trace_id: int,
        sampled: bool,
        attributes: Attributes | None,
        start_ns: int,
    ) -> None:
        self._recorder = recorder
        self._token: Token[_LiveSpan | None] | None = None
        self.name = name
        self.kind = kind
        self.parent = parent
        self.trace_id = trace_id
        self.span_id = _new_id(64)
        self.sampled = sampled
        self.attributes: dict[str, AttributeValue] = dict(attributes) if attributes else {}
        self.error: str | None = None
        self.events: tuple[SpanEvent, ...] = ()
        self.start_ns = start_ns

    def __enter__(self) -> _LiveSpan:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is not None and error is not None:
            self._record_exception(kind, error, trace)
        if self._token is not None:
            # A span left in another context than it entered has nothing to undo here.
            with contextlib.suppress(ValueError):
                _current.reset(self._token)
            self._token = None
        self.end()

    def end(self, end_ns: int | None = None) -> None:
        if not self.sampled:
            return
        parent = self.parent
        self._recorder.sink.add(
            FinishedSpan(
                self.trace_id,
                self.span_id,
                parent.span_id if parent else 0,
                parent.remote if parent else False,
                self.name,
                self.kind,
                self.start_ns,
                end_ns or time.time_ns(),
                self.attributes,
                self.error,
                self.events,
                self.tracestate,
            )
        )

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: Attributes) -> None:
        self.attributes.update(attributes)

    def update_name(self, name: str) -> None:
        self.name = name

    def fail(self, description: str) -> None:
        self.error = description

    @property
    def tracestate(self) -> str:
        """The W3C tracestate the trace carried in with its remote root, "" if none."""
        return self.parent.tracestate if self.parent else ""

    def context(self) -> _Parent:
        """This span as the parent of a span started inside it."""
        return _Parent(self.trace_id, self.span_id, self.sampled, False, self.tracestate)

    def traceparent(self) -> str:
        flags = SAMPLED if self.sampled else 0
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{flags:02x}"

    def _record_exception(
        self, kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        self.error = f"{kind.__name__}: {error}"
        if not self.sampled:
            return
        name = kind.__qualname__
        module = kind.__module__
        event = SpanEvent(
            "exception",
            time.time_ns(),
            {
                "exception.type": name if module == "builtins" else f"{module}.{name}",
                "exception.message": str(error),
                "exception.stacktrace": "".join(traceback.format_exception(kind, error, trace)),
                "exception.escaped": False,
            },
        )
        self.events = (*self.events, event)


_current: ContextVar[_LiveSpan | None] = ContextVar("reelgate_span", default=None)


class _Recorder:
    def __init__(self, sink: SpanSink, sampler: Sampler) -> None:
        self.sink = sink
        self.sampler = sampler

    def span(
        self,
        name: str,
        carrier: Mapping[str, str] | None,
        kind: SpanKind,
        attributes: Attributes | None,
        start_ns: int | None,
    ) -> _LiveSpan:
        parent: _Parent | None
        if carrier:
            parent = parse_carrier(carrier)
        else:
            current = _current.get()
            parent = current.context() if current is not None else None
        trace_id = parent.trace_id if parent else _new_id(128)
        sampled = self.sampler(parent, trace_id)
        return _LiveSpan(
            self, name, kind, parent, trace_id, sampled, attributes, start_ns or time.time_ns()
        )


_recorder: _Recorder | None = None


def _new_id(bits: int) -> int:
    """A random trace (128 bits) or span (64 bits) id; zero is not a valid one."""
    while True:
        found = random.getrandbits(bits)
        if found:
            return found


def parse_carrier(carrier: Mapping[str, str]) -> _Parent | None:
    """The remote parent a W3C `traceparent` (and `tracestate`) names; None if it is absent or
    malformed, which makes the new span a trace's root, as the specification asks."""
    match = TRACEPARENT.fullmatch(carrier.get("traceparent", "").strip())
    if match is None:
        return None
    version, trace, span, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    trace_id, span_id = int(trace, 16), int(span, 16)
    if not trace_id or not span_id:
        return None
    tracestate = carrier.get("tracestate", "").strip()
    return _Parent(trace_id, span_id, bool(int(flags, 16) & SAMPLED), True, tracestate)


def sampler_from(environ: Mapping[str, str] = os.environ) -> Sampler:
    """The sampler `OTEL_TRACES_SAMPLER` names (default `parentbased_always_on`), with its ratio
    from `OTEL_TRACES_SAMPLER_ARG` for the `traceidratio` ones (default 1.0)."""
    name = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower() or "parentbased_always_on"
    known = {"always_on", "always_off", "traceidratio"}
    base = name.removeprefix("parentbased_")
    if base not in known:
        log.warning("tracing: OTEL_TRACES_SAMPLER=%s is unknown; using parentbased_always_on", name)
        name, base = "parentbased_always_on", "always_on"
    root: Callable[[int], bool]
    if base == "always_on":
        root = _always(True)
    elif base == "always_off":
        root = _always(False)
    else:
        root = _ratio(environ.get("OTEL_TRACES_SAMPLER_ARG", ""))
    if not name.startswith("parentbased_"):
        return lambda parent, trace_id: root(trace_id)
    return lambda parent, trace_id: parent.sampled if parent is not None else root(trace_id)


def _always(decision: bool) -> Callable[[int], bool]:
    return lambda trace_id: decision


def _ratio(argument: str) -> Callable[[int], bool]:
    """The trace id ratio sampler: the lower 64 bits of the trace id below ratio × 2**64, so
    every process that sees a trace makes the same decision."""
    try:
        ratio = float(argument) if argument.strip() else 1.0
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        log.warning("tracing: OTEL_TRACES_SAMPLER_ARG=%r is not in [0, 1]; using 1.0", argument)
        ratio = 1.0
    bound = round(ratio * (1 << 64))
    return lambda trace_id: (trace_id & 0xFFFFFFFFFFFFFFFF) < bound


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
    environ = os.environ
    if _recorder is not None or not wanted(environ):
        return _recorder is not None
    if not installed():
        log.warning(
            "tracing: OTEL_* variables are set but the otel extra is not installed "
            "(pip install 'reelgate[otel]'); tracing stays off"
        )
        return False
    from reelgate.observability.span_export import ExportProcess, exporter_name

    enable(ExportProcess(service_name, environ), sampler_from(environ))
    log.info("tracing: spans exported (%s)", exporter_name(environ))
    return True


def enable(sink: SpanSink, sampler: Sampler | None = None) -> None:
    """Trace into `sink`, sampled by `sampler` (default: every trace): what `configure_tracing`
    does with an exporter process, and what tests do with a list. `shutdown_tracing` undoes it."""
    global _recorder
    _recorder = _Recorder(sink, sampler or sampler_from({}))


def shutdown_tracing() -> None:
    """Export the spans still held and stop; tracing is off afterwards."""
    global _recorder
    if _recorder is not None:
        recorder, _recorder = _recorder, None
        recorder.sink.shutdown()


def enabled() -> bool:
    return _recorder is not None


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
    if _recorder is None:
        return NO_SPAN
    return _recorder.span(name, parent, kind, attributes, start_ns)


def record(name: str, start_ns: int, attributes: Attributes | None = None) -> None:
    """A span from `start_ns` to now, a child of the current span: for a stage whose end is
    known only once it is over (the claim, the encoder that ran beside the engine)."""
    if _recorder is not None:
        _recorder.span(name, None, SpanKind.INTERNAL, attributes, start_ns).end()


def current() -> Span:
    """The current span (a do-nothing one outside any span, or while tracing is off)."""
    if _recorder is None:
        return NO_SPAN
    return _current.get() or NO_SPAN


def carrier() -> Carrier | None:
    """The current span's context as W3C trace context headers; None when there is none."""
    if _recorder is None:
        return None
    live = _current.get()
    if live is None:
        return None
    found = {"traceparent": live.traceparent()}
    if live.tracestate:
        found["tracestate"] = live.tracestate
    return found


def now_ns() -> int:
    """A span start time (`record`, `span(start_ns=…)`)."""
    return time.time_ns()
