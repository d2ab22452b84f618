"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from reelgate.api import openapi
from reelgate.api.deps import OpsDep
from reelgate.api.wire import json_response


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
def readyz(ops: OpsDep) -> Response:
    ready = ops.readiness()
    body = {
        "status": "ok" if ready.ready else "unavailable",
        "checks": ready.checks,
        "models": list(ready.models),
        "models_without_workers": list(ready.models_without_workers),
    }
    return json_response(body, 200 if ready.ready else 503)
