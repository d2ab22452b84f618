"""The client side of the command line: talk to a reelgate server over HTTP.

`REELGATE_URL` (default http://127.0.0.1:8000) and `REELGATE_API_KEY` say where and as whom.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
POLL_SECONDS = 0.5
BAR_WIDTH = 30


class ClientError(Exception):
    """The server refused the request, or could not be reached."""


class Client:
    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    @classmethod
    def from_env(cls) -> Client:
        key = os.environ.get("REELGATE_API_KEY", "")
        if not key:
            raise ClientError("set REELGATE_API_KEY to the key the server printed or made")
        return cls(os.environ.get("REELGATE_URL", DEFAULT_URL), key)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise ClientError(f"HTTP {response.status_code}: {message}")
        body: dict[str, Any] = response.json()
        return body

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/admin/tasks", json=request)

    def get(self, task_id: str) -> dict[str, Any]:
        return self._call("GET", f"/admin/tasks/{task_id}")

    def list(self, limit: int) -> list[dict[str, Any]]:
        return list(self._call("GET", "/admin/tasks", params={"limit": limit})["data"])

    def cancel(self, task_id: str) -> dict[str, Any]:
        return self._call("POST", f"/admin/tasks/{task_id}/cancel")

    def download(self, url: str, target: Path) -> None:
        with self._http.stream("GET", url) as response:
            if response.status_code != 200:
                raise ClientError(f"download failed: HTTP {response.status_code}")
            with target.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)

    def wait(self, task_id: str, out: TextIO = sys.stderr) -> dict[str, Any]:
        """Poll until the task is finished, drawing a progress bar on `out`."""
        while True:
            task = self.get(task_id)
            filled = int(BAR_WIDTH * task["percent"] / 100)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            out.write(f"\r[{bar}] {task['percent']:3d}% {task['status']:<10}")
            out.flush()
            if task["status"] in ("succeeded", "failed", "cancelled"):
                out.write("\n")
                return task
            time.sleep(POLL_SECONDS)


def parse_motion(text: str) -> dict[str, float]:
    """`y=0.4,r=-6` → {"y": 0.4, "r": -6.0}."""
    motion: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"motion component {part!r} is not name=value")
        try:
            motion[name.strip()] = float(value)
        except ValueError as exc:
            raise ValueError(f"motion component {part!r} has no number") from exc
    return motion


def image_argument(value: str) -> str:
    """An https URL as is; a local file as a data URI."""
    if value.startswith(("https://", "data:")):
        return value
    path = Path(value)
    kind = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode()
