"""What routes depend on, injected per request from `app.state.services`.

Routes are plain module-level functions that declare `TasksDep`, `OpsDep`, `KeysDep` or
`DownloadsDep` (and `CurrentPrincipal` or `AdminPrincipal`, from auth), so a test can build the
app around any store, such as the in-memory one, and call a route in-process through
`httpx.ASGITransport`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from reelgate.api.auth import Authenticator
from reelgate.observability import Metrics
from reelgate.service import Downloads, KeyAdmin, Operations, TaskService


@dataclass(frozen=True, slots=True)
class ApiServices:
    """Everything the HTTP API calls, built once per process (runtime.py)."""

    tasks: TaskService
    ops: Operations
    downloads: Downloads
    authenticator: Authenticator
    keys: KeyAdmin
    metrics: Metrics | None = None  # None when metrics are turned off


def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


def _tasks(request: Request) -> TaskService:
    return _services(request).tasks


def _ops(request: Request) -> Operations:
    return _services(request).ops


def _keys(request: Request) -> KeyAdmin:
    return _services(request).keys


def _downloads(request: Request) -> Downloads:
    return _services(request).downloads


ServicesDep = Annotated[ApiServices, Depends(_services)]
TasksDep = Annotated[TaskService, Depends(_tasks)]
OpsDep = Annotated[Operations, Depends(_ops)]
KeysDep = Annotated[KeyAdmin, Depends(_keys)]
DownloadsDep = Annotated[Downloads, Depends(_downloads)]
