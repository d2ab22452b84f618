"""The tasks service: the rules every dialect shares, written once.

Dialect modules translate wire formats into calls here; ownership scoping, quotas, idempotency,
model checks, cancel and waking the workers live here and in the store, never in a route.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from reelgate.blobs.base import BlobStore
from reelgate.core.tasks import (
    BLOB_SCHEME,
    Action,
    Dialect,
    GenerationSpec,
    NewTask,
    Task,
    TaskStatus,
)
from reelgate.engines.registry import ModelRegistry
from reelgate.errors import ApiError, ErrorKind
from reelgate.store.idempotency import Reservation
from reelgate.store.store import Store
from reelgate.store.tasks import QuotaExceededError

QUOTA_RETRY_AFTER_SECONDS = 5  # a short clip takes seconds to render: ask again soon


class Caller(Protocol):
    """Who is asking: their owner id and their cap on queued + running tasks."""

    @property
    def owner_id(self) -> str: ...

    @property
    def max_active_tasks(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str
    request_hash: str


class TaskService:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        registry: ModelRegistry,
        on_created: Callable[[], None] = lambda: None,
        *,
        max_running_per_owner: int | None = None,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._registry = registry
        self._max_running = max_running_per_owner
        self.on_created = on_created

    @property
    def models(self) -> tuple[str, ...]:
        return self._registry.names

    def check_model(self, model: str) -> None:
        if not self._registry.knows(model):
            raise ApiError(
                ErrorKind.MODEL_NOT_SUPPORTED,
                f"model {model!r} is not supported; available models: "
                + ", ".join(self._registry.names),
                param="model",
            )

    def create(
        self,
        caller: Caller,
        *,
        dialect: Dialect,
        action: Action,
        spec: GenerationSpec,
        callback_url: str | None,
        runway_version: str,
        idempotency: Idempotency | None = None,
        remixed_from: str | None = None,
    ) -> Task:
        """Queue a task, or return the one an earlier request with the same key made."""
        self.check_model(spec.model)
        owner = caller.owner_id
        if idempotency is not None:
            replayed = self._reserve(owner, idempotency)
            if replayed is not None:
                return replayed
        new = NewTask(
            id=str(uuid.uuid4()),
            owner_id=owner,
            dialect=dialect,
            action=action,
            spec=spec,
            callback_url=callback_url,
            runway_version=runway_version,
            created_at=time.time(),
            remixed_from=remixed_from,
        )
        try:
            task = self._store.tasks.create(
                new,
                max_active=caller.max_active_tasks,
                idempotency_key=idempotency.key if idempotency else None,
            )
        except BaseException as exc:
            if idempotency is not None:
                self._store.idempotency.release(owner, idempotency.key)
            if isinstance(exc, QuotaExceededError):
                raise ApiError(
                    ErrorKind.RATE_LIMITED,
                    f"this key already has {exc.active} queued or running tasks "
                    f"(limit {exc.limit}); retry when some have finished",
                    retry_after_seconds=QUOTA_RETRY_AFTER_SECONDS,
                ) from None
            raise
        self.on_created()
        return task

    def _reserve(self, owner: str, idempotency: Idempotency) -> Task | None:
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

    def get(self, owner_id: str, task_id: str) -> Task:
        """The caller's task; another owner's task is reported exactly like an unknown id."""
        task = self._store.tasks.get(task_id, owner_id) if _is_uuid(task_id) else None
        if task is None:
            raise ApiError(
                ErrorKind.TASK_NOT_FOUND, f"task {task_id!r} does not exist", param="task_id"
            )
        return task

    def cancel(self, owner_id: str, task_id: str) -> Task:
        """Cancel a queued task at once, or ask a running one's worker to stop between frames.

        A finished task is returned unchanged.
        """
        self.get(owner_id, task_id)
        task = self._store.tasks.request_cancel(task_id, owner_id)
        if task is None:
            raise ApiError(
                ErrorKind.TASK_NOT_FOUND, f"task {task_id!r} does not exist", param="task_id"
            )
        return task

    def list(
        self, owner_id: str, *, after: str | None, limit: int, newest_first: bool
    ) -> list[Task]:
        """A page of the caller's tasks; an `after` that is not theirs gives an empty page."""
        if after is not None and not _is_uuid(after):
            return []
        return self._store.tasks.list_for_owner(
            owner_id, after=after, limit=limit, newest_first=newest_first
        )

    def delete(self, owner_id: str, task_id: str) -> Task:
        """Runway's DELETE: cancel a task that is still queued or running; delete a finished
        one, record and files, after which its id is unknown. Returns the task as it was."""
        task = self.get(owner_id, task_id)
        if not task.status.terminal:
            return self.cancel(owner_id, task_id)
        deleted = self._store.tasks.delete(task_id, owner_id)
        if deleted is None:  # it was deleted (or un-finished) by a concurrent request
            raise ApiError(
                ErrorKind.TASK_NOT_FOUND, f"task {task_id!r} does not exist", param="task_id"
            )
        self._blobs.delete_prefix(f"tasks/{task_id}/")
        delete_uploaded_input(self._blobs, deleted)
        return deleted

    def throttled(self, task: Task) -> bool:
        """Queued only because its key is at its running-task cap (Runway's THROTTLED)."""
        if self._max_running is None or task.status is not TaskStatus.QUEUED:
            return False
        return self._store.tasks.count_running(task.owner_id) >= self._max_running

    def remix(self, caller: Caller, task_id: str, prompt: str, dialect: Dialect) -> Task:
        """A new task with the original's settings and a new prompt."""
        original = self.get(caller.owner_id, task_id)
        spec = dataclasses.replace(original.spec, prompt=prompt)
        if spec.image is not None and spec.image.url.startswith(BLOB_SCHEME):
            # Each task owns its upload, so deleting the original cannot break the remix.
            source = spec.image.url.removeprefix(BLOB_SCHEME)
            copy = f"inputs/{uuid.uuid4()}/{source.rsplit('/', 1)[-1]}"
            self._blobs.put_bytes(copy, self._blobs.get_bytes(source), "application/octet-stream")
            spec = dataclasses.replace(
                spec, image=dataclasses.replace(spec.image, url=BLOB_SCHEME + copy)
            )
        return self.create(
            caller,
            dialect=dialect,
            action=original.action,
            spec=spec,
            callback_url=None,
            runway_version=original.runway_version,
            remixed_from=original.id,
        )


def delete_uploaded_input(blobs: BlobStore, task: Task) -> None:
    """Delete the image uploaded with a task (OpenAI's `input_reference`), if it has one."""
    image = task.spec.image
    if image is not None and image.url.startswith(BLOB_SCHEME + "inputs/"):
        key = image.url.removeprefix(BLOB_SCHEME)
        blobs.delete_prefix(key.rsplit("/", 1)[0] + "/")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
