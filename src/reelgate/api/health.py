"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from reelgate.api import openapi
from reelgate.api.errors import json_response
from reelgate.runtime import Runtime

log = logging.getLogger(__name__)


class AliveOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Alive")
    status: Literal["ok"]


class ReadyOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Readiness")
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(
        description='"ok" or "error: <exception type>" for `database` and `storage`'
    )
    models: list[str] = Field(description="the model names this server accepts")
    models_without_workers: list[str] = Field(
        description="models no live worker serves: their tasks wait in the queue until one starts"
    )


_READY = {
    "status": "ok",
    "checks": {"database": "ok", "storage": "ok"},
    "models": ["gen4", "gen4_turbo", "gen3", "gen2"],
    "models_without_workers": ["gen3", "gen2"],
}


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/healthz",
        operation_id="healthz",
        summary="The process is alive",
        responses={
            200: openapi.ok(AliveOut, "Alive", example={"status": "ok"}),
            **openapi.default_errors(413, 500),
        },
    )
    def healthz() -> Response:
        return json_response({"status": "ok"})

    @router.get(
        "/readyz",
        operation_id="readyz",
        summary="The database and the storage are reachable",
        responses={
            200: openapi.ok(ReadyOut, "Ready to serve", example=_READY),
            503: openapi.ok(
                ReadyOut,
                "The database or the storage is unreachable",
                example={
                    **_READY,
                    "status": "unavailable",
                    "checks": {"database": "error: OperationalError", "storage": "ok"},
                },
            ),
            **openapi.default_errors(413, 500),
        },
    )
    def readyz() -> Response:
        checks: dict[str, str] = {}
        for name, probe in (("database", runtime.store.ping), ("storage", runtime.blobs.ping)):
            try:
                probe()
            except Exception as exc:
                log.warning("readiness check %s failed: %s", name, exc)
                checks[name] = f"error: {type(exc).__name__}"
            else:
                checks[name] = "ok"
        ready = all(v == "ok" for v in checks.values())
        body = {
            "status": "ok" if ready else "unavailable",
            "checks": checks,
            "models": list(runtime.registry.names),
            "models_without_workers": _unserved(runtime) if ready else [],
        }
        return json_response(body, 200 if ready else 503)

    return router


def _unserved(runtime: Runtime) -> list[str]:
    """Models no live worker serves: their tasks wait in the queue until one starts."""
    window = 3 * runtime.settings.heartbeat_seconds
    served = {m for w in runtime.store.workers.live(window) for m in w.models}
    return [m for m in runtime.registry.names if m not in served]
