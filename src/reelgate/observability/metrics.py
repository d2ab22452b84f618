"""Every Prometheus metric family reelgate exports, on one registry per `Metrics` object.

A process builds one `Metrics` (runtime.py) and hands it to the app, the workers and the
notifier. Each has a registry of its own rather than prometheus-client's global one, because
tests start the whole app several times in one process: a global registry would refuse the
second registration, or mix the apps' counts.

Labels are bounded on purpose: a route template (never a path with ids in it), a method, a
status, a model or dialect name from the configuration, an outcome from a fixed set. No label
ever carries a task id, a prompt or a key.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from reelgate.observability.store_gauges import StoreCollector, StoreReader

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. HTTP answers are milliseconds; a render is seconds to an hour; a queue wait can be
# anything from nothing to hours when no worker serves a model.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUEUE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
RATE_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0)

# The stages a worker writes into a task's `timings` that have a histogram of their own.
STAGES = ("queue_wait", "engine", "encode", "upload")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"  # 404s and anything no route template matched


class Metrics:
    """The families, with one method per event the code reports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        self.http_requests = Counter(
            "reelgate_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "reelgate_http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer.",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.tasks_created = Counter(
            "reelgate_tasks_created",
            "Tasks queued, by the dialect that created them and their model.",
            ["dialect", "model"],
            registry=r,
        )
        self.tasks_finished = Counter(
            "reelgate_tasks_finished",
            "Tasks that reached a terminal status, by model, engine and status.",
            ["model", "engine", "status"],
            registry=r,
        )
        self.stage_seconds = {
            stage: Histogram(
                f"reelgate_task_{stage}_seconds",
                f"Seconds of `{stage}` per finished attempt (the task's `timings`).",
                ["model"],
                buckets=QUEUE_BUCKETS if stage == "queue_wait" else STAGE_BUCKETS,
                registry=r,
            )
            for stage in STAGES
        }
        self.retries = Counter(
            "reelgate_task_retries",
            "Claims of a task beyond its first (a worker died or lost the lease before).",
            ["model"],
            registry=r,
        )
        self.lease_expiries = Counter(
            "reelgate_lease_expiries",
            "Running tasks whose lease lapsed, by what the reaper did with them.",
            ["outcome"],
            registry=r,
        )
        self.cancellations = Counter(
            "reelgate_task_cancellations",
            "Tasks cancelled, by whether they were still queued or already running.",
            ["stage"],
            registry=r,
        )
        self.frames_per_second = Histogram(
            "reelgate_engine_frames_per_second",
            "Frames per second of engine time, per finished attempt.",
            ["model"],
            buckets=RATE_BUCKETS,
            registry=r,
        )
        self.frames = Counter(
            "reelgate_engine_frames",
            "Frames produced by frame engines in successful attempts.",
            ["model"],
            registry=r,
        )
        self.steps = Counter(
            "reelgate_engine_denoising_steps",
            "Denoising steps run, for engines that denoise (those of cancelled runs included).",
            ["model"],
            registry=r,
        )
        self.steps_per_second = Histogram(
            "reelgate_engine_steps_per_second",
            "Denoising steps per second of one pipeline run, for engines that denoise.",
            ["model"],
            buckets=RATE_BUCKETS,
            registry=r,
        )
        self.gpu_memory_peak = Histogram(
            "reelgate_gpu_memory_peak_bytes",
            "Peak GPU memory allocated by one attempt, where a GPU is used.",
            ["model"],
            buckets=tuple(float(2**n) * 2**30 for n in range(8)),  # 1 GiB .. 128 GiB
            registry=r,
        )
        self.upstream_calls = Counter(
            "reelgate_upstream_calls",
            "HTTP calls to upstream video APIs, by model, operation (create, poll, cancel, "
            "download) and status (2xx..5xx, 429, timeout, error).",
            ["model", "endpoint", "status"],
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "reelgate_upstream_call_duration_seconds",
            "Latency of HTTP calls to upstream video APIs, by model and operation.",
            ["model", "endpoint"],
            buckets=(*HTTP_BUCKETS, 30.0, 60.0),
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "reelgate_webhook_deliveries",
            "Webhook delivery attempts: delivered, retry (will be tried again) or failed "
            "(given up: 410 Gone, the task deleted, or the schedule ran out).",
            ["outcome"],
            registry=r,
        )
        self.webhook_seconds = Histogram(
            "reelgate_webhook_delivery_duration_seconds",
            "Latency of one webhook delivery attempt.",
            buckets=(*HTTP_BUCKETS, 15.0, 30.0, 60.0),
            registry=r,
        )

    # -- HTTP ------------------------------------------------------------------------------------
    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "OTHER"
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_seconds.labels(route, method).observe(seconds)

    # -- tasks -----------------------------------------------------------------------------------
    def task_created(self, dialect: str, model: str) -> None:
        self.tasks_created.labels(dialect, model).inc()

    def task_claimed(self, model: str, attempt: int) -> None:
        if attempt > 1:
            self.retries.labels(model).inc()

    def task_finished(
        self,
        model: str,
        engine: str,
        status: str,
        timings: Mapping[str, float] | None = None,
        frames: int = 0,
    ) -> None:
        """One attempt ended the task (or, with `status` "cancelled", stopped on a cancel)."""
        self.tasks_finished.labels(model, engine, status).inc()
        for stage, seconds in (timings or {}).items():
            histogram = self.stage_seconds.get(stage)
            if histogram is not None:
                histogram.labels(model).observe(seconds)
        engine_seconds = (timings or {}).get("engine", 0.0)
        if frames:
            self.frames.labels(model).inc(frames)
        if frames and engine_seconds > 0:
            self.frames_per_second.labels(model).observe(frames / engine_seconds)
        peak = gpu_memory_peak_bytes()
        if peak:
            self.gpu_memory_peak.labels(model).observe(peak)

    def task_cancelled(self, stage: str) -> None:
        self.cancellations.labels(stage).inc()

    def leases_expired(self, requeued: int, failed: int, cancelled: int) -> None:
        counts = {"requeued": requeued, "failed": failed, "cancelled": cancelled}
        for outcome, count in counts.items():
            if count:
                self.lease_expiries.labels(outcome).inc(count)

    # -- engines (reported through observability/meter.py) ---------------------------------------
    def denoising(self, model: str, steps: int, seconds: float) -> None:
        """One pipeline run: `steps` denoising steps in `seconds`."""
        if steps:
            self.steps.labels(model).inc(steps)
        if steps and seconds > 0:
            self.steps_per_second.labels(model).observe(steps / seconds)

    def upstream_call(self, model: str, endpoint: str, status: str, seconds: float) -> None:
        """One HTTP call to an upstream API: `endpoint` the operation, `status` a bounded label
        (`meter.status_label`, or `timeout` / `error` when no answer came)."""
        self.upstream_calls.labels(model, endpoint, status).inc()
        self.upstream_seconds.labels(model, endpoint).observe(seconds)

    # -- webhooks --------------------------------------------------------------------------------
    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        self.webhook_deliveries.labels(outcome).inc()
        self.webhook_seconds.observe(seconds)

    # -- store gauges and exposition -------------------------------------------------------------
    def watch_store(self, read: StoreReader) -> None:
        """Export the queue, worker and outbox gauges, read from the store at each scrape."""
        self.registry.register(StoreCollector(read))

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def gpu_memory_peak_bytes() -> int:
    """Peak CUDA memory since the last call, then reset; 0 where torch or CUDA is not in use.

    Torch is never imported here: a process that never loaded it has no GPU memory to report.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return 0
    try:
        if not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return 0
        peak = int(torch.cuda.max_memory_allocated())
        torch.cuda.reset_peak_memory_stats()
    except (RuntimeError, AttributeError):
        return 0
    return peak
