"""What an operator sees of a running reelgate: Prometheus metrics, structured logs, traces.

    metrics        Metrics: every family, on a registry of its own per process
    meter          metering, upstream_call, denoised: what engines count, bound by the worker
    store_gauges   StoreCollector: queue, workers and outbox read from the store at scrape time
    logs           log_context, JsonFormatter, configure_logging (REELGATE_LOG_FORMAT)
    tracing        configure_tracing, span, carrier (OpenTelemetry, the `otel` extra, OTEL_*)
    spans          FinishedSpan: what the recorder hands its sink
    span_export    ExportProcess: batches spans to a child process running the SDK's exporter
    span_exporter  that child process (the only module that imports the SDK)

It sits below the API, the workers and the notifier, which report to it, and knows nothing of
them: the store's numbers reach it as a `StoreSnapshot` built by the composition root.
"""

from reelgate.observability.logs import LogFormat, configure_logging, log_context
from reelgate.observability.metrics import CONTENT_TYPE, Metrics
from reelgate.observability.store_gauges import StoreReader, StoreSnapshot

__all__ = [
    "CONTENT_TYPE",
    "LogFormat",
    "Metrics",
    "StoreReader",
    "StoreSnapshot",
    "configure_logging",
    "log_context",
]
