"""The execution engine on the SQL adapters, with real concurrent transactions.

ExecutionService, Dispatcher and Reconciler are wired like ``tests/unit/world.py`` but on
``SqlUnitOfWork`` (``tests/contract/engine_world.py``): a fresh migrated PostgreSQL
database per module (emptied before each test) and, where the rule does not need row
locks, a private copy of a migrated SQLite file. The GPU provider is the scriptable
``FakeGpuProvider`` and time is a ``ManualClock``. A second engine (its own connection
pool) on the same database stands in for a second process.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.memory.clock import ManualClock
from adapters.memory.gpu import FakeGpuProvider
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.errors import (
    Conflict,
    ExecutionNotCancellable,
    GpuProviderError,
    ProviderOutcome,
    StorageError,
)
from tarsify.domain.execution import Execution
from tarsify.domain.failures import PendingReason
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.domain.run_request import RunRequest
from tarsify.ports.provider import JobReport, JobRequest
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.reconciler import Reconciler
from tarsify.services.engine.settings import EngineSettings
from tests.contract.engine_world import (
    EAGER,
    IMAGE,
    Db,
    other_process,
    record_terminal_writes,
    sql_world,
    start,
    wait_for,
)

# --- commit before submit --------------------------------------------------------------


async def test_execution_is_visible_as_pending_while_the_submit_is_in_flight(db: Db) -> None:
    w = await sql_world(db)
    w.gpu.latency["submit"] = 0.2
    outsider = db.store()
    task = asyncio.create_task(
        w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    )
    await wait_for(lambda: w.gpu.in_flight["submit"] == 1)
    async with outsider.unit_of_work() as uow:
        page = await uow.executions.list_for_consumer(w.alice.id, PageRequest())
        [listed] = page.items
        seen = await uow.executions.get(listed.id)
    assert seen is not None and seen.status is ExecutionStatus.PENDING
    assert seen.submit_attempts == 1  # the claim is committed before the call, too
    assert seen.provider_job_id is None
    result = await task
    assert result.view.execution.id == seen.id
    stored = await w.stored(seen.id)
    assert stored.status is ExecutionStatus.QUEUED and stored.provider_job_id
    assert w.gpu.calls["submit"] == 1


async def test_cancel_while_the_submit_is_in_flight_stops_the_new_job(db: Db) -> None:
    w = await sql_world(db)
    second = other_process(w, db)
    arrived, release = asyncio.Event(), asyncio.Event()
    real_submit = w.gpu.submit

    async def held_submit(request: JobRequest) -> JobReport:
        arrived.set()
        await asyncio.wait_for(release.wait(), 5.0)
        return await real_submit(request)

    w.gpu.submit = held_submit  # type: ignore[method-assign]
    task = asyncio.create_task(
        w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    )
    await asyncio.wait_for(arrived.wait(), 5.0)
    [pending] = (await w.executions.list(w.alice.id, PageRequest())).items
    assert pending.status is ExecutionStatus.PENDING
    cancelled = await second.executions.cancel(w.alice.id, pending.id)
    assert cancelled.execution.status is ExecutionStatus.CANCELLED
    release.set()
    result = await task
    assert result.view.execution.status is ExecutionStatus.CANCELLED
    [job] = w.gpu.jobs.values()
    assert job.status == "CANCELLED"  # the job that started anyway was stopped
    stored = await w.stored(pending.id)
    assert stored.status is ExecutionStatus.CANCELLED
    assert stored.provider_job_id == job.job_id


# --- idempotency -----------------------------------------------------------------------


async def test_idempotency_key_replays_and_conflicts(db: Db) -> None:
    w = await sql_world(db)
    first = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k")
    )
    again = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k")
    )
    assert again.replayed and again.view.execution.id == first.view.execution.id
    with pytest.raises(Conflict):
        await w.executions.run(
            RunRequest(w.alice.id, w.model.slug, {"prompt": "y"}, idempotency_key="k")
        )
    bobs = await w.executions.run(
        RunRequest(w.bob.id, w.model.slug, {"prompt": "x"}, idempotency_key="k")
    )
    assert bobs.view.execution.id != first.view.execution.id and not bobs.replayed
    assert w.gpu.calls["submit"] == 2
    assert await w.count_executions() == 2


async def test_concurrent_runs_with_one_key_make_one_execution_and_one_job(db: Db) -> None:
    w = await sql_world(db)
    w.gpu.latency["submit"] = 0.05
    second = other_process(w, db)
    services = [w.executions, second.executions] * 4
    results = await asyncio.gather(
        *(
            s.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="same"))
            for s in services
        )
    )
    assert len({r.view.execution.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert w.gpu.calls["submit"] == 1

    # Same key, different bodies, all at once: one wins, the others conflict.
    outcomes = await asyncio.gather(
        *(
            s.run(RunRequest(w.bob.id, w.model.slug, {"prompt": f"p{i}"}, idempotency_key="other"))
            for i, s in enumerate(services)
        ),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1 and not winners[0].replayed
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))
    assert w.gpu.calls["submit"] == 2
    assert await w.count_executions() == 2


# --- racing pollers, reconciler and cancel ---------------------------------------------


class GatedStatus:
    """Holds status calls until ``size`` are in flight, then answers them all at once.

    Calls whose arrival index is in ``stale`` report IN_PROGRESS without output: a late,
    stale answer racing the real one.
    """

    def __init__(self, gpu: FakeGpuProvider, size: int, stale: frozenset[int]) -> None:
        self._real = FakeGpuProvider.status.__get__(gpu)
        self._size, self._stale = size, stale
        self.arrived = 0
        self._open = asyncio.Event()

    async def __call__(self, endpoint_id: str, job_id: str) -> JobReport:
        index = self.arrived
        self.arrived += 1
        if self.arrived >= self._size:
            self._open.set()
        await asyncio.wait_for(self._open.wait(), 2.0)
        snapshot = await self._real(endpoint_id, job_id)
        if index in self._stale:
            return replace(snapshot, status="IN_PROGRESS", output=None)
        return snapshot


async def test_two_pollers_and_a_reconciler_settle_on_one_terminal_outcome(db: Db) -> None:
    w = await sql_world(db, settings=EAGER)
    second = other_process(w, db)
    writes: list[ExecutionStatus] = []
    for dispatcher in (w.dispatcher, second.dispatcher):
        record_terminal_writes(dispatcher, writes)
    # Which of the three answers are stale: none, a poller's, the reconciler's and one more.
    for stale in (frozenset(), frozenset({1}), frozenset({0, 2})):
        writes.clear()
        e = await start(w)
        w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE, execution_time_ms=900)
        gate = GatedStatus(w.gpu, 3, stale)
        w.gpu.status = gate  # type: ignore[method-assign]
        calls = w.gpu.calls["status"]

        # The reconciler asks first (its claim committed), then two pollers join it.
        reconciling = asyncio.create_task(w.reconciler.run_once())
        await wait_for(lambda: gate.arrived == 1)  # noqa: B023
        views = asyncio.gather(
            w.executions.get(w.alice.id, e.id), second.executions.get(w.alice.id, e.id)
        )
        report, (mine, theirs) = await asyncio.gather(reconciling, views)
        del w.gpu.status

        assert report.claimed == 1 and report.polled == 1
        assert w.gpu.calls["status"] == calls + 3  # all three were in flight together
        assert writes == [ExecutionStatus.COMPLETED], stale
        stored = await w.stored(e.id)
        assert stored.status is ExecutionStatus.COMPLETED
        assert stored.output_payload == IMAGE and stored.completed_at is not None
        assert stored.execution_time_ms == 900
        for view in (mine, theirs):
            assert view.execution.status in (ExecutionStatus.RUNNING, ExecutionStatus.COMPLETED)

        # Nothing moves it afterwards: stale reports, more passes, a late cancel.
        w.gpu.set_status(e.provider_job_id, "IN_QUEUE")
        await asyncio.gather(w.reconciler.run_once(), second.reconciler.run_once())
        with pytest.raises(ExecutionNotCancellable):
            await second.executions.cancel(w.alice.id, e.id)
        final = await w.stored(e.id)
        assert final.status is ExecutionStatus.COMPLETED and final.output_payload == IMAGE
        assert final.version == stored.version
        assert writes == [ExecutionStatus.COMPLETED]


async def test_cancel_racing_a_completion_keeps_the_completion(db: Db) -> None:
    w = await sql_world(db, settings=EAGER)
    second = other_process(w, db)
    writes: list[ExecutionStatus] = []
    for dispatcher in (w.dispatcher, second.dispatcher):
        record_terminal_writes(dispatcher, writes)
    e = await start(w)
    w.gpu.latency["status"] = w.gpu.latency["cancel"] = 0.02
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    outcomes = await asyncio.gather(
        w.executions.get(w.alice.id, e.id),
        second.executions.get(w.alice.id, e.id),
        w.reconciler.run_once(),
        second.executions.cancel(w.alice.id, e.id),
        return_exceptions=True,
    )
    unexpected = [
        o
        for o in outcomes
        if isinstance(o, Exception) and not isinstance(o, ExecutionNotCancellable)
    ]
    assert unexpected == []
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.COMPLETED and stored.output_payload == IMAGE
    assert writes == [ExecutionStatus.COMPLETED]


# --- at most one provider status call per interval -------------------------------------


async def test_concurrent_status_reads_make_one_provider_call_per_interval(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    second = other_process(w, db)
    e = await start(w)
    w.gpu.latency["status"] = 0.05
    w.gpu.set_status(e.provider_job_id, "IN_PROGRESS")

    # One process: ten readers share one provider call.
    views = await asyncio.gather(*(w.executions.get(w.alice.id, e.id) for _ in range(10)))
    assert w.gpu.calls["status"] == 1
    assert {v.execution.status for v in views} == {ExecutionStatus.RUNNING}

    # Two processes: the claim in the database still allows one call per interval.
    clock.advance(w.settings.poll_min_interval_s)
    services = [w.executions, second.executions] * 5
    await asyncio.gather(*(s.get(w.alice.id, e.id) for s in services))
    assert w.gpu.calls["status"] == 2
    assert w.gpu.max_in_flight["status"] == 1
    clock.advance(w.settings.poll_min_interval_s / 2)
    await asyncio.gather(*(s.get(w.alice.id, e.id) for s in services))
    assert w.gpu.calls["status"] == 2
    clock.advance(w.settings.poll_min_interval_s / 2)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    views = await asyncio.gather(*(s.get(w.alice.id, e.id) for s in services))
    assert w.gpu.calls["status"] == 3
    # Readers that lost the claim answer from the database; the winner stored the result.
    assert ExecutionStatus.COMPLETED in {v.execution.status for v in views}
    assert (await w.stored(e.id)).output_payload == IMAGE
    # Terminal: nobody asks the provider again, whatever the clock says.
    clock.advance(60)
    views = await asyncio.gather(*(s.get(w.alice.id, e.id) for s in services))
    assert {v.execution.status for v in views} == {ExecutionStatus.COMPLETED}
    assert w.gpu.calls["status"] == 3


# --- crashes and ambiguous submits -----------------------------------------------------


async def test_crash_between_commit_and_submit_is_sent_once_after_the_grace(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    second = other_process(w, db)

    async def crash(*_: object, **__: object) -> Execution:
        raise RuntimeError("process killed after the commit")

    w.dispatcher.submit = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    del w.dispatcher.submit  # the restarted process has the real one
    [view] = (await w.executions.list(w.alice.id, PageRequest())).items
    pending = await w.stored(view.id)
    assert pending.status is ExecutionStatus.PENDING and pending.submit_attempts == 0

    await asyncio.gather(w.reconciler.run_once(), second.reconciler.run_once())
    assert w.gpu.calls["submit"] == 0  # still within the grace period
    clock.advance(w.settings.pending_grace_s + 1)
    await asyncio.gather(w.reconciler.run_once(), second.reconciler.run_once())
    stored = await w.stored(pending.id)
    assert stored.status is ExecutionStatus.QUEUED and stored.provider_job_id
    assert stored.submit_attempts == 1
    [job] = w.gpu.jobs.values()
    assert stored.input_payload and job.request.input == stored.input_payload
    for _ in range(2):
        clock.advance(w.settings.poll_min_interval_s)
        await asyncio.gather(w.reconciler.run_once(), second.reconciler.run_once())
    assert w.gpu.calls["submit"] == 1


async def test_a_never_sent_execution_past_its_deadline_is_not_sent(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)

    async def crash(*_: object, **__: object) -> Execution:
        raise RuntimeError("process killed after the commit")

    w.dispatcher.submit = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    del w.dispatcher.submit
    # No reconciler ran for longer than the deadline (an outage, a long deploy).
    clock.advance(w.settings.deadline(w.base).total_seconds() + 1)
    await w.reconciler.run_once()
    [view] = (await w.executions.list(w.alice.id, PageRequest())).items
    assert w.gpu.calls["submit"] == 0
    assert view.status is ExecutionStatus.TIMED_OUT
    assert view.error_code == "DEADLINE_EXCEEDED"


async def test_an_ambiguous_submit_is_never_resent_and_fails_after_its_wait(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    w.gpu.fail_next("submit", GpuProviderError("no answer", outcome=ProviderOutcome.UNKNOWN))
    e = await start(w)
    assert e.status is ExecutionStatus.PENDING and e.submit_attempts == 1
    stored = await w.stored(e.id)
    assert stored.pending_reason is PendingReason.SUBMIT_UNCONFIRMED
    for _ in range(2):
        clock.advance(w.settings.unconfirmed_wait_s / 2 - 1)
        await w.reconciler.run_once()
        view = await w.executions.get(w.alice.id, e.id)
        assert view.execution.status is ExecutionStatus.PENDING
    assert w.gpu.calls["submit"] == 1
    clock.advance(3)
    report = await w.reconciler.run_once()
    assert report.failed == 1
    final = await w.stored(e.id)
    assert final.status is ExecutionStatus.FAILED
    assert final.error_code == "SUBMIT_UNCONFIRMED"
    assert w.gpu.calls["submit"] == 1 and w.gpu.calls["cancel"] == 0


# --- provider errors (5xx, 429) --------------------------------------------------------


async def test_provider_errors_on_submit_are_sent_again_later(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    outcomes = {}
    for code in (502, 503, 429):
        error = GpuProviderError(
            f"HTTP {code}", outcome=ProviderOutcome.NOT_SENT, status_code=code, retry_after_s=30
        )
        w.gpu.fail_next("submit", error)
        outcomes[code] = await start(w)
    # Nothing was created: each is handed back, saying why it waits.
    for code, reason in (
        (502, "PROVIDER_UNAVAILABLE"),
        (503, "PROVIDER_UNAVAILABLE"),
        (429, "RATE_LIMITED"),
    ):
        stored = await w.stored(outcomes[code].id)
        assert (stored.status, stored.submit_attempts) == (ExecutionStatus.PENDING, 0)
        assert stored.pending_reason == reason
    clock.advance(29)
    await w.reconciler.run_once()
    assert w.gpu.calls["submit"] == 3 and not w.gpu.jobs
    clock.advance(2)
    await w.reconciler.run_once()
    assert w.gpu.calls["submit"] == 6 and len(w.gpu.jobs) == 3
    assert await w.statuses() == {ExecutionStatus.QUEUED: 3}


async def test_provider_errors_while_polling_change_nothing(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    for code in (429, 500, 503):
        e = await start(w)
        w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
        w.gpu.fail_next("status", GpuProviderError(f"HTTP {code}", status_code=code), times=2)
        view = await w.executions.get(w.alice.id, e.id)
        assert view.execution.status is ExecutionStatus.QUEUED
        clock.advance(w.settings.poll_min_interval_s)
        report = await w.reconciler.run_once()
        assert report.polled == 1 and report.errors == 0
        stored = await w.stored(e.id)
        assert stored.status is ExecutionStatus.QUEUED and stored.version == e.version
        clock.advance(w.settings.poll_min_interval_s)
        done = await w.executions.get(w.alice.id, e.id)
        assert done.execution.status is ExecutionStatus.COMPLETED, code
        assert done.execution.output_payload == IMAGE


async def test_provider_errors_on_cancel_surface_and_change_nothing(db: Db) -> None:
    w = await sql_world(db)
    for code in (429, 502):
        e = await start(w)
        w.gpu.fail_next("cancel", GpuProviderError(f"HTTP {code}", status_code=code))
        with pytest.raises(GpuProviderError) as info:
            await w.executions.cancel(w.alice.id, e.id)
        assert info.value.status_code == code
        assert (await w.stored(e.id)).status is ExecutionStatus.QUEUED
        assert w.gpu.jobs[e.provider_job_id].status == "IN_QUEUE"
        cancelled = await w.executions.cancel(w.alice.id, e.id)
        assert cancelled.execution.status is ExecutionStatus.CANCELLED
        assert w.gpu.jobs[e.provider_job_id].status == "CANCELLED"


# --- the reconciler --------------------------------------------------------------------


async def test_output_nobody_polled_survives_the_providers_retention(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    e = await start(w)
    w.gpu.set_status(
        e.provider_job_id, "COMPLETED", output=IMAGE, delay_time_ms=300, execution_time_ms=2100
    )
    clock.advance(5)
    report = await w.reconciler.run_once()
    assert report.polled == 1 and report.finished == [str(e.id)]
    clock.advance(31 * 60)
    w.gpu.forget(e.provider_job_id)  # RunPod keeps results 30 minutes
    calls = w.gpu.calls["status"]
    view = await other_process(w, db).executions.get(w.alice.id, e.id)
    assert view.execution.status is ExecutionStatus.COMPLETED
    assert view.execution.output_payload == IMAGE
    assert (view.execution.queue_time_ms, view.execution.execution_time_ms) == (300, 2100)
    assert w.gpu.calls["status"] == calls


async def test_past_deadline_is_timed_out_and_cancelled_at_the_provider(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    late, quick = await start(w), await start(w)
    w.gpu.set_status(late.provider_job_id, "IN_PROGRESS")
    w.gpu.set_status(quick.provider_job_id, "COMPLETED", output=IMAGE)
    clock.advance(w.settings.deadline(w.base).total_seconds() + 1)
    report = await w.reconciler.run_once()
    assert report.timed_out == 1
    stored = await w.stored(late.id)
    assert stored.status is ExecutionStatus.TIMED_OUT
    assert stored.error_code == "DEADLINE_EXCEEDED"
    assert w.gpu.jobs[late.provider_job_id].status == "CANCELLED"
    # A job that finished in time is stored as finished, even when reconciled late.
    done = await w.stored(quick.id)
    assert done.status is ExecutionStatus.COMPLETED and done.output_payload == IMAGE
    assert w.gpu.calls["cancel"] == 1


class RecordingProvider:
    """Delegates to the fake and notes which jobs this process asked about."""

    def __init__(self, gpu: FakeGpuProvider) -> None:
        self._gpu = gpu
        self.polled: list[str] = []

    async def submit(self, request: JobRequest) -> JobReport:
        return await self._gpu.submit(request)

    async def submit_and_wait(self, request: JobRequest, wait_ms: int) -> JobReport:
        return await self._gpu.submit_and_wait(request, wait_ms)

    async def status(self, endpoint_id: str, job_id: str) -> JobReport:
        self.polled.append(job_id)
        return await self._gpu.status(endpoint_id, job_id)

    async def cancel(self, endpoint_id: str, job_id: str) -> JobReport:
        return await self._gpu.cancel(endpoint_id, job_id)


class HoldingUnitOfWork(SqlUnitOfWork):
    """Keeps its transaction (and row locks) open at the first commit until released."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gate: dict[str, Any],
    ) -> None:
        super().__init__(sessions)
        self._gate = gate

    async def commit(self) -> None:
        if not self._gate["used"]:
            self._gate["used"] = True
            self._gate["holding"].set()
            await asyncio.wait_for(self._gate["release"].wait(), 5.0)
        await super().commit()


