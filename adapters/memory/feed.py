"""The execution feed within one process, optionally with polling for other processes.

``InProcessFeed()`` hands announcements straight to the watchers of this process: all a
``memory://`` database needs, since nothing else can change it. With ``poll_s`` (SQLite,
whose other processes cannot announce anything here) watchers also look again every
``poll_s`` seconds. The fan-out to watchers (``adapters.fanout``) is shared with
``PostgresFeed``, which wakes them with what LISTEN hears.
"""

from __future__ import annotations

import uuid

from adapters.fanout import Fanout


class InProcessFeed(Fanout):
    """Announcements reach this process's watchers at once (``poll_s``: see above)."""

    async def announce(self, execution_id: uuid.UUID, version: int) -> None:
        """Wake the execution's watchers (the version is committed)."""
        self.wake(execution_id, version)
