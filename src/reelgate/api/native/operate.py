"""The operator's routes, for admin keys only (any other key gets 403 `admin_required`):

    GET  /admin/keys                     every stored key, never the key itself nor its hash
    POST /admin/keys                     make a key; the answer holds the key, this once only
    POST /admin/keys/{key_id}/revoke     revoke a key (a revoked key is returned unchanged)
    PUT  /admin/keys/{key_id}/limits     set a key's quotas (null: the server's setting)
    GET  /admin/workers                  live workers, their models and current task
    GET  /admin/queue                    queued and running tasks per model; unserved models

Keys from REELGATE_API_KEYS and REELGATE_ADMIN_API_KEYS live in the environment, not the store:
they are not listed here and are changed by changing the environment.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from reelgate.api import openapi
from reelgate.api.auth import AdminPrincipal, AdminRoute
from reelgate.api.deps import KeysDep, OpsDep
from reelgate.api.native.schemas import KeyCreateIn, KeyLimitsIn
from reelgate.api.wire import json_response
from reelgate.store.base import ApiKey, WorkerInfo


class KeyOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ApiKey")
    id: str
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_at: float = Field(description="unix seconds")
    revoked_at: float | None = Field(description="unix seconds; null while the key is active")
    admin: bool
    max_active_tasks: int | None = Field(
        description="queued + running tasks allowed; null: the server's setting"
    )
    rate_per_minute: float | None = Field(
        description="requests a minute allowed; null: the server's setting"
    )


class KeyCreatedOut(KeyOut):
    model_config = ConfigDict(extra="forbid", title="CreatedApiKey")
    key: str = Field(description="the key itself: shown this once, only its hash is stored")


class DefaultsOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="KeyDefaults")
    max_active_tasks: int = Field(description="REELGATE_MAX_ACTIVE_TASKS_PER_KEY")
    rate_per_minute: float = Field(description="REELGATE_RATE_PER_MINUTE")


class KeyListOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ApiKeyList")
    data: list[KeyOut] = Field(description="stored keys, oldest first, revoked ones included")
    defaults: DefaultsOut = Field(description="the limits of a key whose own are null")


class WorkerOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Worker")
    id: str
    hostname: str
    pid: int
    device: str
    models: list[str]
    current_task_id: str | None = Field(description="the task it renders now; null when idle")
    started_at: float = Field(description="unix seconds")
    heartbeat_at: float = Field(description="unix seconds, by the database's clock")


class WorkersOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="LiveWorkers")
    data: list[WorkerOut]
    live_window_seconds: float = Field(
        description="a worker silent for longer is gone (three heartbeats)"
    )


class ModelQueueOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ModelQueue")
    model: str
    queued: int
    running: int
    oldest_queued_at: float | None = Field(description="unix seconds; null when none waits")
    live_workers: int = Field(description="live workers that serve the model")


class QueueOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Queue")
    models: list[ModelQueueOut] = Field(
        description="every model of the registry, then any other model that has tasks"
    )
    models_without_workers: list[str] = Field(
        description="models no live worker serves: their tasks wait until one starts"
    )


_KEY = {
    "id": "key_3f1c9a7be2d04c55",
    "name": "team-a",
    "prefix": "rg_Xq3v9Ab",
    "created_at": 1767225600.0,
    "revoked_at": None,
    "admin": False,
    "max_active_tasks": 10,
    "rate_per_minute": None,
}
_RID = "(request id: 5f0c9b1e2a7d4c3b8e6f1a2d)"


def _error(status: int, description: str, code: str, message: str) -> openapi.Responses:
    body = {"error": {"code": code, "message": f"{message} {_RID}"}}
    return {
        status: {
            "model": openapi.ErrorOut,
            "description": description,
            "headers": openapi.REQUEST_ID_HEADER,
            "content": {"application/json": {"examples": {code: {"value": body}}}},
        }
    }


_ERRORS = {
    **openapi.default_errors(401, 413, 429, 500),
    **_error(
        403,
        "The key is not an admin key.",
        "admin_required",
        "this route needs an admin key (REELGATE_ADMIN_API_KEYS, "
        "or `reelgate keys create --admin`)",
    ),
}
_BAD_BODY = openapi.default_errors(400)
_NO_KEY = _error(
    404, "No stored key has this id.", "key_not_found", "key 'key_nope' does not exist"
)
_KEY_LINKS = {
    "RevokeCreatedKey": {
        "operationId": "admin_revoke_key",
        "parameters": {"key_id": "$response.body#/id"},
    },
    "SetCreatedKeyLimits": {
        "operationId": "admin_set_key_limits",
        "parameters": {"key_id": "$response.body#/id"},
    },
}


router = APIRouter(prefix="/admin", tags=["operate"], route_class=AdminRoute)


@router.get(
    "/keys",
    operation_id="admin_list_keys",
    summary="Every stored API key (admin keys only)",
    responses={
        200: openapi.ok(
            KeyListOut,
            "The keys, never the keys themselves nor their hashes",
            example={"data": [_KEY], "defaults": {"max_active_tasks": 100, "rate_per_minute": 600}},
        ),
        **_ERRORS,
    },
)
def list_keys(_: AdminPrincipal, keys: KeysDep) -> Response:
    defaults = keys.defaults
    return json_response(
        {
            "data": [_key(record) for record in keys.list()],
            "defaults": {
                "max_active_tasks": defaults.max_active_tasks,
                "rate_per_minute": defaults.rate_per_minute,
            },
        }
    )


@router.post(
    "/keys",
    operation_id="admin_create_key",
    summary="Make an API key (admin keys only)",
    status_code=201,
    responses={
        201: {
            **openapi.ok(
                KeyCreatedOut,
                "The new key; `key` is shown this once only",
                example={**_KEY, "key": "rg_Xq3v9Ab…"},
            ),
            "links": _KEY_LINKS,
        },
        **_BAD_BODY,
        **_ERRORS,
    },
)
def create_key(body: KeyCreateIn, _: AdminPrincipal, keys: KeysDep) -> Response:
    record, key = keys.create(
        body.name,
        admin=body.admin,
        max_active_tasks=body.max_active_tasks,
        rate_per_minute=body.rate_per_minute,
    )
    return json_response({**_key(record), "key": key}, 201)


@router.post(
    "/keys/{key_id}/revoke",
    operation_id="admin_revoke_key",
    summary="Revoke an API key (admin keys only)",
    responses={
        200: openapi.ok(
            KeyOut,
            "The key, revoked: its next request is 401. A revoked key is returned unchanged",
            example={**_KEY, "revoked_at": 1767312000.0},
        ),
        **_NO_KEY,
        **_ERRORS,
    },
)
def revoke_key(key_id: str, _: AdminPrincipal, keys: KeysDep) -> Response:
    return json_response(_key(keys.revoke(key_id)))


@router.put(
    "/keys/{key_id}/limits",
    operation_id="admin_set_key_limits",
    summary="Set an API key's quotas (admin keys only)",
    responses={
        200: openapi.ok(
            KeyOut, "The key with its new limits, in force from its next request", example=_KEY
        ),
        **_BAD_BODY,
        **_NO_KEY,
        **_ERRORS,
    },
)
def set_key_limits(key_id: str, body: KeyLimitsIn, _: AdminPrincipal, keys: KeysDep) -> Response:
    record = keys.set_limits(key_id, body.max_active_tasks, body.rate_per_minute)
    return json_response(_key(record))


@router.get(
    "/workers",
    operation_id="admin_list_workers",
    summary="Live workers, their models and current task (admin keys only)",
    responses={
        200: openapi.ok(
            WorkersOut,
            "Workers that beat within the window, by host",
            example={
                "data": [
                    {
                        "id": "gpu-1:4242:0",
                        "hostname": "gpu-1",
                        "pid": 4242,
                        "device": "cuda:0",
                        "models": ["gen4", "gen4_turbo"],
                        "current_task_id": "3d957031-9a2a-45e2-9dc7-bc8513059c50",
                        "started_at": 1767225600.0,
                        "heartbeat_at": 1767229200.0,
                    }
                ],
                "live_window_seconds": 15.0,
            },
        ),
        **_ERRORS,
    },
)
def list_workers(_: AdminPrincipal, ops: OpsDep) -> Response:
    return json_response(
        {
            "data": [_worker(info) for info in ops.live_workers()],
            "live_window_seconds": ops.live_window_seconds,
        }
    )


@router.get(
    "/queue",
    operation_id="admin_queue",
    summary="Queued and running tasks per model (admin keys only)",
    responses={
        200: openapi.ok(
            QueueOut,
            "The queue now, every model with its live workers",
            example={
                "models": [
                    {
                        "model": "gen4",
                        "queued": 12,
                        "running": 2,
                        "oldest_queued_at": 1767229100.0,
                        "live_workers": 2,
                    },
                    {
                        "model": "gen3",
                        "queued": 3,
                        "running": 0,
                        "oldest_queued_at": 1767228000.0,
                        "live_workers": 0,
                    },
                ],
                "models_without_workers": ["gen3"],
            },
        ),
        **_ERRORS,
    },
)
def queue(_: AdminPrincipal, ops: OpsDep) -> Response:
    view = ops.queue()
    return json_response(
        {
            "models": [
                {
                    "model": row.model,
                    "queued": row.queued,
                    "running": row.running,
                    "oldest_queued_at": row.oldest_queued_at,
                    "live_workers": row.live_workers,
                }
                for row in view.models
            ],
            "models_without_workers": list(view.models_without_workers),
        }
    )


def _key(record: ApiKey) -> dict[str, Any]:
    """A key as operators see it: never the key itself nor its hash."""
    return {
        "id": record.id,
        "name": record.name,
        "prefix": record.prefix,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
        "admin": record.admin,
        "max_active_tasks": record.max_active_tasks,
        "rate_per_minute": record.rate_per_minute,
    }


def _worker(info: WorkerInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "hostname": info.hostname,
        "pid": info.pid,
        "device": info.device,
        "models": list(info.models),
        "current_task_id": info.current_task_id,
        "started_at": info.started_at,
        "heartbeat_at": info.heartbeat_at,
    }
