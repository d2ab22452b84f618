"""Signed download links (`/files/<key>?expires=…&sig=…`): no API key, the signature is the
permission. A tampered or expired link gets 403; an authentic link to a deleted file gets 404."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from reelgate.errors import ApiError, ErrorKind
from reelgate.runtime import Runtime

_MEDIA_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png"}


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["files"])

    @router.api_route(
        "/files/{key:path}", methods=["GET", "HEAD"], summary="Download a task's file"
    )
    def download(key: str, expires: str = "", sig: str = "") -> Response:
        if not runtime.links.verify(key, expires, sig):
            raise ApiError(ErrorKind.LINK_INVALID, "this link is invalid or has expired")
        path = runtime.blobs.local_path(key)
        if path is None:
            raise ApiError(ErrorKind.NOT_FOUND, "this file no longer exists")
        media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media_type, filename=path.name)

    return router
