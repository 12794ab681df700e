"""Rate limit wiring: the store every process counts in, and each limiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from adapters.limits.limiter import LimitsRateLimiter, Strategy
from adapters.metrics.registry import Metrics
from entrypoints.config import Settings
from tarsify.ports.limits import RateLimiter


async def open_rate_limit_store(settings: Settings) -> AsyncIterator[Any]:
    """The store every process's rate limits count in: Redis at REDIS_URL (closed on
    shutdown), or None (each process counts in its own memory)."""
    if settings.rate_limits.redis_url is None:
        yield None
        return
    # Imported here: the Redis client is the optional ``redis`` extra.
    from adapters.limits.limiter import close_storage, redis_storage

    storage = redis_storage(settings.rate_limits.redis_url)
    try:
        yield storage
    finally:
        await close_storage(storage)


def make_rate_limiter(
    name: str, per_minute: int, strategy: Strategy, shared: Any, metrics: Metrics
) -> RateLimiter | None:
    """A limit of ``per_minute`` requests per key, or None when it is 0 (off)."""
    if per_minute == 0:
        return None
    return LimitsRateLimiter(
        name,
        per_minute,
        strategy=strategy,
        shared=shared,
        on_store_error=metrics.count_rate_limit_store_error,
    )
