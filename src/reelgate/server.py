"""The long-running processes: `serve` (everything in one), `api` (HTTP) and `worker`.

    serve   HTTP API + in-process workers + notifier + reaper + housekeeping
    api     HTTP API + notifier + reaper + housekeeping (no rendering)
    worker  workers + reaper (+ LISTEN/NOTIFY on PostgreSQL), no HTTP

Start-up: settings are validated, SQLite is migrated in place (PostgreSQL must be migrated on
purpose with `reelgate migrate`; a process refuses to start on a schema that is behind), a first
API key is made if none exists (serve only). On SIGTERM/SIGINT the HTTP server stops accepting,
then workers get their grace period, then are released, then the notifier flushes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import orjson
import uvicorn
from fastapi import FastAPI

from reelgate.api.app import create_app
from reelgate.blobs.base import output_links
from reelgate.core.tasks import Task
from reelgate.http import HttpLimits, protocol_class
from reelgate.notifier.dispatcher import Dispatcher
from reelgate.notifier.payload import task_payload
from reelgate.notifier.schedule import RETRY_DELAYS_SECONDS
from reelgate.observability import tracing
from reelgate.observability.exporter import serve_metrics
from reelgate.outbound import guarded_client
from reelgate.runtime import Runtime
from reelgate.settings import Settings
from reelgate.store.base import Listener
from reelgate.worker.housekeeping import Housekeeper
from reelgate.worker.pool import WorkerPool
from reelgate.worker.runner import WorkerConfig

log = logging.getLogger(__name__)

# Allocations between collections of the youngest generation (Python's default is 700).
GC_YOUNG_THRESHOLD = 50_000


def ensure_first_key(runtime: Runtime) -> str | None:
    """With no key configured at all, make one; returns it so it can be shown once. It is an
    admin key: the operator who starts the server is the one who manages its keys."""
    if runtime.settings.static_api_keys() or runtime.store.keys.count_active():
        return None
    _, key = runtime.store.keys.create("first key (made by serve)", admin=True)
    return key


def build_pool(runtime: Runtime, count: int, device: str = "cpu") -> WorkerPool:
    settings = runtime.settings
    return WorkerPool(
        count,
        runtime.store.tasks,
        runtime.blobs,
        runtime.registry,
        WorkerConfig(
            lease_seconds=settings.lease_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            poll_seconds=settings.poll_seconds,
            work_dir=settings.data_dir / "work",
            max_running_per_owner=settings.max_running_tasks_per_key,
        ),
        max_attempts=settings.max_attempts,
        reap_seconds=settings.reap_seconds,
        directory=runtime.store.workers,
        device=device,
        policy=runtime.policy,
        metrics=runtime.metrics,
    )


def _listener(runtime: Runtime, pool: WorkerPool) -> Listener | None:
    """Wake-ups from other processes' creates, where the store has them (LISTEN/NOTIFY)."""
    if not pool.workers and pool.jobs is None:
        return None
    return runtime.store.listener(pool.wake)


