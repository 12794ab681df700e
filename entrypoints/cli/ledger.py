"""``tarsify ledger check``: rebuild every balance from the ledger and compare.

Exits 0 when the stored balances, the executions' charges and the invariant (balances +
holds + earnings + fees = grants) all agree with the ledger, 1 on any difference (each
one printed), 3 when the database cannot be read.
"""

from __future__ import annotations

import sys

from entrypoints.config import Settings
from entrypoints.container import build_container, resolve
from tarsify.services.credits import CreditsService

EXIT_DIFFERENCES = 1


async def run_ledger_check(settings: Settings) -> int:
    """Audit the ledger of the configured database; print the result."""
    if settings.database.storage_backend == "memory":
        print("tarsify: a memory:// database lives in its process; nothing to check here")
        return 0
    container = build_container(settings)
    try:
        service: CreditsService = await resolve(container.credits_service)
        report = await service.audit()
    finally:
        await resolve(container.shutdown_resources)
    print(
        f"ledger: {report.entries} entries; grants {report.grants} = balances "
        f"{report.balances} + held {report.held} + earnings {report.earnings} "
        f"+ fees {report.fees}"
    )
    for problem in report.problems:
        print(f"DIFFERENCE {problem}")
    if not report.ok:
        print(f"tarsify: {len(report.problems)} differences", file=sys.stderr)
        return EXIT_DIFFERENCES
    print("ok: every balance rebuilt from the ledger matches the stored one")
    return 0
