"""The fast renderer writes exactly the bytes the pydantic views write."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from entrypoints.http import render, serialize
from entrypoints.http.envelope import ok, ok_fast, ok_page, ok_page_fast
from tarsify.domain import models as m
from tarsify.domain.pagination import Page

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)

TRICKY: list[Any] = [
    None,
    {},
    [],
    "plain",
    {"text": 'quotes " and \\ backslashes / slashes', "ctl": "\x00\x01\x1f\t\n\r\x7f"},
    {"unicode": "héllo ✓ 日本語 😀 \u2028\u2029"},
    {"floats": [0.1, 1e16, 1.5e300, 1e-7, 5e-324, -0.0, 123456789.123, 2.5, 1e22, 1e21]},
    {"ints": [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1]},
    {"big": 2**80},  # beyond orjson: the pydantic views answer
    {"nested": {"a": [1, {"b": [True, False, None]}], "": "empty key"}},
    [1, "two", 3.0],
    42,
    3.25,
    True,
]


def _execution(output: Any, **changes: Any) -> m.ExecutionView:
    e = m.Execution(
        id=uuid.uuid4(),
        consumer_id=uuid.uuid4(),
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=NOW,
        updated_at=NOW,
        status=m.ExecutionStatus.COMPLETED,
        consumer_input={"prompt": "ünïcode ✓", "n": 1.5},
        output_payload=output,
        started_at=NOW + timedelta(seconds=1),
        completed_at=NOW + timedelta(seconds=2),
        execution_time_ms=1000,
        queue_time_ms=12,
    )
    for key, value in changes.items():
        setattr(e, key, value)
    return m.ExecutionView(e, "a-model", "A «model»")


@pytest.mark.parametrize("output", TRICKY)
def test_execution_bytes_match_the_view(output: Any) -> None:
    view = _execution(output)
    expected = ok(serialize.execution(view)).body
    assert ok_fast(render.execution(view), lambda: serialize.execution(view)).body == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"status": m.ExecutionStatus.FAILED, "error_code": "E1", "error_message": "boom"},
        {"error_code": None, "error_message": "only a message"},
        {"started_at": None, "completed_at": None, "execution_time_ms": None},
        {"created_at": NOW.replace(tzinfo=None)},  # naive, as SQLite gives it back
        {"created_at": NOW.replace(microsecond=0)},
        {"created_at": NOW.astimezone(timezone(timedelta(hours=2)))},
        {"created_at": NOW.astimezone(timezone(timedelta(hours=-5, minutes=-30)))},
        {"created_at": datetime(1, 1, 1, tzinfo=UTC), "started_at": datetime(9999, 1, 1)},
        {"consumer_input": None},
    ],
)
def test_execution_edge_cases_match_the_view(changes: dict[str, Any]) -> None:
    view = _execution({"ok": True}, **changes)
    expected = ok(serialize.execution(view), status=202).body
    fast = ok_fast(render.execution(view), lambda: serialize.execution(view), status=202)
    assert fast.body == expected and fast.status == 202


def _entry(i: int, description: str | None, name: str | None) -> m.MarketplaceEntry:
    base = m.BaseModel(
        uuid.uuid4(), uuid.uuid4(), f"base-{i}", "Base", m.ModelCategory.IMAGE,
        {"type": "object"}, m.OutputType.IMAGE, "png", NOW, NOW,
    )  # fmt: skip
    tars = m.TarsModel(
        uuid.uuid4(), uuid.uuid4(), base.id, f"Title {i} ✓", f"model-{i}", NOW, NOW,
        description=description, status=m.TarsModelStatus.PUBLISHED, published_at=NOW,
    )  # fmt: skip
    return m.MarketplaceEntry(tars, base, name)


@pytest.mark.parametrize("cursor", [None, "abc_-"])
def test_pages_match_the_views(cursor: str | None) -> None:
    entries = [_entry(0, None, None), _entry(1, 'with "quotes"', "Dev ✓")]
    page = Page(items=entries, next_cursor=cursor)
    expected = ok_page(page, [serialize.marketplace_item(e) for e in entries], 20).body
    fast = ok_page_fast(
        page,
        [render.marketplace_item(e) for e in entries],
        20,
        lambda: [serialize.marketplace_item(e) for e in entries],
    )
    assert fast.body == expected
    views = [_execution(o) for o in TRICKY]
    history = Page(items=views, next_cursor=cursor)
    expected = ok_page(history, [serialize.execution(v) for v in views], 20).body
    fast = ok_page_fast(
        history,
        [render.execution(v) for v in views],
        20,
        lambda: [serialize.execution(v) for v in views],
    )
    assert fast.body == expected
