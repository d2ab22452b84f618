"""The ASGI application: middleware, error rendering and every router.

`create_app` takes the services it serves, so the same app runs in `reelgate serve` and in an
in-process test around any store (tests/support/inprocess.py).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Scope

from reelgate import __version__
from reelgate.api import cometapi, console, docs_ui, files, health, native, openai, openapi, runway
from reelgate.api.deps import ApiServices
from reelgate.api.errors import Renderers, install
from reelgate.api.metrics import install as install_metrics
from reelgate.api.middleware.body_limit import BodyLimitMiddleware
from reelgate.api.middleware.request_id import RequestIdMiddleware
from reelgate.api.middleware.tracing import TracingMiddleware
from reelgate.api.wire import MAX_BODY_BYTES
from reelgate.errors import ApiError, ErrorKind
from reelgate.observability import tracing
from reelgate.outbound.fetch import MAX_IMAGE_BYTES

# Multipart uploads that may carry an input image (OpenAI's `input_reference`).
UPLOAD_PATHS = frozenset({openai.PREFIX})

DESCRIPTION = """\
Self-hosted video generation. Three wire dialects over one task store: CometAPI's Runway
wrapper (`/runway/...`), Runway's official API and OpenAI's video API. Authenticate with
`Authorization: Bearer <api key>`.
"""


def create_app(services: ApiServices) -> FastAPI:
    # /docs is served from the package's own files (docs_ui), not FastAPI's CDN page; FastAPI's
    # /redoc page would load ReDoc from a CDN, so it is off.
    app = FastAPI(
        title="reelgate",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services

    renderers = Renderers()
    renderers.add(cometapi.PREFIX, cometapi.CometApiRenderer())
    for prefix in runway.PREFIXES:
        renderers.add(prefix, runway.RunwayRenderer())
    renderers.add(openai.PREFIX, openai.OpenAIRenderer())
    install(app, renderers, services.authenticator.check)

    app.include_router(health.router)
    app.include_router(files.router)
    app.include_router(cometapi.router)
    for number, mount in enumerate(runway.MOUNTS):
        app.include_router(runway.router, prefix=mount, include_in_schema=number == 0)
    app.include_router(openai.router)
    app.include_router(native.admin_router)
    app.include_router(native.operate_router)
    app.include_router(native.tasks_router)
    app.include_router(native.events_router)
    app.include_router(docs_ui.router)
    app.include_router(console.router)
    app.mount(docs_ui.STATIC_PREFIX, docs_ui.static_files(), name="static")

    def too_large(scope: Scope, limit: int) -> Response:
        return renderers.render_scope(
            scope, ApiError(ErrorKind.REQUEST_TOO_LARGE, f"the body exceeds {limit} bytes")
        )

    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=MAX_BODY_BYTES,
        too_large=too_large,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=MAX_IMAGE_BYTES + MAX_BODY_BYTES,
    )
    app.add_middleware(RequestIdMiddleware)
    if services.metrics is not None:
        install_metrics(app, services.metrics)
    if tracing.enabled():  # outermost: the server span covers everything below
        app.add_middleware(TracingMiddleware)
    openapi.install(app)
    return app
