"""Every metric the service exports, in a registry of its own.

A ``Metrics`` owns a ``CollectorRegistry`` (never prometheus_client's global one), so
several apps in one process (tests) keep separate figures. ``GET /metrics`` renders it.

Under ``tarsify serve --workers N`` every worker runs with ``PROMETHEUS_MULTIPROC_DIR``
set (``serve`` makes the directory): prometheus_client then keeps each process's values
in files there, and a scrape, whichever worker answers it, adds up every worker's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from tarsify.domain.models import ExecutionStatus

# Seconds: GPU provider calls range from a 50 ms status read to a 90 s synchronous run.
PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0)
# Where the processes of one service keep their values (read when prometheus_client is
# first imported, so it is set in a worker's environment before it starts).
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The service's metrics and the registry holding them."""

    def __init__(self) -> None:
        # The ``*_created`` series double the output and no dashboard uses them; the
        # switch is process-wide, and this process exports nothing else.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.shared_dir = os.environ.get(MULTIPROCESS_DIR_ENV) or None
        r = self.registry
        self.executions = Gauge(
            "tarsify_executions",
            "Executions by status, counted in the database at scrape time",
            ["status"],
            registry=r,
            # Across workers: the newest count (the scrape that made it read the database).
            multiprocess_mode="mostrecent",
        )
        self.provider_calls = Counter(
            "tarsify_gpu_provider_calls",
            "GPU provider calls by operation and outcome "
            "(ok, not_found, not_sent, refused, unknown, cancelled, exception), by provider",
            ["provider", "operation", "outcome"],
            registry=r,
        )
        self.provider_seconds = Histogram(
            "tarsify_gpu_provider_call_seconds",
            "GPU provider call latency by provider and operation",
            ["provider", "operation"],
            buckets=PROVIDER_BUCKETS,
            registry=r,
        )
        self.storage_errors = Counter(
            "tarsify_storage_errors",
            "Database failures turned into StorageError, by repository operation",
            ["operation"],
            registry=r,
        )
        self.rate_limit_store_errors = Counter(
            "tarsify_rate_limit_store_errors",
            "Rate-limit checks the shared store (Redis) could not answer, by limit; each "
            "was counted in the process's memory instead (fail open to the process)",
            ["limit"],
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            "tarsify_reconcile_pass_seconds",
            "Duration of reconcile passes (failed passes included)",
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.reconcile_errors = Counter(
            "tarsify_reconcile_errors",
            "Reconcile failures: execution (one execution could not be advanced) "
            "or pass (a whole pass failed, e.g. the database was down)",
            ["kind"],
            registry=r,
        )
        for kind in ("execution", "pass"):
            self.reconcile_errors.labels(kind=kind)  # present (0) before the first failure
        self.http_requests = Counter(
            "tarsify_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "tarsify_http_request_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        # Label sets are few (routes x methods x statuses) and each lookup takes a lock.
        self._request_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One answered HTTP request (its series are looked up once per label set)."""
        key = (method, route, status)
        series = self._request_series.get(key)
        if series is None:
            series = self._request_series[key] = (
                self.http_requests.labels(method, route, str(status)),
                self.http_seconds.labels(method, route),
            )
        count, duration = series
        count.inc()
        duration.observe(seconds)

    def count_storage_error(self, operation: str) -> None:
        """One database failure during ``operation``."""
        self.storage_errors.labels(operation=operation).inc()

    def count_rate_limit_store_error(self, limit: str) -> None:
        """One rate-limit check of ``limit`` the shared store could not answer."""
        self.rate_limit_store_errors.labels(limit=limit).inc()

    def set_execution_counts(self, counts: Mapping[ExecutionStatus, int] | None) -> None:
        """Every status's count (0 when absent); None (unknown) removes the series."""
        if counts is None:
            self.executions.clear()
            return
        for status in ExecutionStatus:
            self.executions.labels(status=status.value).set(counts.get(status, 0))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (of every worker, when the
        service's processes share a directory)."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
