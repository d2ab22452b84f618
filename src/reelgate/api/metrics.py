"""GET /metrics: the process's Prometheus metrics, in the text exposition format.

It is left out of the OpenAPI document: it is for the scraper, not for API clients, and it
answers without an API key, so operators expose it only where their Prometheus can reach it
(docs/operations.md).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from reelgate.api.middleware.metrics import MetricsMiddleware
from reelgate.observability import CONTENT_TYPE, Metrics

PATH = "/metrics"

router = APIRouter(include_in_schema=False)


@router.get(PATH)
def metrics(request: Request) -> Response:
    observed: Metrics = request.app.state.metrics
    return Response(observed.render(), media_type=CONTENT_TYPE)


def install(app: FastAPI, observed: Metrics) -> None:
    """Serve /metrics and count every request (call last: the middleware must be outermost,
    so requests refused by the other middleware are counted too)."""
    app.state.metrics = observed
    app.include_router(router)
    app.add_middleware(MetricsMiddleware, metrics=observed)
