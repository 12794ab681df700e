"""Translation of driver and SQLAlchemy failures into the core's errors."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg
from asyncpg.exceptions import InternalClientError
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from tarsify.domain.errors import AlreadyExists, StorageError

logger = logging.getLogger("tarsify.storage")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# Everything a database call can raise besides our own errors.
FOREIGN_ERRORS: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # asyncpg's "cannot switch to state N": a connection whose protocol was cut off.
    InternalClientError,
    sqlite3.Error,
)

# SQLSTATE classes of a connection the server ended or lost: 08 (connection exception)
# and 57P0x (admin_shutdown, crash_shutdown, cannot_connect_now, database_dropped,
# idle_session_timeout).
_LOST_SQLSTATES = ("08", "57P0")

PG_UNIQUE_VIOLATION = "23505"

FailureListener = Callable[[str], None]
_failure_listeners: list[FailureListener] = []


def on_storage_failure(listener: FailureListener) -> Callable[[], None]:
    """Call ``listener(operation)`` on every failure translated to ``StorageError`` (the
    storage error metric); returns the function that stops it. Listeners are
    process-wide, like the translation itself."""
    _failure_listeners.append(listener)
    return lambda: _failure_listeners.remove(listener)


def is_unique_violation(exc: BaseException) -> bool:
    """True when the error (SQLAlchemy's, or asyncpg's when the driver ran the statement
    directly) comes from a unique or primary key constraint."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    if not isinstance(exc, IntegrityError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code == PG_UNIQUE_VIOLATION:
        return True
    cause = getattr(orig, "__cause__", None)
    if isinstance(cause, asyncpg.UniqueViolationError):
        return True
    name = getattr(orig, "sqlite_errorname", "")
    return name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def is_connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` says the statement's connection died (a terminated backend, a
    reset socket, a failover, a protocol cut off mid-statement): whatever it was doing
    is undone unless it had committed, and the connection must never be used again.

    Looks through SQLAlchemy's wrapper (``orig``), the driver's cause and, for SQLAlchemy's
    own errors, the error being handled when they were raised.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.PostgresError):
            code = str(getattr(current, "sqlstate", "") or "")
            if code.startswith(_LOST_SQLSTATES):
                return True
        elif isinstance(current, asyncpg.InterfaceError | InternalClientError | OSError) or (
            isinstance(current, DBAPIError) and current.connection_invalidated
        ):
            return True
        following = getattr(current, "orig", None) or current.__cause__
        if following is None and isinstance(current, SQLAlchemyError):
            # SQLAlchemy raises PendingRollbackError while it handles a lost connection
            # that invalidated the transaction.
            following = current.__context__
        current = following
    return False


def describe(exc: BaseException) -> str:
    """A one-line account of a database failure that names no value.

    The driver's first line (``value too long for type character varying(128)``) and the
    SQLSTATE; not its DETAIL lines, which quote rows (``Key (slug)=(...)``, ``Failing
    row contains (...)``), nor the statement's parameters (the engines hide them too).
    """
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    cause = getattr(orig, "__cause__", None)
    code = code or getattr(cause, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    first_line = (str(orig).strip().splitlines() or [""])[0]
    # SQLAlchemy's asyncpg adapter prefixes the driver's class: keep only its message.
    message = first_line.rpartition(">: ")[2] if ">: " in first_line else first_line
    kind = type(cause if isinstance(cause, asyncpg.PostgresError) else orig).__name__
    return f"{kind} [{code or '-'}]: {message[:300]}"


def translate(exc: BaseException, operation: str) -> StorageError | AlreadyExists:
    """The core error for a foreign one, logging what failed (never the values involved)."""
    if is_unique_violation(exc):
        logger.info("unique constraint violated during %s: %s", operation, describe(exc))
        return AlreadyExists()
    statement = getattr(exc, "statement", None)
    if is_connection_lost(exc):
        # Not a fault of the statement: the server went away (restart, failover, reaper).
        logger.warning("storage connection lost during %s: %s", operation, describe(exc))
        for listener in tuple(_failure_listeners):
            listener(operation)
        return StorageError()
    logger.error(
        "storage failure during %s: %s; statement: %s",
        operation,
        describe(exc),
        (statement or "-")[:500],
    )
    for listener in tuple(_failure_listeners):
        listener(operation)
    return StorageError()


def guarded(operation: str) -> Callable[[F], F]:
    """Decorate an async repository method so it raises only core errors."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await func(*args, **kwargs)
            except FOREIGN_ERRORS as exc:
                raise translate(exc, operation) from exc

        return cast(F, wrapper)

    return decorate
