"""Plain helpers of the contract suite's databases (the fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.tables import metadata


def sqlite_url(path: Path) -> str:
    """The aiosqlite URL of a database file."""
    return f"sqlite+aiosqlite:///{path}"


async def empty_all(engine: AsyncEngine) -> None:
    """Empty every table, children first (on tiny tables DELETE beats TRUNCATE)."""
    async with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            await connection.execute(table.delete())
