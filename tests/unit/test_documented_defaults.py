"""The defaults and bounds README.md and API.md promise, pinned: changing one must be a
decision (and a documentation change), never an accident."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from entrypoints.config.settings import GROUPS, VARIABLES
from tarsify.domain.api_keys import MAX_ACTIVE_KEYS
from tarsify.domain.errors import InvalidQuery
from tarsify.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, PageRequest
from tarsify.services.engine.settings import EngineSettings


def default(variable: str) -> object:
    group, field = VARIABLES[variable]
    return GROUPS[group].model_fields[field].default


def test_the_documented_setting_defaults() -> None:
    assert default("PLATFORM_FEE_PERCENT") == 20
    assert default("MAX_ACTIVE_EXECUTIONS") == 10
    assert default("MAX_STREAMS_PER_CONSUMER") == 10
    assert default("MAX_BODY_BYTES") == 1024 * 1024
    assert MAX_ACTIVE_KEYS == 20


def test_the_engine_timing_defaults() -> None:
    engine = EngineSettings()
    assert (engine.unconfirmed_wait_s, engine.submit_answer_s) == (120.0, 90.0)
    assert (engine.resend_delay_s, engine.pending_grace_s) == (5.0, 15.0)
    assert (engine.timeout_factor, engine.min_timeout_s, engine.max_timeout_s) == (10, 60, 3600)
    assert (engine.queue_allowance_s, engine.deadline_grace_s) == (600, 60)


def test_pages_are_twenty_by_default_and_between_one_and_a_hundred() -> None:
    assert (DEFAULT_LIMIT, MAX_LIMIT) == (20, 100)
    assert PageRequest().limit == 20
    assert PageRequest(1).limit == 1 and PageRequest(100).limit == 100
    for wrong in (0, -1, 101):
        with pytest.raises(InvalidQuery):
            PageRequest(wrong)


def _cursor(parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


STAMP = "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "parts",
    [
        [STAMP],  # not a pair
        [STAMP, str(uuid.uuid4()), "extra"],
        {"at": STAMP, "id": str(uuid.uuid4())},  # not a list
        [1767225600, str(uuid.uuid4())],  # the instant not text
        [STAMP, 5],  # the id not text
        [STAMP, str(uuid.uuid4()).upper()],  # not the canonical id
    ],
)
def test_cursors_of_another_shape_are_refused(parts: object) -> None:
    with pytest.raises(InvalidQuery):
        Cursor.decode(_cursor(parts))


def test_an_issued_cursor_reads_back() -> None:
    cursor = Cursor(datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode(_cursor([STAMP, str(cursor.id)])) == cursor
