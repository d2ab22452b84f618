"""The ASGI application: middleware, error rendering and every router."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import Scope

from reelgate import __version__
from reelgate.api import (
    admin,
    cometapi,
    files,
    health,
    native,
    openai_errors,
    openai_videos,
    openapi,
    runway,
)
from reelgate.api.auth import Authenticator
from reelgate.api.errors import Renderers, install
from reelgate.api.middleware.body_limit import BodyLimitMiddleware
from reelgate.api.middleware.request_id import RequestIdMiddleware
from reelgate.errors import ApiError, ErrorKind
from reelgate.outbound.fetch import MAX_IMAGE_BYTES
from reelgate.runtime import Runtime
from reelgate.settings import MAX_BODY_BYTES

# Multipart uploads that may carry an input image (OpenAI's `input_reference`).
UPLOAD_PATHS = frozenset({"/v1/videos"})

DESCRIPTION = """\
Self-hosted video generation. Three wire dialects over one task store: CometAPI's Runway
wrapper (`/runway/...`), Runway's official API and OpenAI's video API. Authenticate with
`Authorization: Bearer <api key>`.
"""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="reelgate", version=__version__, description=DESCRIPTION)
    authenticator = Authenticator(runtime.settings, runtime.store.keys)
    app.state.runtime = runtime
    app.state.authenticator = authenticator

    renderers = Renderers()
    renderers.add(cometapi.PREFIX, cometapi.CometApiRenderer())
    for prefix in runway.PREFIXES:
        renderers.add(prefix, runway.RunwayRenderer())
    renderers.add(openai_errors.PREFIX, openai_errors.OpenAIRenderer())
    install(app, renderers, authenticator.check)

    app.include_router(health.build_router(runtime))
    app.include_router(files.build_router(runtime))
    app.include_router(cometapi.build_router(runtime))
    for mount in runway.MOUNTS:
        app.include_router(runway.build_router(runtime, mount))
    app.include_router(openai_videos.build_router(runtime))
    app.include_router(admin.build_router(runtime))
    app.include_router(native.build_router(runtime))

    def too_large(scope: Scope) -> Response:
        return renderers.render_scope(
            scope,
            ApiError(ErrorKind.REQUEST_TOO_LARGE, f"the body exceeds {MAX_BODY_BYTES} bytes"),
        )

    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=MAX_BODY_BYTES,
        too_large=too_large,
        upload_paths=UPLOAD_PATHS,
        max_upload_bytes=MAX_IMAGE_BYTES + MAX_BODY_BYTES,
    )
    app.add_middleware(RequestIdMiddleware)
    openapi.install(app)
    return app
