"""Translation of driver and SQLAlchemy failures into the core's errors."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tarsify.domain.errors import AlreadyExists, StorageError

logger = logging.getLogger("tarsify.storage")

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# Everything a database call can raise besides our own errors.
FOREIGN_ERRORS: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sqlite3.Error,
)

PG_UNIQUE_VIOLATION = "23505"

FailureListener = Callable[[str], None]
_failure_listeners: list[FailureListener] = []


def on_storage_failure(listener: FailureListener) -> Callable[[], None]:
    """Call ``listener(operation)`` on every failure translated to ``StorageError`` (the
    storage error metric); returns the function that stops it. Listeners are
    process-wide, like the translation itself."""
    _failure_listeners.append(listener)
    return lambda: _failure_listeners.remove(listener)


def is_unique_violation(exc: IntegrityError) -> bool:
    """True when the integrity error comes from a unique or primary key constraint."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code == PG_UNIQUE_VIOLATION:
        return True
    cause = getattr(orig, "__cause__", None)
    if isinstance(cause, asyncpg.UniqueViolationError):
        return True
    name = getattr(orig, "sqlite_errorname", "")
    return name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY")


def translate(exc: BaseException, operation: str) -> StorageError | AlreadyExists:
    """The core error for a foreign one, logging the cause (SQL text stays in the log)."""
    if isinstance(exc, IntegrityError) and is_unique_violation(exc):
        logger.info("unique constraint violated during %s: %s", operation, exc.orig)
        return AlreadyExists()
    logger.error("storage failure during %s: %r", operation, exc, exc_info=exc)
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
