"""`TaskService`: the rules every dialect and the console share, written once.

A dialect translates its wire format into a `CreateTask` or a call here and renders what comes
back; it never checks a model, a URL, a quota or an owner itself. Here, in this order:

    create   callback URL given → model known → callback and image URLs allowed → frame
             size → seed → Idempotency-Key (replay / 409 / 422) → uploaded image stored →
             insert within the key's quota (429) → wake the workers
    read     get, list, deliveries: scoped to the caller's owner id in the store, so another
             key's task is answered exactly like an unknown id
    change   cancel, delete, delete-and-wait, remix, redeliver: the same scoping

Errors are `ApiError`s naming the field in the service's terms (`model`, `callback_url`,
`image`, `ratio`, `task_id`); each dialect renames the field to its own spelling.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reelgate.blobs import keys
from reelgate.blobs.base import BlobStore, Links, OutputLinks, output_links
from reelgate.core.sizes import frame_size
from reelgate.core.tasks import (
    MAX_SEED,
    Action,
    GenerationSpec,
    ImageInput,
    NewTask,
    Task,
    TaskStatus,
)
from reelgate.errors import ApiError, ErrorKind, QuotaExceededError, UrlRefused, invalid
from reelgate.observability import Metrics, tracing
from reelgate.outbound.policy import OutboundPolicy
from reelgate.service.requests import Caller, CreateTask, IdempotencyKey, ImageUpload, ImageUrl
from reelgate.store.base import AttemptRecord, OutboxEvent, Reservation, Store

log = logging.getLogger(__name__)

QUOTA_RETRY_AFTER_SECONDS = 5  # a short clip takes seconds to render: ask again soon
DELETE_POLL_SECONDS = 0.1  # how often delete-and-wait looks whether the worker has stopped
SECONDS_PER_DAY = 86_400
UPSTREAM_THROTTLED = "THROTTLED"  # an upstream's own word for a job waiting in its queue


class ModelCatalog(Protocol):
    """The model names this deployment serves (the engine registry, without its engines)."""

    @property
    def names(self) -> tuple[str, ...]: ...

    def knows(self, model: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook event of a task with every attempt made so far."""

    event: OutboxEvent
    attempts: list[AttemptRecord]


