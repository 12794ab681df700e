"""The reconciler with its passes timed and its failures counted.

``Reconciler.run_forever`` calls ``self.run_once()`` for each pass, so overriding
``run_once`` measures every pass of the loop without touching the core's loop (its
back-off and logging stay where they are).
"""

from __future__ import annotations

import time
from typing import Any

from adapters.metrics.registry import Metrics
from tarsify.services.engine.reconciler import PassReport, Reconciler


class MeteredReconciler(Reconciler):
    """A ``Reconciler`` reporting pass durations and errors to ``metrics``."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics

    async def run_once(self) -> PassReport:
        """One pass, timed; its execution errors and a failed pass are counted."""
        started = time.perf_counter()
        try:
            report = await super().run_once()
        except Exception:
            self._metrics.reconcile_errors.labels(kind="pass").inc()
            raise
        finally:
            self._metrics.reconcile_seconds.observe(time.perf_counter() - started)
        if report.errors:
            self._metrics.reconcile_errors.labels(kind="execution").inc(report.errors)
        return report