async def test_two_reconcilers_claim_disjoint_sets_and_poll_each_job_once(pg: Db) -> None:
    clock = ManualClock()
    settings = EngineSettings(reconcile_batch=30)
    w = await sql_world(pg, clock=clock, settings=settings)
    await w.add_queued(50)
    for job in w.gpu.jobs.values():
        job.status = "IN_PROGRESS"

    seen_a, seen_b = RecordingProvider(w.gpu), RecordingProvider(w.gpu)
    store_a = pg.store()
    gate: dict[str, Any] = {"used": False, "holding": asyncio.Event(), "release": asyncio.Event()}

    def holding_uow() -> SqlUnitOfWork:
        return HoldingUnitOfWork(store_a.sessions, gate)

    reconciler_a = Reconciler(
        holding_uow, Dispatcher(holding_uow, seen_a, clock, settings), clock, settings
    )
    b = other_process(w, pg, provider=seen_b)

    task_a = asyncio.create_task(reconciler_a.run_once())
    await asyncio.wait_for(gate["holding"].wait(), 5.0)
    # A still holds the row locks of its 30 claims: B must skip them, not wait for them.
    report_b = await asyncio.wait_for(b.reconciler.run_once(), 3.0)
    gate["release"].set()
    report_a = await task_a

    assert (report_a.claimed, report_b.claimed) == (30, 20)
    assert set(seen_a.polled).isdisjoint(seen_b.polled)
    assert Counter(seen_a.polled + seen_b.polled) == Counter(set(w.gpu.jobs))
    assert w.gpu.calls["status"] == 50
    assert await w.statuses() == {ExecutionStatus.RUNNING: 50}


