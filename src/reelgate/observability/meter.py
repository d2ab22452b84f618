"""What an engine counts while it runs, reported to the metrics of the worker that runs it.

A worker binds its `Metrics` and the task's model around one attempt (`metering`); the engine
reports through the functions here without knowing either: `upstream_call` once per HTTP call
to an upstream, `denoised` once per pipeline run. The binding is a contextvar, like
`log_context`, so each worker thread and each job coroutine has its own; outside a binding (a
benchmark, `reelgate models --check`) a report goes nowhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import NamedTuple

from reelgate.observability.metrics import Metrics


class _Binding(NamedTuple):
    metrics: Metrics
    model: str


_bound: ContextVar[_Binding | None] = ContextVar("reelgate_meter", default=None)


@contextlib.contextmanager
def metering(metrics: Metrics | None, model: str) -> Iterator[None]:
    """Count what engines report inside the block for `model`, on `metrics` (None: nowhere)."""
    token = _bound.set(None if metrics is None else _Binding(metrics, model))
    try:
        yield
    finally:
        _bound.reset(token)


def upstream_call(endpoint: str, status: str, seconds: float) -> None:
    """One HTTP call to an upstream: `endpoint` the operation (create, poll, cancel, download),
    `status` its label (`status_label`), `seconds` from sending to the end of the answer."""
    bound = _bound.get()
    if bound is not None:
        bound.metrics.upstream_call(bound.model, endpoint, status, seconds)


def denoised(steps: int, seconds: float) -> None:
    """One pipeline run took `steps` denoising steps in `seconds` (a cancelled run: those done)."""
    bound = _bound.get()
    if bound is not None:
        bound.metrics.denoising(bound.model, steps, seconds)


def status_label(code: int) -> str:
    """An HTTP status as a bounded label: its class (`2xx` … `5xx`), and `429` on its own, the
    one code an operator of an upstream acts on apart from its class (the upstream throttles)."""
    if code == 429:
        return "429"
    return f"{code // 100}xx" if 100 <= code < 600 else "other"
