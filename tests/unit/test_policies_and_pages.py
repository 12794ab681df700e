"""Ownership policies and opaque keyset cursors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tarsify.domain.errors import ExecutionNotFound, InvalidQuery, NotAdmin, TarsModelNotFound
from tarsify.domain.execution import Execution
from tarsify.domain.models import TarsModel
from tarsify.domain.pagination import Cursor, PageRequest, page_from_rows
from tarsify.domain.policies import AdminPolicy, owned_tars_model, visible_execution

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def execution(owner: uuid.UUID) -> Execution:
    return Execution(
        id=uuid.uuid4(),
        consumer_id=owner,
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=NOW,
        updated_at=NOW,
    )


def test_consumer_sees_only_own_execution() -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    e = execution(owner)
    assert visible_execution(e, owner) is e
    with pytest.raises(ExecutionNotFound):
        visible_execution(e, other)
    with pytest.raises(ExecutionNotFound):
        visible_execution(None, owner)


def test_developer_sees_only_own_model() -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    model = TarsModel(uuid.uuid4(), owner, uuid.uuid4(), "T", "t", NOW, NOW)
    assert owned_tars_model(model, owner) is model
    with pytest.raises(TarsModelNotFound):
        owned_tars_model(model, other)


def test_admin_policy_uses_the_uid_list() -> None:
    policy = AdminPolicy([" admin-1 ", "admin-2", "", ""])
    assert policy.is_admin("admin-1") and policy.is_admin("admin-2")
    assert not policy.is_admin("")
    with pytest.raises(NotAdmin):
        policy.require_admin("someone")


def test_cursor_round_trips_and_is_opaque() -> None:
    cursor = Cursor(at=NOW, id=uuid.uuid4())
    text = cursor.encode()
    assert str(cursor.id) not in text
    assert Cursor.decode(text) == cursor


@pytest.mark.parametrize("text", ["", "!!!", "bm90IGpzb24", "WyJ4IiwgInkiXQ"])
def test_bad_cursor_is_an_invalid_query(text: str) -> None:
    with pytest.raises(InvalidQuery):
        Cursor.decode(text)


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_bounds(limit: int) -> None:
    with pytest.raises(InvalidQuery):
        PageRequest(limit=limit)


def test_page_from_rows_sets_next_cursor_only_with_more_rows() -> None:
    rows = [(NOW, uuid.uuid4()) for _ in range(3)]
    key = lambda r: Cursor(at=r[0], id=r[1])  # noqa: E731
    page = page_from_rows(rows, PageRequest(limit=2), key)
    assert page.items == rows[:2]
    assert Cursor.decode(page.next_cursor or "") == key(rows[1])
    last = page_from_rows(rows, PageRequest(limit=3), key)
    assert last.items == rows and last.next_cursor is None
