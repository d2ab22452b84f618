"""`reelgate serve`: the API, in-process workers and the notifier in one process.

Start-up order: settings are validated, the SQLite schema is brought up to date (PostgreSQL must
be migrated explicitly with `reelgate migrate`), a first API key is made if none exists, then
uvicorn serves the app while the workers and the notifier run beside it. On SIGTERM or SIGINT
uvicorn stops accepting requests, then the lifespan hook stops the workers (grace period, then
release) and the notifier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import uvicorn
from fastapi import FastAPI

from reelgate.api.app import create_app
from reelgate.api.cometapi import task_dto
from reelgate.core.tasks import Task
from reelgate.notifier.dispatcher import Dispatcher
from reelgate.notifier.schedule import RETRY_DELAYS_SECONDS
from reelgate.outbound import guarded_client
from reelgate.runtime import Runtime
from reelgate.settings import Settings
from reelgate.store import db
from reelgate.worker.pool import WorkerPool
from reelgate.worker.runner import WorkerConfig

log = logging.getLogger(__name__)


def prepare_database(runtime: Runtime) -> None:
    """Migrate SQLite in place; require PostgreSQL to be migrated on purpose."""
    engine = runtime.store.engine
    if engine.dialect.name == "sqlite":
        db.upgrade(engine)
    else:
        db.check_current(engine)


def ensure_first_key(runtime: Runtime) -> str | None:
    """With no key configured at all, make one; returns it so it can be shown once."""
    if runtime.settings.static_api_keys() or runtime.store.keys.count_active():
        return None
    _, key = runtime.store.keys.create("first key (made by serve)")
    return key


def build_serve_app(runtime: Runtime, workers: int) -> FastAPI:
    """The API app with the worker pool and the notifier attached to its lifespan."""
    settings = runtime.settings
    pool = WorkerPool(
        workers,
        runtime.store.tasks,
        runtime.blobs,
        runtime.registry,
        WorkerConfig(
            lease_seconds=settings.lease_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            poll_seconds=settings.poll_seconds,
            work_dir=settings.data_dir / "work",
        ),
        max_attempts=settings.max_attempts,
        reap_seconds=settings.reap_seconds,
    )
    runtime.service.on_created = pool.wake
    app = create_app(runtime)

    def payload(task: Task) -> bytes:
        return orjson.dumps(task_dto(task, runtime))

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
            )
            pool.start()
            notifier = asyncio.create_task(dispatcher.run(stop))
            try:
                yield
            finally:
                await asyncio.to_thread(pool.stop, settings.shutdown_grace_seconds)
                await dispatcher.drain_once()
                stop.set()
                await notifier
                runtime.store.close()

    app.router.lifespan_context = lifespan
    return app


def serve(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    public_url = f"http://{_url_host(host)}:{port}"
    runtime = Runtime.build(settings, public_url=public_url)
    prepare_database(runtime)
    key = ensure_first_key(runtime)
    if key is not None:
        print(
            "No API key was configured, so one was made. It is shown this once only; "
            f"store it now:\n\n    {key}\n",
            flush=True,
        )
    app = build_serve_app(runtime, settings.workers)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
