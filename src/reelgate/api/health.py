"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.responses import Response

from reelgate.api.errors import json_response
from reelgate.runtime import Runtime

log = logging.getLogger(__name__)


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    def healthz() -> Response:
        return json_response({"status": "ok"})

    @router.get("/readyz", summary="The database and the storage are reachable")
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
