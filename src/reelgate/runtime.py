"""The composition root: everything a process needs, built once from `Settings`.

store ── blobs + links ── registry ── policy ──▶ TaskService, Operations, KeyAdmin ──▶ ApiServices
"""

from __future__ import annotations

import os
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reelgate.api.auth import Authenticator
from reelgate.api.deps import ApiServices
from reelgate.blobs.base import BlobStore, Links
from reelgate.blobs.links import LinkSigner
from reelgate.blobs.local import LocalBlobStore
from reelgate.engines.registry import ModelRegistry
from reelgate.notifier.signing import generate_secret
from reelgate.observability import Metrics, StoreSnapshot
from reelgate.outbound import OutboundPolicy
from reelgate.service import Downloads, KeyAdmin, KeyDefaults, Operations, TaskService
from reelgate.settings import Settings
from reelgate.store.base import Store
from reelgate.store.store import open_store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    blobs: BlobStore
    links: Links  # the download links that API responses and webhooks carry
    signer: LinkSigner  # checks the /files links of local storage
    registry: ModelRegistry
    tasks: TaskService
    ops: Operations
    policy: OutboundPolicy
    webhook_secret: str
    metrics: Metrics | None = None  # None with REELGATE_METRICS_ENABLED=false

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        public_url: str,
        on_created: Callable[[], None] = lambda: None,
    ) -> Runtime:
        settings.validate_for_start()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.resolved_database_url)
        link_secret = settings.link_secret or _secret_file(
            settings.data_dir / "link_secret", lambda: secrets.token_hex(32)
        )
        signer = LinkSigner(
            link_secret.encode(), settings.public_url or public_url, settings.link_ttl_seconds
        )
        blobs, links = open_storage(
            settings.resolved_storage_url, signer, settings.link_ttl_seconds
        )
        registry = ModelRegistry.from_file(settings.models_file)
        policy = OutboundPolicy.from_settings(settings)
        metrics = Metrics() if settings.metrics_enabled else None
        return cls(
            settings=settings,
            store=store,
            blobs=blobs,
            links=links,
            signer=signer,
            registry=registry,
            tasks=TaskService(
                store,
                blobs,
                links,
                registry,
                policy,
                max_running_per_owner=settings.max_running_tasks_per_key,
                retention_days=settings.retention_days,
                on_created=on_created,
                metrics=metrics,
            ),
            ops=Operations(store, blobs, registry, settings.heartbeat_seconds),
            policy=policy,
            webhook_secret=settings.webhook_secret or webhook_secret(settings),
            metrics=metrics,
        )

    def api_services(self) -> ApiServices:
        """What the HTTP API serves from."""
        return ApiServices(
            tasks=self.tasks,
            ops=self.ops,
            downloads=Downloads(self.signer, self.blobs),
            authenticator=Authenticator(
                self.settings, self.store.keys, inline_reads=self.store.inline_reads
            ),
            keys=KeyAdmin(
                self.store.keys,
                KeyDefaults(self.settings.max_active_tasks_per_key, self.settings.rate_per_minute),
            ),
            metrics=self.metrics,
        )

    def watch_store(self) -> None:
        """Export the queue, worker and outbox gauges from this process (the HTTP ones: every
        replica reads the same rows, so dashboards take the max across them)."""
        if self.metrics is not None:
            self.metrics.watch_store(self.store_snapshot)

    def store_snapshot(self) -> StoreSnapshot:
        depth = self.store.tasks.depth()
        backlog = self.store.outbox.backlog()
        window = 3 * self.settings.heartbeat_seconds  # as `reelgate workers` counts them
        serving: Counter[str] = Counter()
        for worker in self.store.workers.live(window):
            serving.update(worker.models)
        return StoreSnapshot(
            models=self.registry.names,
            tasks=depth.counts,
            oldest_queued_at=depth.oldest_queued_at,
            live_workers=serving,
            outbox_pending=backlog.pending,
            outbox_oldest_at=backlog.oldest_created_at,
        )


def open_storage(url: str, signer: LinkSigner, link_ttl_seconds: int) -> tuple[BlobStore, Links]:
    """The blob store named by `REELGATE_STORAGE_URL` and the links its files are fetched by:
    reelgate's own /files route for a directory, the bucket's presigned URLs for S3."""
    if url.startswith("file://"):
        return LocalBlobStore.from_url(url), signer
    if url.startswith("s3://"):
        try:
            from reelgate.blobs.s3 import S3BlobStore, S3Links
        except ImportError as exc:  # boto3 comes with the `s3` extra
            raise ValueError(
                "REELGATE_STORAGE_URL: s3:// storage needs boto3: pip install 'reelgate[s3]'"
            ) from exc
        store = S3BlobStore.from_url(url)
        return store, S3Links(store, link_ttl_seconds)
    raise ValueError(
        f"REELGATE_STORAGE_URL: unsupported storage URL {url!r} (use file://… or s3://bucket/…)"
    )


def webhook_secret(settings: Settings) -> str:
    """The `whsec_…` secret: from the environment, else generated once and kept in the data dir."""
    if settings.webhook_secret:
        return settings.webhook_secret
    return _secret_file(settings.data_dir / "webhook_secret", generate_secret)


def _secret_file(path: Path, make: Callable[[], str]) -> str:
    """Read a secret kept in the data dir, creating it (mode 0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    try:
        os.link(tmp, path)  # first writer wins if two processes start at once
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
