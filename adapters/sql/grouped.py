"""Group commit: concurrent single writes of one process sent as one statement.

Every step of an execution is stored by a compare-and-set UPDATE that commits on its own
(a whole change with nothing to follow, ``adapters.sql.db``): a run makes two (the claim,
then the provider's answer) and a poll that changes something one. Under load, each is a
round trip and a commit of its own, and on a loopback the socket writes and wake-ups
cost more than the statement.
``grouped_updates`` sends the updates that arrive while earlier ones are in flight as one
``UPDATE ... FROM unnest(...)`` statement (a ``Grouped``): one round trip and one commit
for all of them, each row still checked on its own version (a row whose version moved on
is not written, and its caller is told so, exactly as alone). A caller is answered when
the statement that holds its row has committed. The inserts of new runs are grouped the
same way (``grouped_admissions``): each row is admitted on its own conditions, and a
group holds one row per consumer, in the order of their ids (the admission locks the
consumer's row: one order for every group means two groups never wait on each other in
a circle). Runs with an idempotency key go alone (a clash would fail the whole group).

Only as many statements are in flight at once as ``flights``; rows arriving meanwhile
wait for the next one (at most ``max_rows`` rows each). When the server refuses a grouped
statement (a value a column rejects, a key already taken), its rows are sent again one
by one, so only the offending caller gets the error; when no connection can be had,
every caller of the group gets that error, as each would alone, and so when the
connection dies under the statement (it may have committed: it is not sent again). A
caller cancelled before its row was sent is left out; one cancelled after cannot unsend
it (as with a statement of its own). Callers hold no connection while they wait: the
statement takes one from the lane, so groups never wait on the units of work whose rows they carry.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from sqlalchemy import Dialect, Table

from adapters.sql.errors import FOREIGN_ERRORS, is_connection_lost
from adapters.sql.lane import Lane

Row = dict[str, Any]
Columns = list[tuple[str, Callable[[Any], Any] | None]]
_Waiting = tuple[Row, "asyncio.Future[bool]"]


class Grouped:
    """One statement over arrays of rows, sent for the rows waiting while others fly.

    ``sql`` takes one array per name of ``columns`` (in order, each bound through its
    processor) and returns the ids of the rows it wrote. A group holds at most one row
    per value of ``distinct`` (the rest wait for the next), sorted by it if ``ordered``.
    """

    def __init__(
        self,
        lane: Lane,
        sql: str,
        columns: Sequence[tuple[str, Callable[[Any], Any] | None]],
        *,
        distinct: str = "id",
        ordered: bool = False,
        flights: int = 2,
        max_rows: int = 64,
    ) -> None:
        self._lane = lane
        self._sql = sql
        self._columns = columns
        self._distinct = distinct
        self._ordered = ordered
        self._flights = flights
        self._max_rows = max_rows
        self._waiting: list[_Waiting] = []
        self._flying = 0
        self._tasks: set[asyncio.Future[None]] = set()
        self.statements = 0  # sent so far (for tests and benchmarks)

    async def write(self, values: Row) -> bool:
        """Send the row ``values`` (keyed by column name) with the next group; True if
        the statement wrote it (its conditions held)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, future))
        if self._flying < self._flights:
            self._flying += 1
            task = asyncio.ensure_future(self._fly())
            self._tasks.add(task)  # kept until done: the loop holds tasks only weakly
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _fly(self) -> None:
        try:
            while batch := self._take():
                await self._send(batch)
        except BaseException as exc:
            # Stopped (the process is shutting down): nobody will send what is waiting.
            waiting, self._waiting = self._waiting, []
            _fail(waiting, exc)
            raise
        finally:
            self._flying -= 1

    def _take(self) -> list[_Waiting]:
        """Up to ``max_rows`` waiting rows, one per ``distinct`` value, oldest first; the
        rest wait."""
        batch: list[_Waiting] = []
        keys: set[Any] = set()
        left: list[_Waiting] = []
        for item in self._waiting:
            values, future = item
            if future.done():  # its caller was cancelled before it was sent
                continue
            key = values[self._distinct]
            if len(batch) >= self._max_rows or key in keys:
                left.append(item)
            else:
                keys.add(key)
                batch.append(item)
        self._waiting = left
        if self._ordered:
            batch.sort(key=lambda item: item[0][self._distinct])
        return batch

    async def _send(self, batch: list[_Waiting]) -> None:
        arrays = [
            [row[name] if process is None else process(row[name]) for row, _ in batch]
            for name, process in self._columns
        ]
        try:
            held = await self._lane.acquire()
        except BaseException as exc:  # no connection (the server is down): as alone
            _fail(batch, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        try:
            rows = await held.driver.fetch(self._sql, *arrays)
        except FOREIGN_ERRORS as exc:
            if is_connection_lost(exc):  # a write is never sent twice: as alone
                self._lane.lost(held, exc)
                _fail(batch, exc)
                return
            self._lane.release(held)
            if not isinstance(exc, asyncpg.PostgresError):
                _fail(batch, exc)
                return
            if len(batch) == 1:
                _fail(batch, exc)
                return
            for item in batch:  # only the row the server refused fails
                await self._send([item])
            return
        except BaseException as exc:
            self._lane.release(held, broken=True)
            _fail(batch, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._lane.release(held)
        self.statements += 1
        written = {row[0] for row in rows}
        for values, future in batch:
            if not future.done():
                future.set_result(values["id"] in written)


def _fail(batch: list[_Waiting], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)


def _typed(dialect: Dialect, table: Table, names: Sequence[str]) -> tuple[str, Columns]:
    """``unnest($1::type[], ...)`` of the columns ``names`` and their bind processors."""
    typed = []
    columns: Columns = []
    for position, name in enumerate(names, start=1):
        kind = table.c[name].type
        # Without its length: an explicit cast to varchar(n) would cut a longer value
        # where the column's own assignment refuses it.
        element = re.sub(r"\(\d+\)", "", kind.compile(dialect=dialect))
        typed.append(f"${position}::{element}[]")
        columns.append((name, kind.dialect_impl(dialect).bind_processor(dialect)))
    fields = ", ".join(f"v_{name}" for name in names)
    return f"unnest({', '.join(typed)}) AS v({fields})", columns


def grouped_updates(
    lane: Lane, dialect: Dialect, table: Table, writable: Sequence[str], **options: Any
) -> Grouped:
    """Compare-and-set UPDATEs of ``table``: each row carries its ``id``, the ``version``
    the stored row must still have, and the new values of ``writable``."""
    source, columns = _typed(dialect, table, ["id", "version", *writable])
    sets = ", ".join(f"{name} = v.v_{name}" for name in writable)
    sql = (
        f"UPDATE {table.name} AS t SET {sets}, version = t.version + 1 FROM {source} "
        "WHERE t.id = v.v_id AND t.version = v.v_version RETURNING t.id"
    )
    return Grouped(lane, sql, columns, **options)


def grouped_admissions(
    lane: Lane, dialect: Dialect, table: Table, admitted: Any, limit: int | None
) -> Grouped:
    """INSERTs of ``table`` rows (``consumer_id`` one per group, in id order) where the
    ``admitted`` condition holds: a SQL expression over ``v.v_<column>`` and, with a
    ``limit``, over the consumer's count of unfinished executions."""
    names = [c.name for c in table.columns]
    source, columns = _typed(dialect, table, names)
    condition = str(admitted.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if limit is not None:
        condition += f" AND consumer_active_executions(v.v_consumer_id) < {int(limit)}"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT {', '.join(f'v.v_{n}' for n in names)} FROM {source} "
        f"WHERE {condition} RETURNING {table.name}.id"
    )
    return Grouped(lane, sql, columns, distinct="consumer_id", ordered=True)
