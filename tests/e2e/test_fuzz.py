"""Property: whatever JSON arrives at whatever route, the answer is never a 5xx, errors
are in the envelope, and a refused request stores nothing. Memory store at length; SQLite
and PostgreSQL (the backends that choke on NUL) with fewer examples, after the fixed cases.

``TARSIFY_FUZZ_EXAMPLES`` raises the number of examples (and makes them random) for a
longer local run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.sql.migrate import upgrade
from entrypoints.http.app import ROUTES
from tests.pg import migrated_postgres

from .fuzz import RESET_POINTS, Call, Harness, calls
from .test_boundary import check_cases

EXTRA = int(os.environ.get("TARSIFY_FUZZ_EXAMPLES", "0"))


def fuzz(harness: Harness, examples: int) -> None:
    """Run ``examples`` arbitrary calls against ``harness``'s app."""

    @settings(
        max_examples=EXTRA or examples,
        deadline=None,
        derandomize=not EXTRA,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(call=calls(harness.world))
    def property_holds(call: Call) -> None:
        harness.check(call)

    property_holds()


@pytest.fixture
def harness_on(request: pytest.FixtureRequest) -> Iterator[type[Harness]]:
    """``Harness``, closing every one made in the test."""
    made: list[Harness] = []

    def make(url: str = "memory://") -> Harness:
        made.append(Harness(url))
        return made[-1]

    yield make  # type: ignore[misc]
    for harness in made:
        harness.close()


def test_arbitrary_json_at_every_route_on_memory(harness_on: type[Harness]) -> None:
    harness = harness_on()
    fuzz(harness, 500)
    # Every route was called (a route left out would be a route not tested).
    assert harness.seen == {f"{r.method} {r.path}" for r in ROUTES}


def test_requests_reset_at_any_byte_are_never_errors(
    harness_on: type[Harness], caplog: pytest.LogCaptureFixture
) -> None:
    """A client that resets its connection anywhere in a request (in the request line,
    the headers or the body) makes no ERROR, no traceback and no 5xx: at most a 499."""
    harness = harness_on()
    caplog.set_level(logging.INFO)

    @settings(
        max_examples=EXTRA or 150,
        deadline=None,
        derandomize=not EXTRA,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        call=calls(harness.world),
        where=st.sampled_from(RESET_POINTS),
        fraction=st.floats(0.0, 1.0),
    )
    def reset_early(call: Call, where: str, fraction: float) -> None:
        harness.reset_early(call, where, fraction)

    baseline = harness.connections()
    reset_early()
    harness.run(harness.settled(baseline))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "Traceback" not in caplog.text
    metrics = harness.run(harness.api.call("GET", "/metrics", None)).text
    statuses = {s for s in re.findall(r'status="(\d+)"', metrics)}
    assert not {s for s in statuses if s.startswith("5")}, statuses
    assert len(harness.seen) > len(ROUTES) // 2  # the resets reached most routes
    assert 'status="499"' in metrics  # and some handlers were reading when they came


@pytest.fixture(scope="module")
def fuzz_postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module."""
    yield from migrated_postgres()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_unstorable_values_and_arbitrary_json_on_sql(
    backend: str, harness_on: type[Harness], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
        asyncio.run(upgrade(url))
    else:
        url = request.getfixturevalue("fuzz_postgres_url")
    harness = harness_on(url)
    harness.run(check_cases(harness.api, harness.world))
    fuzz(harness, 60)
