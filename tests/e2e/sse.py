"""Reading a Server-Sent Events stream in tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse


@dataclass
class Event:
    """One event (``name`` is None for a comment, i.e. a heartbeat)."""

    name: str | None
    data: Any


async def next_event(response: ClientResponse) -> Event | None:
    """The next event or comment; None at the end of the stream."""
    name: str | None = None
    data: list[str] = []
    while True:
        raw = await response.content.readline()
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            return Event(None, line[1:].strip())
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and name is not None:
            return Event(name, json.loads("\n".join(data)))


async def statuses_until_end(response: ClientResponse) -> list[str]:
    """The status of every ``status`` event until the stream ends."""
    found = []
    while (event := await next_event(response)) is not None:
        if event.name == "status":
            found.append(event.data["status"])
    return found
