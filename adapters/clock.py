"""The real clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Current UTC time from the operating system."""

    def now(self) -> datetime:
        """Timezone-aware now."""
        return datetime.now(UTC)
