"""The events of a ``fal.run`` stream: Server-Sent Events read as they come, bounded.

Each event's ``data:`` lines (joined by newlines) are one JSON value; comment lines
(``:``) and other fields are skipped, ``event: error`` marks an app's error event. An
event or a line over ``MAX_EVENT_BYTES`` fails the stream, as do data that are not JSON,
an error event and a connection that breaks off: ``events`` then raises
``FalStreamBroken``. Nothing is buffered beyond one event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

MAX_EVENT_BYTES = 1024 * 1024
_READ_BYTES = 64 * 1024


class FalStreamBroken(Exception):
    """The stream failed: a break, malformed or oversized data, or an app's error event.
    The message is short and names no request."""


class FalStream:
    """One open ``fal.run`` stream: ``request_id`` (fal's ``x-fal-request-id``, None when
    absent), ``events()`` the parsed events in order, ``close()`` drops the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        request_id = response.headers.get("x-fal-request-id")
        self.request_id = request_id.strip() if request_id and request_id.strip() else None

    @property
    def closed(self) -> bool:
        """True once the connection is closed."""
        return self._response.closed

    def close(self) -> None:
        """Drop the connection (fal then stops the request)."""
        self._response.close()

    async def events(self) -> AsyncGenerator[Any, None]:
        """Each event's JSON value, in order, until the stream ends cleanly."""
        buffer = b""
        data: list[bytes] = []
        size, kind = 0, ""
        try:
            while True:
                read = await self._response.content.read(_READ_BYTES)
                if not read:
                    return  # the end; an event without its blank line is dropped (SSE)
                buffer += read
                *lines, buffer = buffer.split(b"\n")
                if len(buffer) > MAX_EVENT_BYTES:
                    raise FalStreamBroken("the stream sent a line over 1 MiB")
                for raw in lines:
                    line = raw.removesuffix(b"\r")
                    if not line:
                        if data:
                            yield _parsed(b"\n".join(data), kind)
                        data, size, kind = [], 0, ""
                        continue
                    name, _, value = line.partition(b":")
                    value = value.removeprefix(b" ")
                    if name == b"data":
                        size += len(value) + 1
                        if size > MAX_EVENT_BYTES:
                            raise FalStreamBroken("the stream sent an event over 1 MiB")
                        data.append(value)
                    elif name == b"event":
                        kind = value.decode(errors="replace")
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise FalStreamBroken("the stream broke off") from exc
        finally:
            self.close()


def _parsed(raw: bytes, kind: str) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        raise FalStreamBroken("the stream sent data that is not JSON") from None
    if kind == "error":
        detail = value.get("detail") if isinstance(value, dict) else None
        message = detail if isinstance(detail, str) and detail else "the app sent an error"
        raise FalStreamBroken(message[:300])
    return value
