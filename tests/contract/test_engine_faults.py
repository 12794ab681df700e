"""One execution's trouble stays that execution's: poisoned outputs, failing writes,
providers that crash, endpoints changed under running jobs — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.clock import ManualClock
from entrypoints.http.encoding import dumps
from entrypoints.http.schemas_executions import execution_document
from tarsify.domain.errors import StorageError
from tarsify.domain.jsonsafe import json_safe
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tests.contract.engine_world import EAGER, Db, sql_world, start

POISON = {"images": ["data:image/png;base64,AAAA\x00"], "score": math.nan, "x": "\ud83d"}


async def test_a_poisoned_output_is_recorded_and_holds_up_no_other_execution(db: Db) -> None:
    w = await sql_world(db, settings=EAGER)
    executions = [await start(w) for _ in range(5)]
    poisoned, others = executions[0], executions[1:]
    w.gpu.set_status(poisoned.provider_job_id, "COMPLETED", output=POISON)
    for i, e in enumerate(others):
        w.gpu.set_status(e.provider_job_id, "COMPLETED", output={"images": [f"img-{i}"]})
    report = await w.reconciler.run_once()  # one pass, no exception, no back-off
    assert (report.claimed, report.errors) == (5, 0)
    for i, e in enumerate(others):
        stored = await w.stored(e.id)
        assert stored.status is ExecutionStatus.COMPLETED
        assert stored.output_payload == {"images": [f"img-{i}"]}
    stored = await w.stored(poisoned.id)
    assert stored.status is ExecutionStatus.COMPLETED
    assert stored.output_payload == {
        "images": ["data:image/png;base64,AAAA\ufffd"],
        "score": None,
        "x": "\ufffd",
    }
    assert stored.output_repairs == 3
    # And it reads back through the consumer's view and history.
    view = await w.executions.get(w.alice.id, poisoned.id)
    assert view.execution.output_payload["score"] is None
    page = await w.executions.list(w.alice.id, PageRequest(limit=10))
    assert len(page.items) == 5


class FailingWrites:
    """Wraps a unit of work so that updates of one execution always fail."""

    def __init__(self, inner: Any, victim: uuid.UUID) -> None:
        self._inner, self._victim = inner, victim

    def __call__(self) -> Any:
        uow = self._inner()
        victim = self._victim

        class Wrapped:
            async def __aenter__(self) -> Any:
                entered = await uow.__aenter__()
                update = entered.executions.update

                async def failing(execution: Any, *, then: Any = None) -> bool:
                    if execution.id == victim and execution.status is ExecutionStatus.COMPLETED:
                        raise StorageError("value cannot be stored")
                    return bool(await update(execution, then=then))

                entered.executions.update = failing
                return entered

            async def __aexit__(self, *exc: Any) -> None:
                await uow.__aexit__(*exc)

        return Wrapped()


async def test_an_execution_whose_result_cannot_be_stored_fails_after_bounded_retries(
    db: Db,
) -> None:
    from tarsify.services.engine.dispatch import Dispatcher
    from tarsify.services.engine.reconciler import Reconciler

    clock = ManualClock()
    w = await sql_world(db, clock=clock, settings=EAGER)
    victim, other = await start(w), await start(w)
    w.gpu.set_status(victim.provider_job_id, "COMPLETED", output={"ok": 1})
    w.gpu.set_status(other.provider_job_id, "RUNNING")
    uow = FailingWrites(w.store.unit_of_work, victim.id)
    dispatcher = Dispatcher(uow, w.gpu, clock, EAGER)
    reconciler = Reconciler(uow, dispatcher, clock, EAGER)
    for attempt in range(1, EAGER.max_record_failures + 1):
        report = await reconciler.run_once()  # never raises: not an outage
        assert report.errors == 1, attempt
        stored = await w.stored(other.id)
        assert stored.status is ExecutionStatus.RUNNING  # the others keep moving
        clock.advance(1)
    final = await w.stored(victim.id)
    assert final.status is ExecutionStatus.FAILED
    assert final.error_code == "RESULT_UNRECORDABLE"


class CrashingStatus:
    """A provider whose status call crashes with a bug, not a provider error."""

    def __init__(self, gpu: Any) -> None:
        self._gpu = gpu

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gpu, name)

    async def status(self, endpoint_id: str, job_id: str) -> Any:
        raise RuntimeError("bug while reading the answer")


async def test_the_deadline_ends_an_execution_whose_polls_always_crash(db: Db) -> None:
    from tarsify.services.engine.dispatch import Dispatcher
    from tarsify.services.engine.reconciler import Reconciler

    clock = ManualClock()
    w = await sql_world(db, clock=clock)
    e = await start(w)
    provider = CrashingStatus(w.gpu)
    dispatcher = Dispatcher(w.store.unit_of_work, provider, clock, w.settings)
    reconciler = Reconciler(w.store.unit_of_work, dispatcher, clock, w.settings)
    clock.advance(w.settings.deadline(w.base).total_seconds() + 1)
    report = await reconciler.run_once()
    assert report.timed_out == 1
    stored = await w.stored(e.id)
    assert (stored.status, stored.error_code) == (ExecutionStatus.TIMED_OUT, "DEADLINE_EXCEEDED")
    assert w.gpu.jobs[e.provider_job_id].status == "CANCELLED"


async def test_changing_the_endpoints_provider_id_loses_no_job_in_flight(db: Db) -> None:
    w = await sql_world(db, settings=EAGER)
    running = [await start(w) for _ in range(3)]
    assert {(await w.stored(e.id)).provider_endpoint_id for e in running} == {"rp-endpoint-secret"}
    await w.catalog.update_endpoint(w.endpoint.id, {"provider_endpoint_id": "rp-new-endpoint"})
    w.gpu.set_status(running[0].provider_job_id, "COMPLETED", output={"ok": 0})
    w.gpu.set_status(running[1].provider_job_id, "IN_PROGRESS")
    await w.reconciler.run_once()
    assert (await w.stored(running[0].id)).status is ExecutionStatus.COMPLETED
    assert (await w.stored(running[1].id)).status is ExecutionStatus.RUNNING
    cancelled = await w.executions.cancel(w.alice.id, running[2].id)
    assert cancelled.execution.status is ExecutionStatus.CANCELLED
    assert w.gpu.jobs[running[2].provider_job_id].status == "CANCELLED"
    # New runs go to the new endpoint.
    fresh = await start(w)
    assert (await w.stored(fresh.id)).provider_endpoint_id == "rp-new-endpoint"
    assert w.gpu.jobs[fresh.provider_job_id].endpoint_id == "rp-new-endpoint"


worker_outputs = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and the infinities included
    | st.text(alphabet=st.characters(codec=None, categories=None), max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


def as_numbers(value: Any) -> Any:
    """``value`` with every number as a float: PostgreSQL's JSONB keeps numbers as
    decimals, so ``4.839377949479806e+16`` comes back as the integer it spells."""
    return json.loads(json.dumps(value), parse_int=float, parse_float=float)


def _examples(count: int) -> list[tuple[Any, str]]:
    """Worker outputs and error texts drawn by Hypothesis (NUL, lone surrogates, NaN,
    infinities and 70-bit integers included), the same ones on every run."""
    drawn: list[tuple[Any, str]] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None)
    @given(worker_outputs, st.text(max_size=30))
    def collect(output: Any, error: str) -> None:
        drawn.append((output, error))

    collect()
    return drawn


async def test_whatever_a_worker_returns_is_recorded_and_read_back(db: Db) -> None:
    w = await sql_world(db, settings=EAGER)
    examples = _examples(40)
    started = [(await start(w), await start(w), output, error) for output, error in examples]
    for done, failed, output, error in started:
        w.gpu.set_status(done.provider_job_id, "COMPLETED", output=output)
        w.gpu.set_status(failed.provider_job_id, "FAILED", error=error)
    report = await w.reconciler.run_once()
    assert (report.claimed, report.errors) == (2 * len(examples), 0)
    for done, failed, output, _ in started:
        stored = await w.stored(done.id)
        assert stored.status is ExecutionStatus.COMPLETED
        assert as_numbers(stored.output_payload) == as_numbers(json_safe(output))
        view = await w.executions.get(w.alice.id, done.id)
        body = dumps({"data": execution_document(view)})
        assert as_numbers(json.loads(body)["data"]["output"]) == as_numbers(json_safe(output))
        assert (await w.stored(failed.id)).status is ExecutionStatus.FAILED
