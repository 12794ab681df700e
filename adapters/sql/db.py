"""The database handle of one unit of work: a Core connection taken on first use.

A unit of work runs its statements on one ``AsyncConnection`` (one transaction), checked
out of the engine's pool on the first statement and given back when the unit of work
ends. Core connections carry none of the ORM session's identity map and state tracking,
which the repositories (plain tables in, dataclasses out) never use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Dialect, Executable, Result
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ClauseElement

from adapters.sql.engine import LAZY_BEGIN, TRANSACTION_OPEN, is_plain_read
from adapters.sql.errors import FOREIGN_ERRORS, is_connection_lost
from adapters.sql.lane import Lane
from adapters.sql.query import Query
from tarsify.ports.repositories import FollowUp


class ConnectionSource:
    """Where units of work get their connections: the engine's pool."""

    __slots__ = ("_sync", "engine")

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync = engine.sync_engine

    def __call__(self) -> Db:
        """A handle for one unit of work (no connection taken yet)."""
        # The pool's lane (a disposed engine gets a new pool, with a new lane).
        lane = getattr(self._sync.pool, "lane", None)
        return Db(self.engine, lane=lane)


class Db:
    """One unit of work's connection, opened on the first statement.

    A write made ``alone`` is its unit of work's whole change with nothing to follow
    (``UnitOfWork``: the caller commits right after it). On lazy-BEGIN engines (asyncpg),
    when no transaction is open, it runs without one: one statement is atomic on its own
    and durable when it returns, so the BEGIN and COMMIT round trips are saved and the
    caller's commit is a no-op. After a whole change (``follow``) a write raises
    ``RuntimeError``.

    With a lane (``adapters.sql.lane``: asyncpg only), the statements that run before a
    transaction opens (plain reads, and a write made alone) take a lane connection
    instead of a pool checkout; a unit of work that goes on to open a transaction gives
    it back first and continues on a pooled connection.
    """

    __slots__ = (
        "_connection",
        "_driver",
        "_ended",
        "_engine",
        "_held",
        "_lane",
        "dialect_name",
    )

    def __init__(self, engine: AsyncEngine, *, lane: Lane | None = None) -> None:
        self._engine = engine
        self._lane = lane
        self._held: Any = None
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._ended = False  # a whole change was made: nothing more is written
        self.dialect_name = engine.dialect.name

    @property
    def writes_alone(self) -> bool:
        """True when a write made alone now runs on its own, committed as it returns."""
        return (
            not self._ended
            and bool(self._engine.get_execution_options().get(LAZY_BEGIN))
            and not self.in_server_transaction()
        )

    async def follow(self, written: bool, then: Sequence[FollowUp] | None) -> None:
        """After a write given ``then`` (a whole change, ``UnitOfWork``): run its
        follow-ups, in its transaction, when it was ``written``; then nothing more is
        written in this unit of work."""
        if then is None:
            return
        if written:
            for follow_up in then:
                await follow_up()
        self._ended = True

    async def _open(self) -> AsyncConnection:
        self._leave_lane()
        connection = self._engine.connect()
        await connection.start()
        self._connection = connection
        return connection

    def _check_open(self, statement: Executable) -> None:
        if self._ended and getattr(statement, "is_dml", False):
            raise RuntimeError("a unit of work wrote after its whole change")

    async def fetch(self, query: Query, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """Every row of a read, in the unit of work's transaction if one is open."""
        if self._connection is None and self._lane is not None:
            found: Sequence[Sequence[Any]] = await self._on_lane(query, params, write=False)
            return found
        try:
            return await self._fetch_pooled(query, params)
        except FOREIGN_ERRORS as exc:
            if not await self._forget_if_lost(exc):
                raise
        return await self._fetch_pooled(query, params)  # once more, on a new connection

    async def _fetch_pooled(self, query: Query, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        connection = self._connection or await self._open()
        if self._engine.dialect.driver != "asyncpg":
            result = await connection.execute(query.statement, params)
            processed: Sequence[Sequence[Any]] = result.all()
            return processed
        driver = self._driver
        if driver is None:
            driver = self._driver = (await connection.get_raw_connection()).driver_connection
        sql, args = query.bind(self._engine.dialect, params)
        rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *args)
        return rows

    async def write(
        self, query: Query, params: dict[str, Any], *, isolated: bool = True, alone: bool = False
    ) -> int:
        """Run an INSERT or UPDATE; returns how many rows it wrote.

        Made ``alone`` where it ``writes_alone`` it goes straight to the driver (no
        transaction is open there: the statement commits as it runs). Otherwise it runs
        like ``execute_isolated`` (``isolated``) or ``execute``.
        """
        if not (alone and self.writes_alone):
            run = self.execute_isolated if isolated else self.execute
            result = await run(query.statement, params)
            return int(result.rowcount)
        if self._connection is None and self._lane is not None:
            status: str = await self._on_lane(query, params, write=True)
            return int(status.rpartition(" ")[2] or 0)
        connection = self._connection or await self._open()
        driver = self._driver
        if driver is None:
            driver = self._driver = (await connection.get_raw_connection()).driver_connection
        sql, args = query.bind(self._engine.dialect, params)
        try:
            status = await driver.execute(sql, *args)  # "UPDATE 1", "INSERT 0 1"
        except FOREIGN_ERRORS as exc:
            await self._forget_if_lost(exc)  # a write is never sent twice
            raise
        return int(status.rpartition(" ")[2] or 0)

    async def _on_lane(self, query: Query, params: dict[str, Any], *, write: bool) -> Any:
        """Run one statement on this unit of work's lane connection (taken on first use).

        A connection that dies under the statement leaves the lane; a read (outside any
        transaction here) is then sent once more on another connection, a write never
        (it may have committed)."""
        lane = self._lane
        assert lane is not None
        sql, args = query.bind(self._engine.dialect, params)
        for attempt in range(2):
            held = self._held
            if held is None:
                held = self._held = await lane.acquire()
            try:
                if write:
                    return await held.driver.execute(sql, *args)
                return await held.driver.fetch(sql, *args)
            except FOREIGN_ERRORS as exc:
                if not is_connection_lost(exc):
                    raise  # the server refused the statement: the connection is as good
                self._held = None
                lane.lost(held, exc)
                if write or attempt:
                    raise
            except BaseException:
                # Cut off (cancelled): its state is unknown, never reused.
                self._held = None
                lane.release(held, broken=True)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _forget_if_lost(self, exc: BaseException) -> bool:
        """When ``exc`` says this unit of work's pooled connection died: invalidate it
        (the pool replaces it and the connections opened before it at their next
        checkout) and return True when a read may be sent again, on a new connection:
        no transaction was open on it. Inside a transaction the invalidated connection
        stays, so committing fails instead of committing nothing."""
        connection = self._connection
        if connection is None or not is_connection_lost(exc):
            return False
        in_transaction = self.in_server_transaction()
        with contextlib.suppress(Exception):
            raw = await connection.get_raw_connection()
            self._engine.sync_engine.pool._invalidate(raw, exc, _checkin=False)
        with contextlib.suppress(Exception):
            await connection.invalidate(exc)
        if in_transaction:
            return False
        self._connection = None
        self._driver = None
        with contextlib.suppress(Exception):
            await connection.close()
        return True

    def lane_for_grouping(self) -> Lane | None:
        """The lane, when a write made alone may be sent together with other units'
        writes (``adapters.sql.grouped``): it runs outside a transaction, and the unit
        of work holds no connection."""
        if (
            self._lane is None
            or self._connection is not None
            or self._held is not None
            or not self.writes_alone
        ):
            return None
        return self._lane

    @property
    def dialect(self) -> Dialect:
        """The engine's SQL dialect."""
        return self._engine.dialect

    def _leave_lane(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            assert self._lane is not None
            self._lane.release(held)

    async def fetch_one(self, query: Query, params: dict[str, Any]) -> Sequence[Any] | None:
        """The first row of a read, or None."""
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def execute(
        self,
        statement: Executable,
        params: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
    ) -> Any:
        """Run ``statement`` (with ``params``, or once per item of a list of them) in the
        unit of work's transaction."""
        self._check_open(statement)
        connection = self._connection or await self._open()
        try:
            result: Result[Any] = await connection.execute(statement, params)
        except FOREIGN_ERRORS as exc:
            if not await self._forget_if_lost(exc) or not self._is_plain_read(statement):
                raise
            connection = await self._open()  # a read outside a transaction: once more
            result = await connection.execute(statement, params)
        return result

    def _is_plain_read(self, statement: Executable) -> bool:
        """Whether ``statement`` is a SELECT that locks nothing (safe to send again)."""
        if getattr(statement, "is_dml", False) or not isinstance(statement, ClauseElement):
            return False
        try:
            return is_plain_read(str(statement.compile(dialect=self._engine.dialect)))
        except Exception:  # not compilable alone: not worth a guess
            return False

    async def execute_isolated(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Any:
        """Execute a write that may violate a constraint without dooming the transaction.

        PostgreSQL aborts the whole transaction on any error, so there the write runs in
        a SAVEPOINT, unless it opens the transaction: then undoing the transaction leaves
        exactly what rolling back to a savepoint would (reads ran outside it), for two
        round trips less. SQLite only undoes the failed statement (and pysqlite
        savepoints would end its implicit transaction), so there it runs directly.
        """
        self._check_open(statement)
        connection = self._connection or await self._open()
        if self.dialect_name != "postgresql":
            return await connection.execute(statement, params)
        if self.in_server_transaction():
            try:
                async with connection.begin_nested():
                    return await connection.execute(statement, params)
            except FOREIGN_ERRORS as exc:
                await self._forget_if_lost(exc)
                raise
        try:
            return await connection.execute(statement, params)
        except Exception as exc:
            if await self._forget_if_lost(exc):
                raise  # nothing to roll back: the server ended the transaction with it
            # The statement's own error is the one the caller must see.
            with contextlib.suppress(*FOREIGN_ERRORS):
                await connection.rollback()
            raise

    def in_server_transaction(self) -> bool:
        """True when a transaction is open on the server (a write or locking read ran)."""
        return self._connection is not None and bool(self._connection.info.get(TRANSACTION_OPEN))

    async def commit(self) -> None:
        """Commit the transaction, if a statement ran."""
        if self._connection is not None:
            await self._connection.commit()

    async def rollback(self) -> None:
        """Roll back the transaction, if a statement ran."""
        if self._connection is not None:
            await self._connection.rollback()

    async def close(self) -> None:
        """Roll back what was not committed and give the connection back to the pool."""
        self._leave_lane()
        connection, self._connection = self._connection, None
        self._driver = None
        if connection is None:
            return
        try:
            await connection.close()
        except PendingRollbackError:
            # A statement was cut off (a cancelled task): the connection was invalidated
            # inside its transaction. Ending that transaction lets it close (and be
            # replaced in the pool) instead of failing the unit of work's exit.
            await connection.rollback()
            await connection.close()


def session_factory(engine: AsyncEngine) -> ConnectionSource:
    """What units of work open their connection from (with lazy BEGIN on PostgreSQL)."""
    if engine.dialect.driver == "asyncpg":
        engine = engine.execution_options(**{LAZY_BEGIN: True})
    return ConnectionSource(engine)
