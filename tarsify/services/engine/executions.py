"""Consumer use cases: run a Tars model, read, list and cancel executions."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import uuid
from datetime import timedelta

from tarsify.domain.admission import Admission
from tarsify.domain.errors import (
    AlreadyExists,
    Conflict,
    ExecutionNotCancellable,
    ExecutionNotFound,
    InputValidationFailed,
    StorageError,
    TarsModelNotFound,
    TooManyActiveExecutions,
)
from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.execution_summary import ExecutionSummary
from tarsify.domain.inputs import stored_inputs
from tarsify.domain.models import (
    ExecutionStatus,
    JsonObject,
    RunTarget,
    new_id,
)
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.policies import visible_execution
from tarsify.domain.run_request import RunRequest
from tarsify.domain.schema import Violation
from tarsify.domain.schema_guard import Budget
from tarsify.domain.streams import StreamChunk
from tarsify.ports.clock import Clock
from tarsify.ports.offload import Offload
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.listeners import Listeners, follow_ups
from tarsify.services.engine.run_parts import Inline, RunResult, request_fingerprint, same_route
from tarsify.services.engine.run_targets import PreparedTarget, RunTargets
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.input_files import InputFiles

log = logging.getLogger("tarsify.engine")
MIN_WAIT_STEP_S = 0.05
MAX_RETRY_AFTER_S = 60


class ExecutionService:
    """Runs Tars models for consumers and keeps executions in step with the provider."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        dispatcher: Dispatcher,
        clock: Clock,
        settings: EngineSettings,
        listeners: Listeners | None = None,
        targets: RunTargets | None = None,
        offload: Offload | None = None,
        input_files: InputFiles | None = None,
    ) -> None:
        self._uow = uow
        self._input_files = input_files
        self._dispatch = dispatcher
        self._clock = clock
        self._settings = settings
        self._listeners = listeners or Listeners()
        self._targets = targets or RunTargets(uow, clock, settings.run_target_ttl_s)
        self._admission = Admission(settings.max_active_executions)
        self._test_admission = Admission(settings.max_active_executions, drafts=True)
        self._offload = offload or Inline()
        self._inflight: dict[uuid.UUID, asyncio.Task[Execution]] = {}
        self._reading: dict[uuid.UUID, asyncio.Task[Execution]] = {}

    @property
    def settings(self) -> EngineSettings:
        """The engine settings in force."""
        return self._settings

    async def run(self, request: RunRequest) -> RunResult:
        """Validate, store (PENDING, committed first) and submit one execution.

        With ``request.idempotency_key``, a repeat of the same request returns the first
        execution; a different request under the same key raises ``Conflict``.
        ``request.wait_s`` > 0 waits (bounded by the settings) for a terminal status;
        when the model's estimate fits the wait, the job is sent with the provider's
        submit-and-wait (one call instead of a submit and several polls). The listeners
        see ``request`` in the transaction that stores the execution (its webhook, ...).
        """
        consumer_id, idempotency_key = request.consumer_id, request.idempotency_key
        wait_s = request.wait_s
        fingerprint = request_fingerprint(request.slug, request.inputs)
        if idempotency_key:
            replay = await self._replay(consumer_id, idempotency_key, fingerprint)
            if replay is not None:
                return RunResult(await self._wait(replay, wait_s), replayed=True)
        wait_s = min(max(wait_s, 0.0), self._settings.max_wait_s)
        try:
            execution, target = await self._store_new(request, fingerprint)
        except AlreadyExists:
            # Lost a race with the same idempotency key: answer with the winner.
            assert idempotency_key is not None
            replay = await self._replay(consumer_id, idempotency_key, fingerprint)
            if replay is None:
                raise Conflict("Idempotency key in use") from None
            return RunResult(await self._wait(replay, wait_s), replayed=True)
        fits = 0 < target.base_model.estimated_seconds <= wait_s
        wait_ms = int(wait_s * 1000) if fits else 0
        try:
            stored = await self._dispatch.submit(execution, target, wait_ms)
        except StorageError:
            # The execution is stored (PENDING): the reconciler sends it once the database
            # answers again. Say so rather than ask for the run again (it would run twice).
            log.warning("execution.submit_deferred", extra={"execution_id": str(execution.id)})
            stored = execution
        view = ExecutionView(stored, target.tars_model.slug, target.tars_model.title)
        return RunResult(await self._wait(view, wait_s))

    async def _store_new(self, new: RunRequest, fingerprint: str) -> tuple[Execution, RunTarget]:
        """Store a new PENDING execution of ``new``, admitted by the insert itself.

        The target may be this process's copy (``RunTargets``); when the insert refuses
        the run, the target is read afresh: it tells whether the model stopped being
        runnable (its error), moved to another endpoint (tried once more) or neither
        (the consumer's limit of unfinished executions was reached, or the developer's of
        unfinished test runs).
        """
        prepared = await self._targets.get(new.slug)
        for _ in range(2):
            if prepared is None:
                raise TarsModelNotFound()
            target = prepared.target
            target.check_runnable(tester=new.tester)
            execution = await self._new_execution(new, fingerprint, prepared)
            if await self._insert(execution, target, new):
                return execution, target
            fresh = await self._targets.read(new.slug)
            if fresh is None:
                raise TarsModelNotFound()
            fresh.target.check_runnable(tester=new.tester)
            limit = self._settings.max_active_executions
            if limit is not None and same_route(fresh.target, target):
                # Still runnable, on the same route: the limit refused it.
                estimate = target.base_model.estimated_seconds
                raise TooManyActiveExecutions(limit, min(max(estimate, 1), MAX_RETRY_AFTER_S))
            prepared = fresh
        raise Conflict("The model changed while the run was being stored; send it again")

    async def _insert(self, execution: Execution, target: RunTarget, request: RunRequest) -> bool:
        """Insert ``execution`` if admitted, with what the listeners write beside it (a
        hold, ...): one whole change (``UnitOfWork``)."""
        writes = await self._listeners.plan_create(execution, target, request)
        # A test run (no consumer) counts against its developer's limit of unfinished test
        # runs instead of a consumer's, and may run a DRAFT.
        admission = self._test_admission if request.tester else self._admission
        async with self._uow() as uow:
            then = follow_ups(uow, writes)
            if not await uow.executions.admit(execution, admission, then=then):
                return False
            await uow.commit()
        return True

    async def _new_execution(
        self, new: RunRequest, fingerprint: str, prepared: PreparedTarget
    ) -> Execution:
        """A PENDING execution of the target for validated inputs.

        The inputs are measured and checked away from the event loop (``Offload``),
        within ``validation_budget_s`` (``ValidationBudgetSpent``, 422, when spent).
        """
        target = prepared.target
        settings = self._settings
        files = self._input_files
        inputs = new.inputs
        if files is not None:  # links to uploads become references
            inputs = await files.named(inputs, target.base_model.input_schema)

        def check() -> tuple[JsonObject, list[Violation]]:
            limit = settings.validation_budget_s
            spend = None if limit is None else Budget(limit)
            return prepared.check(inputs, settings.max_input_bytes, spend)

        payload, violations = await self._offload.run(check)
        if violations:
            raise InputValidationFailed(details=violations)
        now = self._clock.now()
        deadline = now + self._settings.deadline(target.base_model)
        if files is not None:  # the consumer's own uploads, kept until the deadline
            await files.claim(new.consumer_id, payload, deadline)
        return Execution(
            id=new_id(),
            consumer_id=new.consumer_id,
            tars_model_id=target.tars_model.id,
            endpoint_id=target.endpoint.id,
            created_at=now,
            updated_at=now,
            consumer_input=copy.deepcopy(stored_inputs(inputs, prepared.check.config)),
            input_payload=payload,
            deadline_at=deadline,
            request_hash=fingerprint,
            idempotency_key=new.idempotency_key,
            price=0 if new.tester else target.price,  # a test run is free
            # Should this process die before sending it, the reconciler sends it then.
            wake_at=now + timedelta(seconds=self._settings.pending_grace_s),
        )

    async def _replay(
        self, consumer_id: uuid.UUID | None, key: str, fingerprint: str
    ) -> ExecutionView | None:
        if consumer_id is None:
            return None  # a test run takes no key
        remembered_since = self._clock.now() - timedelta(
            seconds=self._settings.idempotency_retention_s
        )
        async with self._uow() as uow:
            existing = await uow.executions.get_by_idempotency_key(consumer_id, key)
            if existing is None:
                return None
            if existing.created_at < remembered_since:
                # Kept past its retention: the key is free again, for a new execution.
                await uow.executions.forget_idempotency_key(existing.id, key)
                await uow.commit()
                return None
            if existing.request_hash != fingerprint:
                raise Conflict(
                    "Idempotency-Key was already used with a different request",
                    details=[{"field": "Idempotency-Key", "message": "reused with another body"}],
                )
            return await uow.executions.get_view(existing.id)

    async def _wait(self, view: ExecutionView, wait_s: float) -> ExecutionView:
        wait_s = min(max(wait_s, 0.0), self._settings.max_wait_s)
        if wait_s <= 0 or view.execution.is_terminal:
            return view
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        # A floor keeps a zero poll interval from turning the wait into a busy loop.
        interval = max(self._settings.poll_min_interval_s, MIN_WAIT_STEP_S)
        while not view.execution.is_terminal:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(interval, remaining))
            view = await self.refreshed(view.execution.id)
        return view

    async def wait(self, view: ExecutionView, wait_s: float) -> ExecutionView:
        """``view`` once terminal, or as it is after ``wait_s`` (bounded by the settings)."""
        return await self._wait(view, wait_s)

    async def get(self, consumer_id: uuid.UUID, execution_id: uuid.UUID) -> ExecutionView:
        """The consumer's execution, refreshed from the provider when due.

        Terminal executions come from the database alone. Otherwise the provider is asked
        at most once per poll interval per execution: one request in flight per process
        (others await it) and a stored last-poll time shared by all processes.
        """
        async with self._uow() as uow:
            view = await uow.executions.get_view(execution_id)
        if view is None:
            raise ExecutionNotFound()
        visible_execution(view.execution, consumer_id)
        return await self.refresh(view)

    async def refreshed(self, execution_id: uuid.UUID) -> ExecutionView:
        """Any execution by id (whoever may see it was checked), refreshed when due."""
        async with self._uow() as uow:
            view = await uow.executions.get_view(execution_id)
        if view is None:
            raise ExecutionNotFound()
        return await self.refresh(view)

    async def refresh(self, view: ExecutionView) -> ExecutionView:
        """``view`` refreshed from the provider when due (``get``)."""
        execution = view.execution
        if execution.is_terminal or execution.provider_job_id is None:
            return view
        refreshed = await self._refresh(execution)
        return ExecutionView(refreshed, view.model_slug, view.model_title)

    async def _refresh(self, execution: Execution) -> Execution:
        task = self._inflight.get(execution.id)
        if task is None:
            task = asyncio.ensure_future(self._poll_if_due(execution))
            self._inflight[execution.id] = task
            task.add_done_callback(lambda _: self._inflight.pop(execution.id, None))
        return await asyncio.shield(task)

    async def _poll_if_due(self, execution: Execution) -> Execution:
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.executions.try_mark_polled(
                execution.id, now, now - self._settings.poll_interval, then=()
            )
            await uow.commit()
        if not due:
            return execution
        # The poll writes the whole row: it must carry the lease just taken.
        return await self._dispatch.poll(dataclasses.replace(execution, last_polled_at=now))

    async def streams_output(self, execution: Execution) -> bool:
        """True when the execution's chunks are read while it runs (``read_stream``)."""
        return await self._dispatch.streams_output(execution)

    async def read_stream(self, execution: Execution) -> Execution:
        """Read and store the chunks of a streaming execution's job (one read in flight
        per execution in this process; one across processes, ``Dispatcher.read_stream``)."""
        task = self._reading.get(execution.id)
        if task is None:
            task = asyncio.ensure_future(self._dispatch.read_stream(execution))
            self._reading[execution.id] = task
            task.add_done_callback(lambda _: self._reading.pop(execution.id, None))
        return await asyncio.shield(task)

    async def chunks(self, execution_id: uuid.UUID, after: int, limit: int) -> list[StreamChunk]:
        """The execution's stored chunks whose event id is after ``after``, in order (the
        caller checked that the execution is its consumer's)."""
        async with self._uow() as uow:
            return await uow.chunks.after(execution_id, after, limit)

    async def notify(self, execution_id: uuid.UUID, job_id: str | None = None) -> bool:
        """A provider announced that the execution's job changed (a webhook).

        The announcement is not trusted: the job's status is read from the provider now,
        past the poll interval, and recorded like any poll. When the submit's answer was
        lost (a timeout), ``job_id`` from the announcement is checked with the provider
        and adopted, which resolves the ambiguity. Returns False for an unknown execution.
        """
        async with self._uow() as uow:
            execution = await uow.executions.get(execution_id)
        if execution is None:
            return False
        if execution.is_terminal:
            return True
        if execution.provider_job_id is None:
            if job_id and execution.submit_attempts > 0:
                await self._dispatch.adopt(execution, job_id)
            return True
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.executions.try_mark_polled(execution_id, now, now, then=())
            await uow.commit()
        await self._dispatch.poll(dataclasses.replace(execution, last_polled_at=now))
        return True

    async def list(
        self,
        consumer_id: uuid.UUID,
        page: PageRequest,
        *,
        status: ExecutionStatus | None = None,
        model_slug: str | None = None,
    ) -> Page[ExecutionSummary]:
        """The consumer's executions, newest first, optionally by status and model slug."""
        async with self._uow() as uow:
            model_id = None
            if model_slug is not None:
                model = await uow.tars_models.get_by_slug(model_slug)
                if model is None:
                    return Page(items=[], next_cursor=None)
                model_id = model.id
            return await uow.executions.list_for_consumer(
                consumer_id, page, status=status, tars_model_id=model_id
            )

    async def cancel(self, consumer_id: uuid.UUID, execution_id: uuid.UUID) -> ExecutionView:
        """Cancel the consumer's execution; ``ExecutionNotCancellable`` once terminal."""
        async with self._uow() as uow:
            view = await uow.executions.get_view(execution_id)
        if view is None:
            raise ExecutionNotFound()
        execution = visible_execution(view.execution, consumer_id)
        if execution.is_terminal:
            raise ExecutionNotCancellable()
        stored = await self._dispatch.cancel(execution)
        if stored.status is not ExecutionStatus.CANCELLED:
            # It finished first; that outcome (with its output) is what was recorded.
            raise ExecutionNotCancellable(
                f"The execution is already {stored.status}",
                details={"status": str(stored.status)},
            )
        return ExecutionView(stored, view.model_slug, view.model_title)
