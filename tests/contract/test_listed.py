"""What a list of executions carries: only what is shown, the same on every backend; on
PostgreSQL the input and output as the stored JSON text (``StoredJson``)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from entrypoints.http import render
from tarsify.domain.execution import NOT_LISTED
from tarsify.domain.jsonsafe import StoredJson
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.ports import UnitOfWorkFactory
from tests.contract.factories import add_executions, at, seed_catalog

OUTPUTS: list[Any] = [
    {"text": "plain"},
    {"text": "é 日本 \U0001f600", "nested": {"list": [1, 2.5, None, True, "x"]}},
    {"images": [{"$file": "executions/x/0.png"}]},
    ["a", 1],
    "just a string",
    None,
]


async def test_a_list_shows_the_stored_input_and_output(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    made = [
        cat.execution(
            created_at=at(i),
            status=ExecutionStatus.COMPLETED,
            consumer_input={"prompt": f"p{i}", "n": i},
            output_payload=output,
            submit_attempts=1,
            version=3,
        )
        for i, output in enumerate(OUTPUTS)
    ]
    await add_executions(uow_factory, *made)
    async with uow_factory() as uow:
        page = await uow.executions.list_for_consumer(cat.consumer.id, PageRequest(50))
    listed = {v.execution.id: v.execution for v in page.items}
    for execution in made:
        shown = listed[execution.id]
        assert shown.output_payload == execution.output_payload
        assert shown.consumer_input == execution.consumer_input
        assert (shown.status, shown.created_at, shown.price) == (
            execution.status,
            execution.created_at,
            execution.price,
        )
        for name in NOT_LISTED:
            assert getattr(shown, name) is None, name


async def test_only_postgresql_lists_stored_text(
    backend: str, uow_factory: UnitOfWorkFactory
) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(consumer_input={"prompt": "x"}, output_payload={"k": [1]})
    await add_executions(uow_factory, execution)
    async with uow_factory() as uow:
        [view] = (await uow.executions.list_for_consumer(cat.consumer.id, PageRequest())).items
        full = await uow.executions.get_view(execution.id)
    kinds = {type(view.execution.consumer_input), type(view.execution.output_payload)}
    assert kinds == ({StoredJson} if backend == "postgres" else {dict})
    assert full is not None and type(full.execution.output_payload) is dict
    assert view.execution.output_payload == {"k": [1]}


@pytest.mark.parametrize("name", sorted(NOT_LISTED))
def test_what_a_list_leaves_out_is_never_rendered(name: str) -> None:
    """The consumer's document reads none of the fields a list leaves out."""
    source = inspect.getsource(render.execution)
    assert f"e.{name}" not in source
