"""Tasks for the store tests to work on."""

from __future__ import annotations

import time
import uuid

from reelgate.core.tasks import Action, GenerationSpec, NewTask
from reelgate.store.base import Store

OWNER = "key_owner"
HOOK = "https://example.com/hook"


def new_task(
    owner: str = OWNER,
    model: str = "gen4",
    callback: str | None = None,
    created_at: float | None = None,
    request_id: str | None = None,
    trace_context: dict[str, str] | None = None,
) -> NewTask:
    return NewTask(
        id=str(uuid.uuid4()),
        owner_id=owner,
        dialect="cometapi",
        action=Action.TEXT_TO_VIDEO,
        spec=GenerationSpec(prompt="a cat", model=model, width=1280, height=720, seconds=5, seed=7),
        callback_url=callback,
        api_version="2024-11-06",
        created_at=time.time() if created_at is None else created_at,
        request_id=request_id,
        trace_context=trace_context,
    )


def add_task(
    store: Store,
    owner: str = OWNER,
    model: str = "gen4",
    callback: str | None = None,
    created_at: float | None = None,
) -> str:
    """Create a queued task; returns its id."""
    return store.tasks.create(new_task(owner, model, callback, created_at)).id
