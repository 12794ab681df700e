"""``RateLimiter`` on the ``limits`` package: its strategies over its memory or Redis
storage.

Two strategies, chosen per limit:

- ``moving``: a moving window (a log of the window's hits per key). Exact: no 60 seconds
  ever hold more than the quota, whatever the boundaries; it keeps up to ``quota``
  timestamps per key. The run limit uses it (its quota is small and each run costs a
  transaction and a GPU job).
- ``fixed``: a fixed window (one counter per key and window). One increment per request,
  but a burst at a window's boundary can pass twice the quota within a few seconds. The
  per-address limit of the open routes uses it: it guards the hot read paths against
  floods, where a coarse bound is enough and the cost per request matters.

With Redis (``REDIS_URL``) every process and node counts in the same keys. When Redis
cannot be reached, the limiter fails open to its own process: it counts in memory (each
process admits at most the quota, so N processes at most N times it) and tries Redis
again after ``RETRY_SHARED_S``; every such failure is counted (``on_store_error``) and
logged once per outage. The service keeps serving either way.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, Literal

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
)

from tarsify.ports.limits import RateDecision

log = logging.getLogger("tarsify.limits")

Strategy = Literal["moving", "fixed"]
# After Redis failed, how long the process counts on its own before asking it again.
RETRY_SHARED_S = 5.0
# A Redis that does not answer must not hold requests up.
REDIS_TIMEOUT_S = 0.5
KEY_PREFIX = "tarsify_limits"
_STRATEGIES: dict[Strategy, type[RateLimiter]] = {
    "moving": MovingWindowRateLimiter,
    "fixed": FixedWindowRateLimiter,
}


def redis_storage(url: str, *, key_prefix: str = KEY_PREFIX) -> Storage:
    """The ``limits`` Redis storage of ``REDIS_URL`` (``redis://`` or ``rediss://``),
    through the ``redis`` client (the ``[redis]`` extra)."""
    from limits.aio.storage import RedisStorage

    return RedisStorage(
        f"async+{url}",
        implementation="redispy",
        key_prefix=key_prefix,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )


def redis_client_installed() -> bool:
    """True when the ``redis`` client (the ``[redis]`` extra) can be imported."""
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    return True


class LimitsRateLimiter:
    """``quota`` requests per ``window_s`` seconds per key, named ``name``."""

    def __init__(
        self,
        name: str,
        quota: int,
        *,
        window_s: int = 60,
        strategy: Strategy = "moving",
        shared: Storage | None = None,
        on_store_error: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        retry_shared_s: float = RETRY_SHARED_S,
    ) -> None:
        self.name = name
        self.quota = quota
        self.window_s = window_s
        self._item = RateLimitItemPerSecond(quota, window_s)
        kind = _STRATEGIES[strategy]
        self._local = kind(MemoryStorage())
        self._shared = kind(shared) if shared is not None else None
        self._on_store_error = on_store_error
        self._clock = clock
        self._shared_down_until = 0.0
        self._retry_shared_s = retry_shared_s

    async def hit(self, key: str) -> RateDecision:
        """Count one request of ``key`` (in Redis when it answers, else in memory)."""
        decision = await self._count(key, detailed=True)
        assert decision is not None
        return decision

    async def admit(self, key: str) -> RateDecision | None:
        """Count one request of ``key``; None when admitted (one storage call instead of
        two: what is left is not read)."""
        return await self._count(key, detailed=False)

    async def _count(self, key: str, *, detailed: bool) -> RateDecision | None:
        if self._shared is not None and self._clock() >= self._shared_down_until:
            try:
                decision = await self._hit(self._shared, key, detailed)
            except Exception as exc:  # redis.RedisError, OSError: the store is unreachable
                self._store_failed(exc)
            else:
                if self._shared_down_until:
                    self._shared_down_until = 0.0
                    log.info("limits.shared_store_back", extra={"limit": self.name})
                return decision
        return await self._hit(self._local, key, detailed)

    async def _hit(self, strategy: RateLimiter, key: str, detailed: bool) -> RateDecision | None:
        admitted = await strategy.hit(self._item, self.name, key)
        if admitted and not detailed:
            return None
        stats = await strategy.get_window_stats(self._item, self.name, key)
        reset_s = max(0, math.ceil(stats.reset_time - self._clock()))
        if not admitted:
            reset_s = max(1, reset_s)
        return RateDecision(admitted, self.quota, self.window_s, stats.remaining, reset_s)

    def _store_failed(self, exc: Exception) -> None:
        if self._shared_down_until == 0.0:  # once per outage
            log.warning(
                "limits.shared_store_unreachable",
                extra={"limit": self.name, "error": type(exc).__name__},
            )
        self._shared_down_until = self._clock() + self._retry_shared_s
        if self._on_store_error is not None:
            self._on_store_error(self.name)


async def close_storage(storage: Storage) -> None:
    """Close the connections of a ``redis_storage``."""
    bridge: Any = getattr(storage, "bridge", None)
    client = getattr(bridge, "storage", None)
    if client is not None:
        await client.aclose()
