"""``tarsify outputs offload``: move inline files of stored outputs into the file store."""

from __future__ import annotations

import sys

from entrypoints.config import Settings
from entrypoints.container import build_container, resolve


def _bar(scanned: int, moved: int) -> None:
    """One line of progress on a terminal (rewritten in place), nothing in a pipe."""
    if sys.stderr.isatty():
        print(f"\r  scanned {scanned:>9,}  moved {moved:>9,}", end="", file=sys.stderr, flush=True)


async def offload_outputs(settings: Settings) -> int:
    """Scan every COMPLETED execution once; returns the exit status."""
    container = build_container(settings)
    await resolve(container.init_resources)
    try:
        upkeep = await resolve(container.file_upkeep)
        report = await upkeep.offload_inline(progress=_bar)
    finally:
        await resolve(container.shutdown_resources)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(
        f"scanned {report.scanned} completed executions; moved the files of {report.moved} "
        f"({report.files} files) into the file store"
    )
    return 0
