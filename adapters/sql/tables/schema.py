"""The one ``MetaData`` every table joins, and what the table modules share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Index, MetaData, func, text

from adapters.sql.types import UtcDateTime

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def partial_index(name: str, *columns: Any, where: str, unique: bool = False) -> Index:
    """An index over the rows ``where`` holds, on PostgreSQL and SQLite alike."""
    predicate = text(where)
    return Index(name, *columns, unique=unique, postgresql_where=predicate, sqlite_where=predicate)


metadata = MetaData(naming_convention=NAMING_CONVENTION)


def timestamps() -> list[Column[object]]:
    """``created_at`` and ``updated_at``, set by the database when a row is written."""
    return [
        Column("created_at", UtcDateTime(), nullable=False, server_default=func.now()),
        Column("updated_at", UtcDateTime(), nullable=False, server_default=func.now()),
    ]
