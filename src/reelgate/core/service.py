"""The tasks service: the rules every dialect shares, written once.

Dialect modules translate wire formats into calls here; ownership scoping, model checks and
waking the workers live here and in the store, never in a route.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from reelgate.core.tasks import Action, Dialect, GenerationSpec, NewTask, Task
from reelgate.engines.registry import ModelRegistry
from reelgate.errors import ApiError, ErrorKind
from reelgate.store.store import Store
from reelgate.store.tasks import QuotaExceededError


QUOTA_RETRY_AFTER_SECONDS = 5  # a short clip takes seconds to render: ask again soon


class TaskService:
    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        on_created: Callable[[], None] = lambda: None,
        *,
        max_active_per_owner: int = 100,
    ) -> None:
        self._store = store
        self._registry = registry
        self._max_active = max_active_per_owner
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
        *,
        owner_id: str,
        dialect: Dialect,
        action: Action,
        spec: GenerationSpec,
        callback_url: str | None,
        runway_version: str,
    ) -> Task:
        self.check_model(spec.model)
        new = NewTask(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            dialect=dialect,
            action=action,
            spec=spec,
            callback_url=callback_url,
            runway_version=runway_version,
            created_at=time.time(),
        )
        try:
            task = self._store.tasks.create(new, max_active=self._max_active)
        except QuotaExceededError as over:
            raise ApiError(
                ErrorKind.RATE_LIMITED,
                f"this key already has {over.active} queued or running tasks "
                f"(limit {over.limit}); retry when some have finished",
                retry_after_seconds=QUOTA_RETRY_AFTER_SECONDS,
            ) from None
        self.on_created()
        return task

    def get(self, owner_id: str, task_id: str) -> Task:
        """The caller's task; another owner's task is reported exactly like an unknown id."""
        task = self._store.tasks.get(task_id, owner_id) if _is_uuid(task_id) else None
        if task is None:
            raise ApiError(
                ErrorKind.TASK_NOT_FOUND, f"task {task_id!r} does not exist", param="task_id"
            )
        return task


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
