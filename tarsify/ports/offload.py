"""Offload: CPU-bound work run away from the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

R = TypeVar("R")


class Offload(Protocol):
    """Runs CPU-bound work (checking a run's inputs) away from the event loop, so that
    other requests (``/health`` included) are answered meanwhile."""

    async def run(self, work: Callable[[], R]) -> R:
        """``work()``'s result (or exception). ``ValidationBudgetSpent`` when it could not
        even start and finish within the adapter's limit (every worker busy)."""
        ...
