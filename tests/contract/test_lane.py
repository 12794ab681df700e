"""The lane (adapters/sql/lane.py) on a real PostgreSQL: statements outside a transaction
reuse its connections, it never takes the connections transactions need, a cut-off
statement's connection is never reused, and dispose closes what it kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.db import Db, session_factory
from adapters.sql.engine import create_engine
from adapters.sql.lane import Lane, lane_size
from adapters.sql.query import Query

pytestmark = pytest.mark.postgres

PID = Query(select(func.pg_backend_pid()))
# Cut off after 0.2 s; the server runs a statement to its end before it notices the
# closed socket, so it ends the backend about a second later.
SLOW_PID = Query(select(func.pg_backend_pid(), func.pg_sleep(1)))


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=4, max_overflow=0)
    yield engine
    await engine.dispose()


def lane_of(engine: AsyncEngine) -> Lane:
    lane = engine.sync_engine.pool.lane  # type: ignore[attr-defined]
    assert isinstance(lane, Lane)
    return lane


async def pid_of(db: Db) -> int:
    row = await db.fetch_one(PID, {})
    assert row is not None
    return int(row[0])


async def backends(url_engine: AsyncEngine, pids: set[int]) -> set[int]:
    """Which of ``pids`` are still server processes (read on a connection of its own)."""
    query = text("SELECT pid FROM pg_stat_activity WHERE pid = ANY(:pids)")
    async with url_engine.connect() as connection:
        rows = await connection.execute(query, {"pids": list(pids)})
        return {row[0] for row in rows}


def test_the_lane_leaves_a_quarter_of_the_pool_and_at_least_one_connection() -> None:
    assert [lane_size(n) for n in (1, 2, 3, 4, 5, 8, 20)] == [0, 1, 2, 3, 4, 6, 15]


async def test_a_pool_of_one_has_no_lane(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=1)
    try:
        assert engine.sync_engine.pool.lane is None  # type: ignore[attr-defined]
        db = session_factory(engine)()
        assert await pid_of(db) > 0  # reads take the pooled connection instead
        await db.close()
    finally:
        await engine.dispose()


async def test_reads_outside_a_transaction_reuse_one_lane_connection(engine: AsyncEngine) -> None:
    source = session_factory(engine)
    pids = set()
    for _ in range(5):
        db = source()
        pids.add(await pid_of(db))
        await db.close()
    assert len(pids) == 1
    lane = lane_of(engine)
    assert (lane.taken, lane.idle) == (1, 1)
    assert engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]


async def test_the_lane_stops_at_its_size_and_leaves_transactions_a_connection(
    engine: AsyncEngine,
) -> None:
    source = session_factory(engine)
    holders = [source() for _ in range(3)]  # the lane's size for a pool of 4
    pids = [await pid_of(db) for db in holders]
    assert len(set(pids)) == 3
    # A unit of work that opens a transaction still gets the fourth connection.
    writer = source()
    await writer.execute(text("SELECT 1 FOR UPDATE"))
    assert writer.in_server_transaction()
    await writer.commit()
    await writer.close()
    # A fourth lane read waits for a lane connection to come back, and gets that one.
    waiting = source()
    task = asyncio.create_task(pid_of(waiting))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    await holders[1].close()
    assert await asyncio.wait_for(task, 10) == pids[1]
    for db in (holders[0], holders[2], waiting):
        await db.close()
    assert lane_of(engine).taken == 3


async def test_a_unit_of_work_leaves_the_lane_when_it_opens_a_transaction(
    engine: AsyncEngine,
) -> None:
    table = f"lane_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as connection:
        await connection.execute(text(f"CREATE TABLE {table} (n int)"))
    try:
        db = session_factory(engine)()
        lane_pid = await pid_of(db)
        await db.execute(text(f"INSERT INTO {table} VALUES (1)"))
        assert lane_of(engine).idle == 1  # given back before the transaction began
        # Reads after the write run in its transaction: they see it, on its connection.
        count = Query(select(func.count()).select_from(text(table)))
        assert (await db.fetch_one(count, {}) or [None])[0] == 1
        assert await pid_of(db) != lane_pid
        await db.rollback()
        await db.close()
        other = session_factory(engine)()
        assert (await other.fetch_one(count, {}) or [None])[0] == 0
        await other.close()
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP TABLE {table}"))


async def test_a_cut_off_statement_closes_its_connection_for_good(engine: AsyncEngine) -> None:
    source = session_factory(engine)
    db = source()
    first = await pid_of(db)
    task = asyncio.create_task(db.fetch_one(SLOW_PID, {}))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await db.close()
    lane = lane_of(engine)
    assert (lane.taken, lane.idle) == (0, 0)
    for _ in range(200):  # the server ends the backend once it sees the socket closed
        if not await backends(engine, {first}):
            break
        await asyncio.sleep(0.05)
    assert not await backends(engine, {first})
    again = source()
    assert await pid_of(again) != first
    await again.close()


async def test_a_waiter_gets_a_new_connection_when_one_is_dropped(engine: AsyncEngine) -> None:
    source = session_factory(engine)
    holders = [source() for _ in range(3)]
    pids = [await pid_of(db) for db in holders]
    slow = asyncio.create_task(holders[0].fetch_one(SLOW_PID, {}))
    await asyncio.sleep(0.2)
    waiting = source()
    task = asyncio.create_task(pid_of(waiting))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    slow.cancel()  # its connection is dropped, not handed over: the waiter gets a new one
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await asyncio.wait_for(task, 10) not in pids
    for db in (*holders, waiting):
        await db.close()
    assert lane_of(engine).taken == 3


async def test_a_connection_the_server_closed_is_replaced(engine: AsyncEngine) -> None:
    source = session_factory(engine)
    db = source()
    first = await pid_of(db)
    await db.close()
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    lane = lane_of(engine)
    for _ in range(100):  # until the event loop has seen the socket close
        if lane.idle == 0 or all(h.driver.is_closed() for h in lane._idle):
            break
        await asyncio.sleep(0.02)
    db = source()
    assert await pid_of(db) != first
    await db.close()
    assert lane.taken == 1


async def test_dispose_closes_the_connections_the_lane_kept(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=4)
    source = session_factory(engine)
    holders = [source() for _ in range(3)]
    pids = {await pid_of(db) for db in holders}
    for db in holders:
        await db.close()
    assert lane_of(engine).idle == 3
    await engine.dispose()
    watcher = create_engine(postgres_url, pool_size=1)
    try:
        for _ in range(100):
            if not await backends(watcher, pids):
                break
            await asyncio.sleep(0.05)
        assert not await backends(watcher, pids)
    finally:
        await watcher.dispose()


async def terminate(engine: AsyncEngine, pid: int) -> None:
    """End the server process ``pid`` (as a restart or an idle reaper would), and wait
    until it is gone."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(100):
        if not await backends(engine, {pid}):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"backend {pid} still runs")