def build_http_app(runtime: Runtime, workers: int) -> FastAPI:
    """The API app with workers (possibly none), notifier and housekeeping on its lifespan."""
    settings = runtime.settings
    pool = build_pool(runtime, workers)
    listener = _listener(runtime, pool)
    housekeeper = Housekeeper(
        runtime.store, runtime.blobs, settings.retention_days, settings.sweep_seconds
    )
    runtime.tasks.on_created = pool.wake
    runtime.watch_store()
    app = create_app(runtime.api_services())

    def payload(task: Task) -> bytes:
        return orjson.dumps(task_payload(task, output_links(runtime.links, task.outputs)))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        async with guarded_client(
            runtime.policy, timeout_seconds=settings.webhook_timeout_seconds
        ) as client:
            dispatcher = Dispatcher(
                runtime.store.outbox,
                runtime.store.tasks,
                payload,
                runtime.webhook_secret,
                client,
                timeout_seconds=settings.webhook_timeout_seconds,
                poll_seconds=settings.notifier_poll_seconds,
                schedule=settings.retry_schedule() or RETRY_DELAYS_SECONDS,
                metrics=runtime.metrics,
            )
            pool.start()
            if listener is not None:
                listener.start()
            housekeeper.start()
            notifier = asyncio.create_task(dispatcher.run(stop))
            try:
                yield
            finally:
                if listener is not None:
                    await asyncio.to_thread(listener.stop)
                await asyncio.to_thread(pool.stop, settings.shutdown_grace_seconds)
                await asyncio.to_thread(housekeeper.stop)
                await dispatcher.drain_once()
                stop.set()
                await notifier
                runtime.store.close()

    app.router.lifespan_context = lifespan
    return app


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    workers: int | None = None,
    make_first_key: bool = True,
    log_level: str = "info",
) -> None:
    """Run the HTTP API (and, for `serve`, in-process workers) until SIGTERM/SIGINT."""
    public_url = f"http://{_url_host(host)}:{port}"
    tracing.configure_tracing("reelgate")  # before the app is built: it adds the HTTP span
    runtime = Runtime.build(settings, public_url=public_url)
    runtime.store.prepare()
    if make_first_key:
        key = ensure_first_key(runtime)
        if key is not None:
            print(
                "No API key was configured, so one was made (an admin key: it can make and "
                "revoke others). It is shown this once only; "
                f"store it now:\n\n    {key}\n",
                flush=True,
            )
    app = build_http_app(runtime, settings.workers if workers is None else workers)
    trusted_proxies = settings.trusted_proxy_list()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=5,
        http=protocol_class(http_limits(settings)),
        timeout_keep_alive=settings.http_keepalive_seconds,
        limit_concurrency=settings.http_max_connections,
        # Forwarded headers count only from the proxies the operator named (none by default).
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies,
        # JSON logs: uvicorn's own lines go through the root logger's JSON handler too.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down cleanly; with these
    # handlers in place that becomes exit status 0 rather than death by SIGTERM (143).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    settle_heap()
    try:
        uvicorn.Server(config).run()
    finally:
        tracing.shutdown_tracing()  # export the spans still queued


def settle_heap() -> None:
    """Keep the cyclic garbage collector off the request path as far as is safe.

    What start-up built (modules, the app, the schemas) lives as long as the process, so it is
    moved out of the collector's sight (`gc.freeze`) instead of being traversed by every full
    collection; and the youngest generation is collected every GC_YOUNG_THRESHOLD allocations
    rather than every 700, since a request allocates thousands of short-lived objects that
    reference counting frees anyway. Measured with bench/bench_api.py (BENCHMARKS.md).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        header_timeout=settings.http_header_timeout_seconds,
        body_idle_timeout=settings.http_body_idle_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
    )


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def run_worker(
    settings: Settings,
    models: Sequence[str] | None,
    count: int,
    device: str,
    metrics_address: tuple[str, int] | None = None,
) -> None:
    """Claim and render tasks of `models` (all by default) until SIGTERM/SIGINT; with
    `metrics_address` (host, port), serve this process's /metrics there."""
    tracing.configure_tracing("reelgate-worker")
    runtime = Runtime.build(settings, public_url=settings.public_url or "http://127.0.0.1")
    runtime.store.prepare()
    if models:
        runtime.registry = runtime.registry.subset(models)
    pool = build_pool(runtime, count, device)
    exporter = None
    if metrics_address is not None and runtime.metrics is not None:
        exporter = serve_metrics(runtime.metrics, *metrics_address)
        log.info("metrics on http://%s:%d/metrics", *metrics_address)
    listener = _listener(runtime, pool)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    pool.start()
    if listener is not None:
        listener.start()
    log.info(
        "worker running %d worker(s) for models %s on %s",
        count,
        ", ".join(runtime.registry.names),
        device,
    )
    stop.wait()
    log.info("stopping: running tasks get %gs to finish", settings.shutdown_grace_seconds)
    if listener is not None:
        listener.stop()
    pool.stop(settings.shutdown_grace_seconds)
    if exporter is not None:
        exporter.shutdown()
    runtime.store.close()
    tracing.shutdown_tracing()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
