"""A developer's figures: how their models' paid runs did over the last days (UTC).

Only consumers' runs count (never a developer's test run). The storage computes the
totals, the percentiles and the rows of the days that had something; ``Figures.over``
gives every day of the window its row, zeros where nothing happened.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

MIN_DAYS, MAX_DAYS = 1, 365
DEFAULT_DAYS = 30


@dataclass(slots=True, frozen=True)
class Window:
    """The last ``days`` UTC days, today included: from ``since`` (a midnight) on."""

    days: int
    today: date

    @classmethod
    def ending(cls, now: datetime, days: int) -> Window:
        """The window of ``days`` days that ends with ``now``'s UTC day."""
        if not MIN_DAYS <= days <= MAX_DAYS:
            raise ValueError(f"days must be {MIN_DAYS}..{MAX_DAYS}")
        return cls(days, now.astimezone(UTC).date())

    @property
    def first(self) -> date:
        """The window's first day."""
        return self.today - timedelta(days=self.days - 1)

    @property
    def since(self) -> datetime:
        """The first day's midnight, UTC."""
        return datetime.combine(self.first, time(), tzinfo=UTC)

    def dates(self) -> list[date]:
        """Every day of the window, oldest first."""
        return [self.first + timedelta(days=n) for n in range(self.days)]


@dataclass(slots=True, frozen=True)
class Percentiles:
    """The median and the 90th percentile (continuous, interpolated), None when no
    value."""

    p50: float | None = None
    p90: float | None = None


@dataclass(slots=True, frozen=True)
class Day:
    """One UTC day: runs created that day by outcome, credits earned that day."""

    date: date
    runs: int = 0
    completed: int = 0
    failed: int = 0
    earnings: int = 0


def success_rate(completed: int, finished: int) -> float | None:
    """Completed over finished runs (0..1), None when none finished."""
    return completed / finished if finished else None


@dataclass(slots=True, frozen=True)
class Figures:
    """Totals over a window: runs by outcome, queue and run times, credits earned."""

    runs: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    timed_out: int = 0
    queue_ms: Percentiles = field(default_factory=Percentiles)
    run_ms: Percentiles = field(default_factory=Percentiles)
    earnings: int = 0
    days: Sequence[Day] = ()

    @property
    def finished(self) -> int:
        """Runs that reached a final status."""
        return self.completed + self.failed + self.cancelled + self.timed_out

    @property
    def success_rate(self) -> float | None:
        """Completed over finished (0..1), None when none finished."""
        return success_rate(self.completed, self.finished)

    def over(self, window: Window) -> Figures:
        """These figures with one row for every day of ``window`` (zeros when quiet)."""
        known = {day.date: day for day in self.days}
        return replace(self, days=[known.get(d) or Day(d) for d in window.dates()])


@dataclass(slots=True, frozen=True)
class ModelFigures:
    """One model's line in a developer's figures."""

    id: uuid.UUID
    slug: str
    title: str
    runs: int = 0
    completed: int = 0
    finished: int = 0
    earnings: int = 0

    @property
    def success_rate(self) -> float | None:
        """Completed over finished (0..1), None when none finished."""
        return success_rate(self.completed, self.finished)


@dataclass(slots=True, frozen=True)
class DeveloperFigures:
    """A developer's totals over all their models, and each model's line."""

    totals: Figures
    models: list[ModelFigures]


def percentile(values: Iterable[float], p: float) -> float | None:
    """The continuous percentile ``p`` (0..1) of ``values``, interpolated between the two
    nearest ranks (PostgreSQL's ``percentile_cont``); None when there is no value."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = p * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction
