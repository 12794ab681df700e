"""Background upkeep beside the reconciler: the retention sweep of output files and
the sweep of expired uploads."""

from __future__ import annotations

import asyncio
import logging

from tarsify.domain.errors import TarsifyError
from tarsify.services.file_upkeep import FileUpkeep

log = logging.getLogger("tarsify.files")


async def purge_forever(upkeep: FileUpkeep, retention_days: int, interval_s: float = 3600) -> None:
    """Delete files past ``retention_days`` now and then every ``interval_s``; a sweep that
    fails is logged and tried again at the next interval."""
    while True:
        try:
            deleted = await upkeep.purge(retention_days)
            while deleted > 0:  # a large backlog goes in batches
                deleted = await upkeep.purge(retention_days)
        except TarsifyError as exc:
            log.warning("files.purge_failed", extra={"error": exc.message})
        await asyncio.sleep(interval_s)


async def expire_uploads_forever(upkeep: FileUpkeep, interval_s: float = 300) -> None:
    """Delete expired uploads now and then every ``interval_s`` (in batches); a sweep
    that fails is logged and tried again at the next interval."""
    while True:
        try:
            while await upkeep.expire_uploads() > 0:
                pass
        except TarsifyError as exc:
            log.warning("uploads.sweep_failed", extra={"error": exc.message})
        await asyncio.sleep(interval_s)
