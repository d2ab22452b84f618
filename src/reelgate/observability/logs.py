"""Log lines that say which request, task, attempt, key and worker they are about.

`log_context` binds those fields for the code below it (a contextvar, so each request, each
worker thread and each webhook delivery has its own); every record logged inside carries them,
and `extra={...}` on one call overrides them. With `REELGATE_LOG_FORMAT=json` each record is one
JSON object on one line; the text format (the default, for a terminal) stays as it was.

The request id is stored with the task when it is created, and the worker and the notifier bind
the task's request id again, so one search for it finds the task's whole life across processes.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import orjson

FIELDS = ("request_id", "task_id", "attempt", "key_id", "worker_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# One INFO line per outbound request otherwise.
CHATTY_LOGGERS = ("httpx", "httpx2", "httpcore")

_NOTHING: Mapping[str, Any] = MappingProxyType({})
_fields: ContextVar[Mapping[str, Any]] = ContextVar("reelgate_log_fields", default=_NOTHING)


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind `fields` (those not None) to every record logged inside, in this context only."""
    bound = {name: value for name, value in fields.items() if value is not None}
    token = _fields.set({**_fields.get(), **bound})
    try:
        yield
    finally:
        _fields.reset(token)


def current_fields() -> Mapping[str, Any]:
    return _fields.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the bound
    fields, and the traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        bound = _fields.get()
        for name in FIELDS:
            value = record.__dict__.get(name, bound.get(name))
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(
    log_format: LogFormat | str = LogFormat.TEXT, level: int = logging.INFO
) -> None:
    """Send every record to stderr in the chosen format (replacing any handler already there)."""
    handler = logging.StreamHandler(sys.stderr)
    if LogFormat(log_format) is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
