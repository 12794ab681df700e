"""The one rendering of executions and marketplace items matches its documented views."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from entrypoints.http.envelope import ok_fast, ok_page_fast
from entrypoints.http.schemas_executions import (
    ExecutionDocuments,
    ExecutionView,
    execution_document,
    render_execution,
)
from entrypoints.http.schemas_marketplace import MarketplaceItem, marketplace_item
from tarsify.domain import execution as domain
from tarsify.domain import models as m
from tarsify.domain.execution import Execution
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.failures import PendingReason
from tarsify.domain.jsonsafe import PUSHED_VALUE_MAX_BYTES
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


def _execution(output: Any, **changes: Any) -> domain.ExecutionView:
    e = Execution(
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
    return domain.ExecutionView(e, "a-model", "A «model»")


def _data(body: bytes | None) -> Any:
    assert body is not None
    document = json.loads(body)
    assert document["success"] is True
    return document["data"]


@pytest.mark.parametrize("output", TRICKY)
def test_execution_renders_as_its_documented_view(output: Any) -> None:
    view = _execution(output)
    data = _data(ok_fast(execution_document(view)).body)
    parsed = ExecutionView.model_validate(data)  # the OpenAPI schema of the resource
    assert data["output"] == output  # exact, whatever orjson can or cannot encode
    assert parsed.id == view.execution.id and data["status"] == "COMPLETED"
    assert data["model"] == {"slug": "a-model", "title": "A «model»"}
    assert data["input"] == {"prompt": "ünïcode ✓", "n": 1.5}
    assert data["createdAt"] == "2026-03-04T05:06:07.891011+00:00"
    assert (data["executionTimeMs"], data["queueTimeMs"]) == (1000, 12)
    assert data["error"] is None and data["pendingReason"] is None
    assert "inputPayload" not in data and "providerJobId" not in data


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"status": m.ExecutionStatus.FAILED, "error_code": "E1", "error_message": "boom"},
         "error", {"code": "E1", "message": "boom"}),
        ({"error_code": None, "error_message": "only a message"},
         "error", {"code": "ERROR", "message": "only a message"}),
        ({"started_at": None, "completed_at": None}, "startedAt", None),
        ({"created_at": NOW.replace(tzinfo=None)}, "createdAt", "2026-03-04T05:06:07.891011+00:00"),
        ({"created_at": NOW.replace(microsecond=0)}, "createdAt", "2026-03-04T05:06:07+00:00"),
        ({"created_at": NOW.astimezone(timezone(timedelta(hours=2)))},
         "createdAt", "2026-03-04T07:06:07.891011+02:00"),
        ({"consumer_input": None}, "input", None),
        ({"status": m.ExecutionStatus.PENDING, "pending_reason": PendingReason.RATE_LIMITED},
         "pendingReason", {"code": "RATE_LIMITED", "message": PendingReason.RATE_LIMITED.message}),
        ({"status": m.ExecutionStatus.QUEUED, "pending_reason": PendingReason.RATE_LIMITED},
         "pendingReason", None),
    ],
)  # fmt: skip
def test_execution_fields(changes: dict[str, Any], field: str, expected: Any) -> None:
    view = _execution({"ok": True}, **changes)
    response = ok_fast(execution_document(view), status=202)
    data = _data(response.body)
    ExecutionView.model_validate(data)
    assert response.status == 202 and data[field] == expected


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": m.ExecutionStatus.PENDING, "pending_reason": PendingReason.RATE_LIMITED},
        {"status": m.ExecutionStatus.FAILED, "error_code": "E1", "error_message": "boom"},
        {"consumer_input": None, "created_at": NOW.replace(tzinfo=None)},
    ],
)
@pytest.mark.parametrize("output", TRICKY)
def test_a_listed_execution_renders_as_the_whole_one(output: Any, changes: dict[str, Any]) -> None:
    view = _execution(output, **changes)
    listed = ExecutionSummary.of(view)
    assert ok_fast(execution_document(listed)).body == ok_fast(execution_document(view)).body


def test_integers_beyond_64_bits_keep_the_same_format() -> None:
    naive = _execution({"big": 2**80}, created_at=NOW.replace(tzinfo=None))
    data = _data(ok_fast(execution_document(naive)).body)
    assert data["output"] == {"big": 2**80}
    assert data["createdAt"] == "2026-03-04T05:06:07.891011+00:00"


def _entry(i: int, description: str | None, name: str | None) -> m.MarketplaceListing:
    return m.MarketplaceListing(
        uuid.uuid4(), f"model-{i}", f"Title {i} ✓", description, m.ModelCategory.IMAGE,
        m.OutputType.IMAGE, 30, name, NOW,
    )  # fmt: skip


@pytest.mark.parametrize("cursor", [None, "abc_-"])
def test_pages_render_as_their_documented_views(cursor: str | None) -> None:
    entries = [_entry(0, None, None), _entry(1, 'with "quotes"', "Dev ✓")]
    page = Page(items=entries, next_cursor=cursor)
    body = ok_page_fast(page, [marketplace_item(e) for e in entries], 20).body
    assert body is not None
    document = json.loads(body)
    assert document["meta"] == {"limit": 20, "nextCursor": cursor}
    items = [MarketplaceItem.model_validate(item) for item in document["data"]]
    assert [i.slug for i in items] == ["model-0", "model-1"]
    assert document["data"][1]["developerName"] == "Dev ✓"
    assert document["data"][1]["description"] == 'with "quotes"'
    assert "inputSchema" not in document["data"][0]
    views = [_execution(o) for o in TRICKY]
    history = Page(items=views, next_cursor=cursor)
    body = ok_page_fast(history, [execution_document(x) for x in views], 20).body
    assert body is not None
    outputs = [ExecutionView.model_validate(d).output for d in json.loads(body)["data"]]
    assert outputs == TRICKY


async def test_pushed_documents_leave_out_what_is_over_their_bound() -> None:
    """Event streams and webhook bodies (``ExecutionDocuments``) carry an input or output
    only up to PUSHED_VALUE_MAX_BYTES of JSON; GET renders it whole."""
    big = {"text": "é" * PUSHED_VALUE_MAX_BYTES}
    small = {"text": "x" * (PUSHED_VALUE_MAX_BYTES - 20)}
    view = _execution(big, consumer_input=small)
    pushed = json.loads(await ExecutionDocuments(None)(view))
    assert (pushed["input"], pushed["output"], pushed["omitted"]) == (small, None, ["output"])
    ExecutionView.model_validate(pushed)
    whole = await render_execution(None, view)
    assert whole["output"] == big and "omitted" not in whole
    both = _execution(big, consumer_input=big)
    assert json.loads(await ExecutionDocuments(None)(both))["omitted"] == ["input", "output"]
