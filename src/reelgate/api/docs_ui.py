"""The OpenAPI browser at `/docs`, from files inside the package.

FastAPI's own `/docs` page loads Swagger UI from a CDN, so on a machine without internet it is a
blank page ("SwaggerUIBundle is not defined"). Here the Swagger UI files (swagger-ui-dist,
Apache-2.0, vendored unchanged under `static/swagger-ui/` with their licence) are served by
reelgate itself, and the page starts them from a script file: no inline script, no other origin.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"

# Swagger UI sets style attributes from its scripts, hence 'unsafe-inline' for styles only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

# Relative links, so the page also works behind a proxy that mounts reelgate under a path.
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reelgate API</title>
<link rel="icon" type="image/png" href="static/swagger-ui/favicon-32x32.png">
<link rel="stylesheet" href="static/swagger-ui/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"></main>
<script src="static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="static/swagger-ui/docs-init.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def docs() -> HTMLResponse:
    return HTMLResponse(
        _PAGE,
        headers={
            "Content-Security-Policy": DOCS_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def static_files() -> StaticFiles:
    """The package's static files (Swagger UI, the console's assets), under `STATIC_PREFIX`."""
    return StaticFiles(directory=STATIC_DIR)
