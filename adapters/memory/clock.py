"""A clock tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Returns a fixed instant until ``advance`` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current (fake) instant."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time forward by ``seconds``; returns the new instant."""
        self._now += timedelta(seconds=seconds)
        return self._now