async def test_two_reconcilers_never_poll_a_job_twice_in_one_interval(db: Db) -> None:
    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    await w.add_queued(20)
    for job in w.gpu.jobs.values():
        job.status, job.output = "COMPLETED", IMAGE
    w.gpu.latency["status"] = 0.01
    seen_a, seen_b = RecordingProvider(w.gpu), RecordingProvider(w.gpu)
    a, b = other_process(w, db, provider=seen_a), other_process(w, db, provider=seen_b)
    reports = await asyncio.gather(a.reconciler.run_once(), b.reconciler.run_once())
    assert sum(r.claimed for r in reports) == 20
    assert set(seen_a.polled).isdisjoint(seen_b.polled)
    assert Counter(seen_a.polled + seen_b.polled) == Counter(set(w.gpu.jobs))
    assert await w.statuses() == {ExecutionStatus.COMPLETED: 20}


# --- storage outage --------------------------------------------------------------------


def dead_postgres_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/tarsify_nowhere"


async def test_storage_outage_raises_and_the_loop_keeps_going(
    pg: Db, caplog: pytest.LogCaptureFixture
) -> None:
    w = await sql_world(pg)
    e = await start(w)
    w.gpu.set_status(e.provider_job_id, "COMPLETED", output=IMAGE)
    live = w.store
    dead = Db("postgres", dead_postgres_url(), pg.engines).store()

    # One pass (and any use case) on a dead database raises StorageError.
    dispatcher = Dispatcher(dead.unit_of_work, w.gpu, w.clock, w.settings)
    with pytest.raises(StorageError):
        await Reconciler(dead.unit_of_work, dispatcher, w.clock, w.settings).run_once()
    with pytest.raises(StorageError):
        await ExecutionService(dead.unit_of_work, dispatcher, w.clock, w.settings).get(
            w.alice.id, e.id
        )

    # The loop logs, backs off and resumes once the database answers again.
    current = {"store": dead}

    def uow() -> SqlUnitOfWork:
        return current["store"].unit_of_work()

    reconciler = Reconciler(uow, Dispatcher(uow, w.gpu, w.clock, w.settings), w.clock, w.settings)
    caplog.set_level(logging.ERROR, logger="tarsify")

    def outages() -> int:
        return sum(r.getMessage() == "reconcile.storage_unavailable" for r in caplog.records)

    loop = asyncio.create_task(reconciler.run_forever(interval_s=0.01, max_backoff_s=0.03))
    try:
        await wait_for(lambda: outages() >= 3, limit_s=5.0)
        assert not loop.done()
        assert (await w.stored(e.id)).status is ExecutionStatus.QUEUED
        current["store"] = live
        for _ in range(200):
            if (await w.stored(e.id)).status is ExecutionStatus.COMPLETED:
                break
            await asyncio.sleep(0.01)
        assert not loop.done()
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.COMPLETED and stored.output_payload == IMAGE
    assert w.gpu.calls["status"] == 1
