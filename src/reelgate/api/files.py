"""Signed download links (`/files/<key>?expires=…&sig=…`): no API key, the signature is the
permission. A tampered or expired link gets 403; an authentic link to a deleted file gets 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from reelgate.api import openapi
from reelgate.api.deps import DownloadsDep

_MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_FILE_HEADERS = {
    "Content-Disposition": {"description": "attachment; filename=…", "schema": {"type": "string"}},
    "ETag": {"schema": {"type": "string"}},
    "Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}},
}
_TEXT = {"text/plain": {"schema": {"type": "string"}}}
# Starlette's FileResponse answers HTTP range requests itself, in plain text when they are bad.
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file",
        "headers": {**openapi.REQUEST_ID_HEADER, **_FILE_HEADERS},
        "content": {t: _BINARY for t in (*_MEDIA_TYPES.values(), "application/octet-stream")},
    },
    206: {
        "description": "The requested byte range(s) of the file (`Range: bytes=…`)",
        "headers": openapi.REQUEST_ID_HEADER,
        "content": {
            t: _BINARY
            for t in (*_MEDIA_TYPES.values(), "application/octet-stream", "multipart/byteranges")
        },
    },
    400: {
        "description": "The `Range` header is malformed",
        "headers": openapi.REQUEST_ID_HEADER,
        "content": _TEXT,
    },
    416: {
        "description": "The `Range` header asks for bytes past the end of the file",
        "headers": openapi.REQUEST_ID_HEADER,
        "content": _TEXT,
    },
    **openapi.default_errors(403, 404, 413, 500),
}


router = APIRouter(tags=["files"])


def download(downloads: DownloadsDep, key: str, expires: str = "", sig: str = "") -> Response:
    """A task's output, through the signed link the feed returned."""
    path = downloads.open(key, expires, sig)
    media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=path.name)


for _method in ("GET", "HEAD"):
    router.add_api_route(
        "/files/{key:path}",
        download,
        methods=[_method],
        operation_id=f"files_{_method.lower()}",
        response_class=FileResponse,
        summary="Download a task's file" if _method == "GET" else "A task's file's headers",
        responses=_RESPONSES,
    )