async def test_a_read_whose_lane_connection_died_is_sent_again_on_another(
    engine: AsyncEngine, postgres_url: str
) -> None:
    db = session_factory(engine)()
    first = await pid_of(db)  # the unit of work keeps its lane connection
    other = create_engine(postgres_url, pool_size=1)
    try:
        await terminate(other, first)
    finally:
        await other.dispose()
    second = await pid_of(db)  # the dead one failed: the read went again, elsewhere
    assert second != first
    await db.close()
    lane = lane_of(engine)
    assert lane.taken == 1  # the dead connection left the lane


async def test_a_write_whose_backend_is_terminated_under_it_leaves_the_lane_unsent_again(
    engine: AsyncEngine, postgres_url: str
) -> None:
    from adapters.sql.errors import is_connection_lost

    db = session_factory(engine)()
    pid = await pid_of(db)
    lane = lane_of(engine)
    slow = Query(select(func.pg_sleep(5)))
    # Terminated while it runs: the server answers 57P01 (a PostgresError) on it.
    running = asyncio.ensure_future(db._on_lane(slow, {}, write=True))
    other = create_engine(postgres_url, pool_size=1)
    try:
        for _ in range(100):
            async with other.connect() as connection:
                state = await connection.scalar(
                    text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                )
            if state == "active":
                break
            await asyncio.sleep(0.02)
        await terminate(other, pid)
    finally:
        await other.dispose()
    with pytest.raises(Exception) as info:
        await running
    assert is_connection_lost(info.value)
    assert (lane.taken, lane.idle) == (0, 0)  # gone from the lane, not sent again
    await db.close()


async def test_a_connection_lost_inside_a_transaction_fails_its_commit(
    engine: AsyncEngine, postgres_url: str
) -> None:
    db = session_factory(engine)()
    await db.execute(text("CREATE TEMP TABLE lost_probe (n int)"))  # opens the transaction
    assert db.in_server_transaction()
    row = (await db.execute(text("SELECT pg_backend_pid()"))).first()
    other = create_engine(postgres_url, pool_size=1)
    try:
        await terminate(other, int(row[0]))
    finally:
        await other.dispose()
    with pytest.raises(Exception) as failed:
        await db.execute(text("SELECT 1"))  # never sent again inside a transaction
    from adapters.sql.errors import is_connection_lost

    assert is_connection_lost(failed.value)
    with pytest.raises(Exception):  # noqa: B017  (whatever SQLAlchemy raises: not a commit)
        await db.commit()
    await db.close()
    fresh = session_factory(engine)()
    assert await pid_of(fresh) > 0  # the pool serves again at once
    await fresh.close()
