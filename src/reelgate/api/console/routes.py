"""`/console` (the page) and `/` (a redirect to it).

The console is one HTML page and its script and style files (`api/static/console/`), all from
the package: no CDN, no build step. Its Content-Security-Policy allows scripts and styles from
this origin only, so no inline script runs even if a user-supplied string were ever written into
the page as markup (the script renders every such string as text). It calls the API with the key
in an `Authorization` header, never a cookie, so a page on another site cannot act for it
(nothing to forge: CSRF-proof by construction).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.responses import HTMLResponse, RedirectResponse

PAGE = Path(__file__).parent / "page.html"

# Videos and posters may come from a bucket's presigned URLs on another host.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONSOLE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=307)


@router.get("/console")
def console() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=HEADERS)
