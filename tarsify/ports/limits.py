"""Rate limits shared by every process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One request counted against a rate limit: whether it was admitted, the quota of the
    window (``quota`` requests per ``window_s`` seconds), what is left of it and in how
    many seconds it is whole again (``reset_s``; for a refused request, when one more is
    admitted)."""

    admitted: bool
    quota: int
    window_s: int
    remaining: int
    reset_s: int


class RateLimiter(Protocol):
    """Counts requests per key (a consumer, a client address) against one quota, for
    every process that shares the limiter's store."""

    name: str
    quota: int
    window_s: int

    async def hit(self, key: str) -> RateDecision:
        """Count one request of ``key``; never raises when the shared store is down (the
        adapter says what it does then)."""
        ...

    async def admit(self, key: str) -> RateDecision | None:
        """``hit`` for callers that show nothing of an admitted request: None when it is
        admitted (what is left is not looked up), the decision when it is refused."""
        ...
