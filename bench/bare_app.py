"""The baseline for bench_api.py: a bare FastAPI app answering JSON, served the same way."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
def bare_get() -> dict[str, Any]:
    return {"ok": True}


@app.post("/bare")
def bare_post(body: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "fields": len(body)}
