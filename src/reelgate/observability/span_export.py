"""Finished spans leave the process that made them: batched on a thread, pickled down a pipe to
a child process, which turns them into OpenTelemetry SDK spans and exports them with the SDK's
exporter (OTLP/HTTP, or the console), configured by the standard `OTEL_*` variables it inherits.

The process that serves requests pays for a span a tuple and a queue append; the protobuf
encoding (pure Python in the SDK) and the HTTP calls to the collector run in the child, on
another core, without the parent's interpreter lock.

    ExportProcess   the parent's side, a `tracing.SpanSink`
    read_batch      what the child (`span_exporter`) reads from the pipe

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
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import IO

from reelgate.observability.spans import FinishedSpan

log = logging.getLogger(__name__)

HEADER_BYTES = 4  # each batch: its pickle's length, big-endian, then the pickle
EXIT_SECONDS = 30.0  # how long shutdown waits for the child's last export
CHILD = "reelgate.observability.span_exporter"  # run as `python -m CHILD SERVICE_NAME`


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
            [sys.executable, "-m", CHILD, self.service_name],
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
