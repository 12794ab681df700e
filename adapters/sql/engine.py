"""The process-wide async engine and the session factory built on it.

On PostgreSQL two things keep a short read at one round trip, where it would otherwise
take six (BEGIN, SELECT ";" and ROLLBACK for the pre-ping, then BEGIN, the query and
ROLLBACK):

- Connections are checked for liveness at checkout only when they sat idle in the pool
  longer than ``PING_AFTER_IDLE_S`` (or when asyncpg already saw them close), like
  HikariCP's alive-bypass window: a connection used a moment ago is known to be alive.
- Units of work begin their transaction lazily, at the first statement that is not a plain
  ``SELECT`` (a write, a SAVEPOINT or a locking read); plain reads before it run on their
  own, as SQLite's driver also does. Under READ COMMITTED every statement takes its own
  snapshot anyway, so this changes no result; it only saves the BEGIN and ROLLBACK of
  read-only units of work. A whole change with nothing to follow (one INSERT or UPDATE,
  then commit: ``adapters.sql.db``) begins none at all: it is one atomic statement,
  durable as it returns.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import StaticPool

from adapters.sql.lane import PING_AFTER_IDLE_S, LanePool

SQLITE_BUSY_TIMEOUT_MS = 5000
PG_CONNECT_TIMEOUT_S = 5
# A fixed pool: overflow connections are closed as soon as they are given back, so under
# steady load beyond the pool every few requests would start (and end) a PostgreSQL
# backend. Requests beyond the pool wait for a connection instead.
# Planner settings of the service's sessions. Statements are prepared, and PostgreSQL
# plans a prepared statement once for any parameter ("generic plan") from the average
# row count. A history page of a consumer with a hundred times the average history was
# then planned as "find every row of the consumer with a bitmap scan, then sort" (1,000
# rows read for a page of 20: 5 ms instead of 0.2 ms), because for the average consumer,
# with fewer rows than a page, that looked as cheap as reading the index in page order;
# whether it did turned on the statistics of the moment. The service's queries are each
# led by an index in the order they read and never need a bitmap scan; without them,
# reading the index in page order is what every plan of a page does
# (tests/contract/test_query_plans.py keeps it so).
SESSION = {"enable_bitmapscan": "off"}
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 0
# Execution option of the sessions' engine: begin transactions lazily (PostgreSQL only).
LAZY_BEGIN = "tarsify_lazy_begin"
_LAST_USED = "tarsify_last_used"
# Connection.info key: a transaction is open on the server (set by lazy connections).
TRANSACTION_OPEN = "tarsify_transaction_open"
# A statement that needs no transaction: a SELECT without a row-locking clause.
_PLAIN_READ = re.compile(
    r"\s*SELECT\b(?!.*\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b)",
    re.IGNORECASE | re.DOTALL,
)


# Plain URLs (as in DATABASE_URL) get the async driver this adapter is built on.
ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> str:
    """``url`` with the async driver filled in (``postgres://`` and ``sqlite://`` too)."""
    parsed = make_url(url)
    if parsed.drivername in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def driver_options(*, pooled: bool = False) -> dict[str, Any]:
    """asyncpg's connect arguments (SQLAlchemy's ``connect_args``).

    ``pooled``: the URL is a transaction pooler's (PgBouncer in ``pool_mode=transaction``),
    which hands each transaction (each statement outside one) to any of its server
    connections. Nothing may then outlive a transaction on the server: no prepared
    statement cache (asyncpg's ``statement_cache_size=0`` sends its statements unnamed,
    parsed again with each execution; SQLAlchemy's ``prepared_statement_cache_size=0``
    and a unique name for each statement it prepares, so two clients never clash on
    ``__asyncpg_stmt_1__``), and no session settings (PgBouncer refuses unknown startup
    parameters): set ``enable_bitmapscan = off`` on the database instead (README).
    """
    options: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
    if not pooled:
        return options | {"server_settings": SESSION}
    return options | {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__tarsify_{uuid.uuid4().hex}__"


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    pooled: bool = False,
) -> AsyncEngine:
    """One engine per process; SQLite gets WAL, foreign keys and a busy timeout.

    On a server database ``pool_size`` connections stay open; up to ``max_overflow`` more
    are opened under bursts and closed when given back. ``pooled``: the URL is a
    transaction pooler's (``driver_options``).
    """
    url = async_url(url)
    parsed = make_url(url)
    # hide_parameters: a statement's values (inputs, emails) never reach an error message.
    kwargs: dict[str, Any] = {
        "echo": echo,
        "json_deserializer": json_loads,
        "hide_parameters": True,
    }
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # Every connection to ":memory:" is a new empty database: share one.
            kwargs["poolclass"] = StaticPool
        engine = _create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    kwargs |= {"pool_size": pool_size, "max_overflow": max_overflow}
    if parsed.get_driver_name() != "asyncpg":
        return _create_async_engine(url, pool_pre_ping=True, **kwargs)
    # Fail fast when the server is unreachable instead of asyncpg's 60 s default.
    kwargs["connect_args"] = driver_options(pooled=pooled)
    # The pool keeps a lane of connections for statements outside a transaction (lane.py).
    engine = _create_async_engine(url, poolclass=LanePool, **kwargs)
    sync_engine = engine.sync_engine
    event.listen(sync_engine, "connect", _stamp_used)
    event.listen(sync_engine, "checkout", _check_alive)
    event.listen(sync_engine, "checkin", _on_checkin)
    event.listen(sync_engine, "before_cursor_execute", _begin_lazily)
    event.listen(sync_engine, "commit", _transaction_ended)
    event.listen(sync_engine, "rollback", _transaction_ended)
    return engine


def json_loads(text: str | bytes) -> Any:
    """JSON columns' decoder: orjson, or the standard library for what orjson refuses
    (integers beyond 64 bits, lone surrogates), so every value reads back as before."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _stamp_used(_dbapi_connection: Any, record: Any) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _check_alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that sat idle; a dead one is replaced by the pool."""
    if record.driver_connection.is_closed():
        raise exc.DisconnectionError("connection closed while idle in the pool")
    if time.monotonic() - record.info.get(_LAST_USED, 0.0) <= PING_AFTER_IDLE_S:
        return
    # Outside a transaction the ping is one round trip (";") instead of three.
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError("connection failed its ping") from error
    finally:
        dbapi_connection.autocommit = False


def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info.pop(TRANSACTION_OPEN, None)
    if dbapi_connection is None:  # invalidated
        return
    record.info[_LAST_USED] = time.monotonic()
    # Back to the driver's default for whoever checks the connection out next.
    dbapi_connection.autocommit = False


def _begin_lazily(
    connection: Any,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    """On lazy connections, let only non-plain-read statements open the transaction.

    The asyncpg adapter begins a transaction before a statement when none is open and the
    connection is not in autocommit mode; a statement inside an open transaction stays
    in it whatever the flag says, and commit/rollback with none open are no-ops.
    """
    if connection.get_execution_options().get(LAZY_BEGIN):
        info = connection.info
        plain_read = is_plain_read(statement)
        connection.connection.dbapi_connection.autocommit = plain_read
        if not plain_read:
            info[TRANSACTION_OPEN] = True


def _transaction_ended(connection: Any) -> None:
    connection.info.pop(TRANSACTION_OPEN, None)


_plain_reads: dict[str, bool] = {}


def is_plain_read(statement: str) -> bool:
    """Whether ``statement`` is a SELECT without a row-locking clause (memoised)."""
    known = _plain_reads.get(statement)
    if known is None:
        if len(_plain_reads) >= 2048:  # statements with expanded IN lists vary
            _plain_reads.clear()
        known = _plain_reads[statement] = _PLAIN_READ.match(statement) is not None
    return known


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers proceed while one writer commits.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
