"""The database: where it is, how it is reached, the pool of each process."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from entrypoints.config.common import Group

MEMORY_URL_PREFIX = "memory://"
# What DATABASE_URL may start with (before ``://``), memory:// aside; the plain names get
# the async driver (adapters/sql/engine.py).
DATABASE_SCHEMES = frozenset(
    {"sqlite+aiosqlite", "sqlite", "postgresql+asyncpg", "postgresql", "postgres"}
)


def database_url_problems(url: str) -> list[str]:
    """Why DATABASE_URL names no database this service can use (none: it can)."""
    if url.startswith(MEMORY_URL_PREFIX):
        return []
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in DATABASE_SCHEMES:
        return []
    # Only the scheme is repeated: the rest of a URL may hold a password.
    given = f"{scheme}://" if scheme else "a value that is not a URL"
    return [
        "DATABASE_URL must start with sqlite+aiosqlite://, postgresql+asyncpg:// "
        f"(postgresql:// and postgres:// mean it too) or memory://, not {given}"
    ]


class DatabaseConfig(Group):
    """DATABASE_URL, DATABASE_POOLER, DATABASE_DIRECT_URL, DB_POOL_SIZE, DB_MAX_OVERFLOW."""

    url: str = Field(default="sqlite+aiosqlite:///./tarsify.db", validation_alias="DATABASE_URL")
    # "transaction": DATABASE_URL is a transaction pooler's (PgBouncer pool_mode=transaction).
    pooler: Literal["none", "transaction"] = Field(
        default="none", validation_alias="DATABASE_POOLER"
    )
    # A direct PostgreSQL URL (not through the pooler), for LISTEN: one connection per process.
    direct_url: str | None = Field(default=None, validation_alias="DATABASE_DIRECT_URL")
    pool_size: int = Field(default=20, ge=1, le=1000, validation_alias="DB_POOL_SIZE")
    max_overflow: int = Field(default=0, ge=0, le=1000, validation_alias="DB_MAX_OVERFLOW")

    def problems(self) -> list[str]:
        return database_url_problems(self.url)

    @property
    def storage_backend(self) -> Literal["memory", "sql"]:
        """``memory`` for a ``memory://`` DATABASE_URL (tests, demos), else ``sql``."""
        return "memory" if self.url.startswith(MEMORY_URL_PREFIX) else "sql"

    @property
    def pooled(self) -> bool:
        """True when DATABASE_URL goes through a transaction pooler."""
        return self.pooler == "transaction"
