"""Server-sent events as a test reads them: `parse` splits a body into events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    id: str
    event: str
    data: dict[str, Any]

    @property
    def order(self) -> tuple[int, ...]:
        """The id as numbers (`attempt-rank-percent`), which grow as the task moves on."""
        return tuple(int(part) for part in self.id.split("-"))


def parse(text: str) -> list[Event]:
    """Every event with data in an event-stream body; comments and `retry:` lines skipped."""
    events: list[Event] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        if "data" in fields:
            events.append(
                Event(
                    fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"])
                )
            )
    return events
