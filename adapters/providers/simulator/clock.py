"""A monotonic clock for the simulator that tests move by hand."""

from __future__ import annotations


class ManualClock:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self.value += seconds
