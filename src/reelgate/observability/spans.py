"""The shape of a finished span, shared by the recorder (`tracing`), the export queue
(`span_export`) and the exporter process (`span_exporter`)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple, Protocol

AttributeValue = str | bool | int | float
Attributes = Mapping[str, AttributeValue]


class SpanKind(StrEnum):
    INTERNAL = "internal"
    SERVER = "server"  # the HTTP request
    CLIENT = "client"  # a webhook delivery


class SpanEvent(NamedTuple):
    name: str
    time_ns: int
    attributes: dict[str, AttributeValue]


class FinishedSpan(NamedTuple):
    """A sampled span once it has ended: what a sink receives (and the exporter process, pickled
    in batches)."""

    trace_id: int
    span_id: int
    parent_id: int  # 0 for the root of a trace
    parent_remote: bool  # the parent came from a carrier: another process, or the client
    name: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    attributes: dict[str, AttributeValue]
    error: str | None  # the error status's description, None when the span did not fail
    events: tuple[SpanEvent, ...]
    tracestate: str  # the W3C tracestate inherited from a remote parent, "" if none


class SpanSink(Protocol):
    def add(self, span: FinishedSpan) -> None:
        """Take an ended span; called on the thread that ended it, so it must not block."""

    def shutdown(self) -> None:
        """Export what is still held, then stop."""
