"""What a list of executions carries: only what is shown, the same on every backend; on
PostgreSQL the input and output as the stored JSON text (``StoredJson``)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from entrypoints.http.encoding import dumps
from entrypoints.http.schemas_executions import execution_document
from tarsify.domain.execution_summary import NOT_LISTED
from tarsify.domain.jsonsafe import LISTED_VALUE_MAX_BYTES, Omitted, StoredJson
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
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
    listed = {v.id: v for v in page.items}
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
            assert not hasattr(shown, name), name


async def test_sql_stores_list_stored_text(backend: str, uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution(consumer_input={"prompt": "x"}, output_payload={"k": [1]})
    await add_executions(uow_factory, execution)
    async with uow_factory() as uow:
        [view] = (await uow.executions.list_for_consumer(cat.consumer.id, PageRequest())).items
        full = await uow.executions.get_view(execution.id)
    kinds = {type(view.consumer_input), type(view.output_payload)}
    assert kinds == ({dict} if backend == "memory" else {StoredJson})
    assert full is not None and type(full.execution.output_payload) is dict
    assert view.output_payload == {"k": [1]}


@pytest.mark.parametrize("name", sorted(NOT_LISTED))
def test_what_a_list_leaves_out_is_never_rendered(name: str) -> None:
    """The consumer's document reads none of the fields a list leaves out."""
    source = inspect.getsource(execution_document)
    assert f"e.{name}" not in source


async def test_a_page_of_100_is_bounded_in_bytes_whatever_the_rows_hold(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Rows written before inputs were bounded (or outputs of any size) cannot make a
    page large: an input or output over LISTED_VALUE_MAX_BYTES is not even read. (Sizes
    are those of the stored text, which each database writes its own way.)"""
    cat = await seed_catalog(uow_factory)
    big = "é" * 100_000  # 200 KB of UTF-8 each
    # Under the bound: kept. Escapes in the stored text (backslashes, quotes, controls)
    # are measured as the text they are.
    near = 'x\\ " \n\t\u0001' + "x" * (LISTED_VALUE_MAX_BYTES - 150)
    over = "x" * (LISTED_VALUE_MAX_BYTES + 10)
    made = [
        cat.execution(
            created_at=at(i),
            status=ExecutionStatus.COMPLETED,
            consumer_input={"p": near} if i == 0 else {"prompt": big, "i": i},
            output_payload=over if i == 0 else [big, big],
        )
        for i in range(100)
    ]
    await add_executions(uow_factory, *made)
    async with uow_factory() as uow:
        page = await uow.executions.list_for_consumer(cat.consumer.id, PageRequest(100))
    assert len(page.items) == 100
    body = dumps({"data": [execution_document(v) for v in page.items]})
    assert len(body) < 2_000_000
    views = {v.id: v for v in page.items}
    first = views[made[0].id]
    assert first.consumer_input == {"p": near}
    assert isinstance(first.output_payload, Omitted)
    assert first.output_payload.size > LISTED_VALUE_MAX_BYTES
    other = views[made[1].id]
    assert isinstance(other.consumer_input, Omitted)
    assert other.consumer_input.size > 200_000
    assert isinstance(other.output_payload, Omitted)
    document = execution_document(views[made[1].id])
    assert (document["input"], document["output"]) == (None, None)
    assert document["omitted"] == ["input", "output"]
    kept = execution_document(views[made[0].id])
    assert (kept["input"], kept["output"], kept["omitted"]) == ({"p": near}, None, ["output"])
    plain = execution_document(views[made[0].id], output={"small": 1})
    assert "omitted" not in plain


async def test_a_list_shows_logs_and_queue_place_and_leaves_out_logs_over_the_bound(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    short = [{"message": "Step 1/10", "level": "INFO", "source": "user", "timestamp": "t"}]
    long = [{**short[0], "message": "y" * 1000} for _ in range(16)]  # ~17 KB of JSON
    made = [
        cat.execution(created_at=at(0), status=ExecutionStatus.QUEUED, queue_position=4),
        cat.execution(created_at=at(1), status=ExecutionStatus.RUNNING, logs=short),
        cat.execution(created_at=at(2), status=ExecutionStatus.RUNNING, logs=long),
    ]
    await add_executions(uow_factory, *made)
    async with uow_factory() as uow:
        page = await uow.executions.list_for_consumer(cat.consumer.id, PageRequest(10))
        whole = await uow.executions.get_view(made[2].id)
    views = {v.id: v for v in page.items}
    queued, logged, over = (execution_document(views[m.id]) for m in made)
    assert (queued["queuePosition"], queued["logs"]) == (4, None)
    assert (logged["queuePosition"], logged["logs"]) == (None, short)
    assert "omitted" not in logged
    assert over["logs"] is None and over["omitted"] == ["logs"]
    assert isinstance(views[made[2].id].logs, Omitted)
    assert whole is not None and whole.execution.logs == long  # GET by id has them whole
