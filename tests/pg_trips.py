"""Counting database round trips: a TCP proxy in front of PostgreSQL.

A round trip is the client sending after the server last spoke (or first): whatever the
driver does (simple queries, Parse/Bind/Execute, BEGIN and COMMIT, a liveness ping), one
wait for the server is one round trip. The proxy also reads the frontend messages, so a
failing count can show which statements ran in each trip (prepared statements are named
by the SQL their Parse carried).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url

_ENCRYPTION_REQUESTS = (80877103, 80877104)
NOTE_CHARS = 90  # of each statement, in ``describe``


@dataclass
class _Link:
    """One proxied connection: who spoke last, and the client's unparsed bytes."""

    started: bool = False
    client_spoke_last: bool = False
    buffer: bytearray = field(default_factory=bytearray)


class RoundTripCounter:
    """Proxies ``url``'s server on a free port; ``trips`` lists what each round trip sent."""

    def __init__(self, url: str) -> None:
        self._target = make_url(url)
        self._server: asyncio.Server | None = None
        self._prepared: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.trips: list[list[str]] = []

    async def start(self) -> str:
        """Listen on a free loopback port; returns ``url`` pointed at the proxy."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return self._target.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)

    async def close(self) -> None:
        """Stop listening and cut the proxied connections."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    def reset(self) -> None:
        """Forget the round trips counted so far."""
        self.trips = []

    def describe(self) -> str:
        """The counted round trips, one line each (for assertion messages)."""
        return "\n".join(
            f"{i + 1}: {' | '.join(note[:NOTE_CHARS] for note in trip)}"
            for i, trip in enumerate(self.trips)
        )

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self._target.host or "127.0.0.1", self._target.port or 5432
        up_reader, up_writer = await asyncio.open_connection(host, port)
        link = _Link()
        tasks = (
            asyncio.ensure_future(self._pump(reader, up_writer, link, client=True)),
            asyncio.ensure_future(self._pump(up_reader, writer, link, client=False)),
        )
        for task in tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for w in (writer, up_writer):
            w.close()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        client: bool,
    ) -> None:
        while data := await reader.read(65536):
            if client:
                if not link.client_spoke_last:
                    self.trips.append([])
                link.client_spoke_last = True
                self._read_messages(link, data)
            else:
                link.client_spoke_last = False
            writer.write(data)
            await writer.drain()

    def _read_messages(self, link: _Link, data: bytes) -> None:
        """Record the statements among the frontend messages in ``data``."""
        link.buffer += data
        while not link.started:  # startup packets have no type byte
            if len(link.buffer) < 8:
                return
            size, code = struct.unpack("!ii", link.buffer[:8])
            if len(link.buffer) < size:
                return
            del link.buffer[:size]
            # An SSL or GSS encryption request comes before the real startup packet.
            link.started = code not in _ENCRYPTION_REQUESTS
            self.trips[-1].append("startup")
        while len(link.buffer) >= 5:
            kind = chr(link.buffer[0])
            size = struct.unpack("!i", link.buffer[1:5])[0]
            if len(link.buffer) < size + 1:
                return
            body = bytes(link.buffer[5 : size + 1])
            del link.buffer[: size + 1]
            note = self._note(kind, body)
            if note:
                self.trips[-1].append(note)

    def _note(self, kind: str, body: bytes) -> str | None:
        parts = body.split(b"\0")
        if kind == "Q":
            return parts[0].decode(errors="replace").strip()
        if kind == "P":
            name, sql = parts[0].decode(), parts[1].decode(errors="replace").strip()
            self._prepared[name] = sql
            return f"prepare {sql}"
        if kind == "B":
            statement = parts[1].decode(errors="replace")
            return f"execute {self._prepared.get(statement, statement or 'unnamed')}"
        return None
