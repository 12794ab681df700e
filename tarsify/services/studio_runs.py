"""Developer use cases: test runs of their own models, free and apart from consumers'.

A test run goes through the engine like a consumer's run (the same merge of the model's
configuration, the same checks, the same provider) but has no consumer: it holds and
earns nothing, shows in no consumer's history and counts in no figure. The model may be
a DRAFT or PUBLISHED (not ARCHIVED); another developer's model is not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tarsify.domain.errors import ExecutionNotFound
from tarsify.domain.execution import ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.models import JsonObject, TarsModel
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.policies import owned_tars_model
from tarsify.domain.run_request import RunRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.executions import ExecutionService


@dataclass(slots=True, frozen=True)
class TestRun:
    """A test run as its developer sees it: with the merged payload the worker got."""

    __test__ = False  # not a test case for pytest

    view: ExecutionView
    merged_input: JsonObject | None


class StudioRuns:
    """A developer's test runs of their own models."""

    __test__ = False

    def __init__(self, uow: UnitOfWorkFactory, executions: ExecutionService) -> None:
        self._uow = uow
        self._executions = executions

    async def _model(self, developer_id: uuid.UUID, model_id: uuid.UUID) -> TarsModel:
        async with self._uow() as uow:
            return owned_tars_model(await uow.tars_models.get(model_id), developer_id)

    async def run(
        self, developer_id: uuid.UUID, model_id: uuid.UUID, inputs: JsonObject, wait_s: float = 0
    ) -> TestRun:
        """Test-run the developer's model with ``inputs`` (merged as a consumer's run);
        ``wait_s`` > 0 waits for a terminal status like a run does."""
        model = await self._model(developer_id, model_id)
        request = RunRequest.test_run(developer_id, model.slug, inputs, wait_s)
        result = await self._executions.run(request)
        return await self._with_payload(result.view)

    async def get(
        self, developer_id: uuid.UUID, model_id: uuid.UUID, execution_id: uuid.UUID
    ) -> TestRun:
        """One test run of the developer's model, refreshed from the provider when due."""
        await self._model(developer_id, model_id)
        async with self._uow() as uow:
            view = await uow.executions.get_view(execution_id)
        if view is None or not _test_run_of(view, model_id):
            raise ExecutionNotFound()
        return await self._with_payload(await self._executions.refresh(view))

    async def list(
        self, developer_id: uuid.UUID, model_id: uuid.UUID, page: PageRequest
    ) -> Page[ExecutionSummary]:
        """The model's test runs, newest first."""
        await self._model(developer_id, model_id)
        async with self._uow() as uow:
            return await uow.executions.list_test_runs(model_id, page)

    async def _with_payload(self, view: ExecutionView) -> TestRun:
        async with self._uow() as uow:
            stored = await uow.executions.get(view.execution.id)
        return TestRun(view, None if stored is None else stored.input_payload)


def _test_run_of(view: ExecutionView, model_id: uuid.UUID) -> bool:
    execution = view.execution
    return execution.is_test_run and execution.tars_model_id == model_id