class TaskService:
    """Creates, reads and changes tasks on behalf of a caller (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        links: Links,
        models: ModelCatalog,
        policy: OutboundPolicy,
        *,
        max_running_per_owner: int | None = None,
        retention_days: float = 7.0,
        on_created: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._links = links
        self._models = models
        self._policy = policy
        self._max_running = max_running_per_owner
        self._retention_seconds = retention_days * SECONDS_PER_DAY
        self._clock = clock
        self._sleep = sleep
        self.on_created = on_created
        self.metrics = metrics

    @property
    def models(self) -> tuple[str, ...]:
        return self._models.names

    @property
    def inline_reads(self) -> bool:
        """Whether a read is cheap enough to run on the event loop (see Store.inline_reads)."""
        return self._store.inline_reads

    # -- create --------------------------------------------------------------------------------
    def create(self, caller: Caller, request: CreateTask) -> Task:
        """Queue a task, or return the one an earlier request with the same key made."""
        attributes = {"reelgate.dialect": request.dialect, "reelgate.model": request.model}
        with tracing.span("task.create", attributes=attributes) as span:
            task = self._create(caller, request)
            span.set_attribute("reelgate.task_id", task.id)
            return task

    def _create(self, caller: Caller, request: CreateTask) -> Task:
        if request.callback_url is not None and not request.callback_url.strip():
            raise ApiError(
                ErrorKind.CALLBACK_URL_EMPTY, "callback_url is required", param="callback_url"
            )
        self._check_model(request.model)
        if request.callback_url is not None:
            self._check_url(self._policy.check_callback_url, request.callback_url, "callback_url")
        if isinstance(request.image, ImageUrl):
            self._check_url(self._policy.check_image_url, request.image.url, "image")
        try:
            width, height = frame_size(request.ratio)
        except KeyError:
            raise invalid("ratio", f"{request.ratio!r} is not a known ratio or size") from None
        spec = GenerationSpec(
            prompt=request.prompt,
            model=request.model,
            width=width,
            height=height,
            seconds=request.seconds,
            seed=request.seed if request.seed is not None else random_seed(),
            style=request.style,
            motion=request.motion,
        )
        return self._insert(
            caller,
            spec,
            dialect=request.dialect,
            api_version=request.api_version,
            image=request.image,
            callback_url=request.callback_url,
            idempotency=request.idempotency,
            request_id=request.request_id,
            trace_context=request.trace_context,
        )

    def _insert(
        self,
        caller: Caller,
        spec: GenerationSpec,
        *,
        dialect: str,
        api_version: str,
        image: ImageUrl | ImageUpload | None,
        callback_url: str | None = None,
        idempotency: IdempotencyKey | None = None,
        request_id: str | None = None,
        trace_context: dict[str, str] | None = None,
        remixed_from: str | None = None,
    ) -> Task:
        """Reserve the Idempotency-Key, store an uploaded image, insert within the quota; on
        any failure undo the reservation and the upload."""
        owner = caller.owner_id
        if idempotency is not None:
            replayed = self._reserve(owner, idempotency)
            if replayed is not None:
                return replayed
        uploaded: str | None = None
        try:
            if isinstance(image, ImageUpload):
                uploaded = keys.new_input_key(image.extension)
                self._blobs.put_bytes(uploaded, image.data, image.content_type)
                spec = dataclasses.replace(
                    spec, image=ImageInput(keys.upload_url(uploaded), image.position)
                )
            elif isinstance(image, ImageUrl):
                spec = dataclasses.replace(spec, image=ImageInput(image.url, image.position))
            new = NewTask(
                id=str(uuid.uuid4()),
                owner_id=owner,
                dialect=dialect,
                action=Action.IMAGE_TO_VIDEO if spec.image else Action.TEXT_TO_VIDEO,
                spec=spec,
                callback_url=callback_url.strip() if callback_url else None,
                api_version=api_version,
                created_at=self._clock(),
                remixed_from=remixed_from,
                request_id=request_id,
                # The create's span: the worker's and the notifier's spans become its children.
                trace_context=trace_context or tracing.carrier(),
            )
            task = self._store.tasks.create(
                new,
                max_active=caller.max_active_tasks,
                idempotency_key=idempotency.key if idempotency else None,
            )
        except BaseException as exc:
            if idempotency is not None:
                self._store.idempotency.release(owner, idempotency.key)
            if uploaded is not None:
                self._blobs.delete_prefix(uploaded.rsplit("/", 1)[0] + "/")
            if isinstance(exc, QuotaExceededError):
                raise ApiError(
                    ErrorKind.RATE_LIMITED,
                    f"this key already has {exc.active} queued or running tasks "
                    f"(limit {exc.limit}); retry when some have finished",
                    retry_after_seconds=QUOTA_RETRY_AFTER_SECONDS,
                ) from None
            raise
        self.on_created()
        if self.metrics is not None:
            self.metrics.task_created(dialect, spec.model)
        log.info(
            "task %s created: %s for %s",
            task.id,
            spec.model,
            dialect,
            extra={"task_id": task.id, "key_id": owner},
        )
        return task

    def _check_model(self, model: str) -> None:
        if not self._models.knows(model):
            raise ApiError(
                ErrorKind.MODEL_NOT_SUPPORTED,
                f"model {model!r} is not supported; available models: "
                + ", ".join(self._models.names),
                param="model",
            )

    @staticmethod
    def _check_url(check: Callable[[str], object], url: str, param: str) -> None:
        try:
            check(url)
        except UrlRefused as refused:
            raise ApiError(ErrorKind.URL_NOT_ALLOWED, f"{param}: {refused}", param=param) from None

    def _reserve(self, owner: str, idempotency: IdempotencyKey) -> Task | None:
        found = self._store.idempotency.reserve(owner, idempotency.key, idempotency.request_hash)
        if found.outcome is Reservation.NEW:
            return None
        if found.outcome is Reservation.MISMATCH:
            raise ApiError(
                ErrorKind.IDEMPOTENCY_MISMATCH,
                "this Idempotency-Key was already used with a different request body",
                param="Idempotency-Key",
            )
        if found.outcome is Reservation.IN_FLIGHT:
            raise ApiError(
                ErrorKind.IDEMPOTENCY_IN_FLIGHT,
                "a request with this Idempotency-Key is still being processed; retry shortly",
                param="Idempotency-Key",
            )
        assert found.task_id is not None
        return self.get(owner, found.task_id)

    def remix(self, caller: Caller, task_id: str, prompt: str, dialect: str) -> Task:
        """A new task with the original's settings and a new prompt; no callback."""
        original = self.get(caller.owner_id, task_id)
        spec = dataclasses.replace(original.spec, prompt=prompt, image=None)
        image: ImageUrl | ImageUpload | None = None
        if original.spec.image is not None:
            source = original.spec.image
            stored = keys.uploaded_key(source.url)
            if stored is None:
                image = ImageUrl(source.url, source.position)
            else:
                # Each task owns its upload, so deleting the original cannot break the remix.
                try:
                    data = self._blobs.get_bytes(stored)
                except FileNotFoundError:
                    raise ApiError(
                        ErrorKind.INVALID_REQUEST,
                        "image: the original's uploaded image has expired with its outputs; "
                        "create a new video with the image instead",
                        param="image",
                    ) from None
                image = ImageUpload(
                    data,
                    stored.rsplit(".", 1)[-1],
                    "application/octet-stream",
                    source.position,
                )
        self._check_model(spec.model)
        attributes = {"reelgate.dialect": dialect, "reelgate.remixed_from": original.id}
        with tracing.span("task.create", attributes=attributes) as span:
            task = self._insert(
                caller,
                spec,
                dialect=dialect,
                api_version=original.api_version,
                image=image,
                remixed_from=original.id,
            )
            span.set_attribute("reelgate.task_id", task.id)
            return task

    # -- read ----------------------------------------------------------------------------------
    def get(self, owner_id: str, task_id: str) -> Task:
        """The caller's task; another owner's task is reported exactly like an unknown id."""
        task = self._store.tasks.get(task_id, owner_id) if _is_uuid(task_id) else None
        if task is None:
            raise _not_found(task_id)
        return task

    def list_page(
        self,
        owner_id: str,
        *,
        after: str | None,
        limit: int,
        newest_first: bool,
        status: TaskStatus | None = None,
        model: str | None = None,
    ) -> list[Task]:
        """A page of the caller's tasks, optionally of one status or model; an `after` that is
        not theirs gives an empty page."""
        if after is not None and not _is_uuid(after):
            return []
        return self._store.tasks.list_for_owner(
            owner_id,
            after=after,
            limit=limit,
            newest_first=newest_first,
            status=None if status is None else status.value,
            model=model,
        )

    def read_many(self, task_ids: Collection[str]) -> list[Task]:
        """Every task among `task_ids`, unscoped: for the event-stream watcher (service.watch),
        which only follows tasks whose owner subscribed through `get`."""
        return self._store.tasks.get_many(task_ids) if task_ids else []

    def throttled(self, task: Task) -> bool:
        """Waiting for a slot (Runway's THROTTLED): queued only because its key is at its
        running-task cap, or claimed but held in the queue of the upstream that renders it."""
        if task.status is TaskStatus.RUNNING:
            return task.upstream is not None and task.upstream.state == UPSTREAM_THROTTLED
        if self._max_running is None or task.status is not TaskStatus.QUEUED:
            return False
        return self._store.tasks.count_running(task.owner_id) >= self._max_running

    def links(self, task: Task) -> OutputLinks | None:
        """Fresh signed links to the task's files; None until it succeeded or once expired."""
        return output_links(self._links, task.outputs)

    def link(self, key: str) -> str:
        """A fresh signed link to one blob."""
        return self._links.url(key)

    def local_file(self, key: str) -> Path | None:
        """The file behind a blob key when storage is local; None for a bucket (use `link`)."""
        return self._blobs.local_path(key)

    def expires_at(self, task: Task) -> float | None:
        """When a succeeded task's files are deleted by the retention sweep."""
        if task.status is not TaskStatus.SUCCEEDED or task.finished_at is None:
            return None
        return task.finished_at + self._retention_seconds

    def deliveries(self, owner_id: str, task_id: str) -> list[Delivery]:
        """The webhook events of the caller's task, oldest first, each with its attempts."""
        task = self.get(owner_id, task_id)
        outbox = self._store.outbox
        return [
            Delivery(event, outbox.attempts(event.id))
            for event in outbox.events_for_task(task.id, owner_id)
        ]

    # -- change --------------------------------------------------------------------------------
    def cancel(self, owner_id: str, task_id: str) -> Task:
        """Cancel a queued task at once, or ask a running one's worker to stop between frames.
        A finished task is returned unchanged."""
        asked_at = self._clock()
        task = self._store.tasks.request_cancel(task_id, owner_id) if _is_uuid(task_id) else None
        if task is None:
            raise _not_found(task_id)
        if task.status is TaskStatus.CANCELLED and (task.finished_at or 0.0) >= asked_at:
            # Cancelled by this call while queued (a running one is counted by its worker).
            if self.metrics is not None:
                self.metrics.task_cancelled("queued")
            log.info("task %s cancelled while queued", task.id, extra={"task_id": task.id})
        return task

    def delete(self, owner_id: str, task_id: str) -> Task:
        """Cancel a task that is still queued or running; delete a finished one, record and
        files, after which its id is unknown. Returns the task as it was."""
        task = self.get(owner_id, task_id)
        if not task.status.terminal:
            return self.cancel(owner_id, task_id)
        deleted = self._store.tasks.delete(task_id, owner_id)
        if deleted is None:  # it was deleted (or un-finished) by a concurrent request
            raise _not_found(task_id)
        self.delete_files(deleted)
        return deleted

    def delete_and_wait(
        self, owner_id: str, task_id: str, wait_seconds: float
    ) -> tuple[Task, bool]:
        """Delete a task for good, cancelling it first if it still waits or runs; a running one
        is given `wait_seconds` for its worker to stop (it stops at its next progress write,
        about half a second). Returns the task and whether it was deleted: when the worker has
        not stopped in time the cancel stands and a second call deletes it."""
        task = self.get(owner_id, task_id)
        if not task.status.terminal:
            task = self.cancel(owner_id, task_id)  # a queued task is cancelled at once
            deadline = self._clock() + wait_seconds
            while not task.status.terminal and self._clock() < deadline:
                self._sleep(DELETE_POLL_SECONDS)
                task = self.get(owner_id, task_id)
        if not task.status.terminal:
            return task, False
        self.delete(owner_id, task_id)
        return task, True

    def redeliver(self, owner_id: str, task_id: str, event_id: str) -> None:
        """Make one of the caller's webhook events due now; attempt numbers carry on."""
        task = self.get(owner_id, task_id)
        if not self._store.outbox.redeliver(event_id, task.id, owner_id):
            raise ApiError(ErrorKind.NOT_FOUND, f"task {task.id} has no webhook event {event_id}")

    def delete_files(self, task: Task) -> None:
        """Delete every file of a task: each attempt's outputs and its uploaded input image."""
        for folder in keys.task_folders(task):
            self._blobs.delete_prefix(folder)


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


def _not_found(task_id: str) -> ApiError:
    return ApiError(ErrorKind.TASK_NOT_FOUND, f"task {task_id!r} does not exist", param="task_id")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
