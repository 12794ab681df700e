"""Submitting executions: validation, commit-before-submit, refusals, ambiguity, idempotency."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.clock import ManualClock
from tarsify.domain.errors import (
    BaseModelNotActive,
    Conflict,
    EndpointNotActive,
    GpuProviderError,
    InputValidationFailed,
    ModelNotPublished,
    ProviderOutcome,
    TarsModelNotFound,
)
from tarsify.domain.failures import PendingReason
from tarsify.domain.jobs import JobReport, JobRequest
from tarsify.domain.models import ExecutionStatus, TarsModelStatus
from tarsify.domain.pagination import PageRequest
from tarsify.domain.run_request import RunRequest
from tests.unit.world import StaticCallbacks, World, make_world

REFUSED_400 = GpuProviderError("bad request", outcome=ProviderOutcome.REFUSED, status_code=400)
UNREACHABLE = GpuProviderError("connection refused", outcome=ProviderOutcome.NOT_SENT)


async def test_run_merges_stores_and_submits_once() -> None:
    w = await make_world()
    result = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "a cat", "seed": 5})
    )
    e = result.view.execution
    assert e.status is ExecutionStatus.QUEUED
    assert e.input_payload == {"prompt": "art: a cat", "width": 768, "num_images": 1}
    [job] = w.gpu.submitted
    assert job.endpoint_id == "rp-endpoint-secret"
    assert job.input == e.input_payload
    assert job.execution_timeout_ms == 300_000  # 30 s estimate x 10
    assert job.ttl_ms == 300_000 + 600_000
    stored = await w.stored(e.id)
    assert stored.provider_job_id == e.provider_job_id and stored.status is ExecutionStatus.QUEUED
    assert result.view.model_slug == w.model.slug


async def test_execution_is_committed_before_the_provider_is_called() -> None:
    w = await make_world()
    seen: list[ExecutionStatus] = []

    async def spy_submit(request):  # type: ignore[no-untyped-def]
        page = await w.executions.list(
            w.alice.id,
            PageRequest(),
        )
        seen.extend(v.status for v in page.items)
        return await original(request)

    original = w.gpu.submit
    w.gpu.submit = spy_submit  # type: ignore[method-assign]
    await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert seen == [ExecutionStatus.PENDING]


async def test_invalid_inputs_list_every_violation_and_store_nothing() -> None:
    w = await make_world()
    with pytest.raises(InputValidationFailed) as info:
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"width": 5, "extra": True}))
    fields = sorted(d["field"] for d in info.value.details)
    assert fields == ["extra", "prompt", "width"]
    assert await w.count_executions() == 0
    assert w.gpu.calls["submit"] == 0


async def test_unknown_and_unpublished_models_are_refused() -> None:
    w = await make_world()
    with pytest.raises(TarsModelNotFound):
        await w.executions.run(RunRequest(w.alice.id, "no-such-model", {"prompt": "x"}))
    await w.studio.update(w.developer.id, w.model.id, {"status": TarsModelStatus.DRAFT})
    with pytest.raises(ModelNotPublished):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert await w.count_executions() == 0


async def test_inactive_base_model_or_endpoint_stops_runs() -> None:
    w = await make_world()
    await w.catalog.deactivate_endpoint(w.endpoint.id)
    with pytest.raises(EndpointNotActive):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    await w.catalog.update_endpoint(w.endpoint.id, {"is_active": True})
    await w.catalog.deactivate_base_model(w.base.id)
    with pytest.raises(BaseModelNotActive):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    assert await w.count_executions() == 0


async def test_a_refusal_fails_the_execution_cleanly() -> None:
    w = await make_world()
    w.gpu.fail_next("submit", REFUSED_400)
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    assert e.status is ExecutionStatus.FAILED
    assert e.error_code == "PROVIDER_REJECTED"
    assert (await w.stored(e.id)).status is ExecutionStatus.FAILED


async def test_ambiguous_submit_says_why_it_waits_and_fails_after_the_unconfirmed_wait() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    w.gpu.fail_next("submit", GpuProviderError("timeout", outcome=ProviderOutcome.UNKNOWN))
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    assert e.status is ExecutionStatus.PENDING and e.submit_attempts == 1
    assert e.pending_reason is PendingReason.SUBMIT_UNCONFIRMED
    clock.advance(w.settings.unconfirmed_wait_s - 1)
    await w.reconciler.run_once()
    assert (await w.stored(e.id)).status is ExecutionStatus.PENDING
    assert w.gpu.calls["submit"] == 1  # never resent: it may be running already
    clock.advance(2)
    await w.reconciler.run_once()
    final = await w.stored(e.id)
    assert final.status is ExecutionStatus.FAILED
    assert final.error_code == "SUBMIT_UNCONFIRMED"
    assert final.pending_reason is None
    assert w.gpu.calls["submit"] == 1


async def test_with_provider_callbacks_an_ambiguous_submit_waits_until_the_deadline() -> None:
    clock = ManualClock()
    w = await make_world(clock, callbacks=StaticCallbacks())
    w.gpu.fail_next("submit", GpuProviderError("timeout", outcome=ProviderOutcome.UNKNOWN))
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    clock.advance(w.settings.unconfirmed_wait_s + 1)
    await w.reconciler.run_once()
    assert (await w.stored(e.id)).status is ExecutionStatus.PENDING  # a callback may name it
    clock.advance(w.settings.deadline(w.base).total_seconds())
    await w.reconciler.run_once()
    final = await w.stored(e.id)
    assert (final.status, final.error_code) == (ExecutionStatus.FAILED, "SUBMIT_UNCONFIRMED")
    assert w.gpu.calls["submit"] == 1


async def test_a_long_rate_limit_is_sent_again_after_its_retry_after() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    limited = GpuProviderError(
        "HTTP 429", outcome=ProviderOutcome.NOT_SENT, status_code=429, retry_after_s=120
    )
    w.gpu.fail_next("submit", limited)
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    assert (e.status, e.submit_attempts) == (ExecutionStatus.PENDING, 0)
    assert e.pending_reason is PendingReason.RATE_LIMITED
    clock.advance(119)
    await w.reconciler.run_once()
    assert w.gpu.calls["submit"] == 1  # the provider asked for 120 s
    clock.advance(2)
    await w.reconciler.run_once()
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.QUEUED and stored.provider_job_id
    assert stored.pending_reason is None
    assert w.gpu.calls["submit"] == 2 and len(w.gpu.jobs) == 1


async def test_crash_between_commit_and_submit_is_resubmitted_by_the_reconciler() -> None:
    clock = ManualClock()
    w = await make_world(clock)

    async def crash(*_: object, **__: object) -> None:
        raise RuntimeError("process killed")

    real_submit = w.dispatcher.submit
    w.dispatcher.submit = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    w.dispatcher.submit = real_submit  # type: ignore[method-assign]
    page = await w.executions.list(w.alice.id, PageRequest())
    [view] = page.items
    assert view.status is ExecutionStatus.PENDING
    assert (await w.stored(view.id)).submit_attempts == 0
    await w.reconciler.run_once()  # within the grace period: left alone
    assert w.gpu.calls["submit"] == 0
    clock.advance(w.settings.pending_grace_s + 1)
    await w.reconciler.run_once()
    stored = await w.stored(view.id)
    assert stored.status is ExecutionStatus.QUEUED and stored.provider_job_id
    assert w.gpu.calls["submit"] == 1


async def test_idempotency_key_replays_and_conflicts() -> None:
    w = await make_world()
    first = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k1")
    )
    again = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k1")
    )
    assert again.replayed and again.view.execution.id == first.view.execution.id
    assert w.gpu.calls["submit"] == 1
    with pytest.raises(Conflict):
        await w.executions.run(
            RunRequest(w.alice.id, w.model.slug, {"prompt": "y"}, idempotency_key="k1")
        )
    other = await w.executions.run(
        RunRequest(w.bob.id, w.model.slug, {"prompt": "x"}, idempotency_key="k1")
    )
    assert other.view.execution.id != first.view.execution.id
    assert w.gpu.calls["submit"] == 2


async def test_an_idempotency_key_is_remembered_for_its_retention_only() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    day = w.settings.idempotency_retention_s
    first = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k")
    )
    clock.advance(day)  # still remembered on the last second
    again = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="k")
    )
    assert again.replayed and again.view.execution.id == first.view.execution.id
    clock.advance(1)  # past it: the key starts a new run, with any body
    later = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "y"}, idempotency_key="k")
    )
    assert not later.replayed and later.view.execution.id != first.view.execution.id
    replay = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "y"}, idempotency_key="k")
    )
    assert replay.replayed and replay.view.execution.id == later.view.execution.id
    assert (await w.stored(first.view.execution.id)).idempotency_key is None
    assert w.gpu.calls["submit"] == 2


async def test_concurrent_runs_with_one_key_make_one_job() -> None:
    w: World = await make_world()
    w.gpu.latency["submit"] = 0.02
    results = await asyncio.gather(
        *(
            w.executions.run(
                RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, idempotency_key="same")
            )
            for _ in range(5)
        )
    )
    assert len({r.view.execution.id for r in results}) == 1
    assert w.gpu.calls["submit"] == 1
    assert await w.count_executions() == 1


async def test_unreachable_provider_hands_the_submit_back_for_a_retry() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    w.gpu.fail_next("submit", UNREACHABLE)
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    assert e.status is ExecutionStatus.PENDING and e.submit_attempts == 0
    assert e.pending_reason is PendingReason.PROVIDER_UNAVAILABLE
    clock.advance(w.settings.pending_grace_s + 1)
    await w.reconciler.run_once()
    stored = await w.stored(e.id)
    assert stored.status is ExecutionStatus.QUEUED and stored.provider_job_id
    assert w.gpu.calls["submit"] == 2 and len(w.gpu.jobs) == 1


async def test_provider_unreachable_until_the_deadline_times_out_unsent() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    w.gpu.fail_next(
        "submit",
        UNREACHABLE,
        times=100,
    )
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    clock.advance(w.settings.pending_grace_s + 1)
    await w.reconciler.run_once()
    assert (await w.stored(e.id)).status is ExecutionStatus.PENDING
    clock.advance(w.settings.deadline(w.base).total_seconds())
    await w.reconciler.run_once()
    final = await w.stored(e.id)
    assert final.status is ExecutionStatus.TIMED_OUT
    assert final.error_code == "DEADLINE_EXCEEDED"
    assert w.gpu.jobs == {}


async def test_an_execution_read_as_a_view_is_sent_with_its_stored_payload() -> None:
    """Views leave out the merged payload; sending one reads what is stored instead of
    sending an empty input."""
    w = await make_world()
    w.gpu.fail_next("submit", UNREACHABLE)  # not sent: the execution waits, PENDING
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "a cat"}))
    async with w.store.unit_of_work() as uow:
        view = await uow.executions.get_view(result.view.execution.id)
    assert view is not None and view.execution.input_payload is None
    assert view.execution.status is ExecutionStatus.PENDING
    sent = await w.dispatcher.submit(view.execution)
    assert sent.status is ExecutionStatus.QUEUED
    [job] = w.gpu.submitted
    assert job.input == {"prompt": "art: a cat", "width": 768, "num_images": 1}


async def test_a_storage_failure_after_the_execution_is_stored_answers_it_pending() -> None:
    w = await make_world()
    original = w.gpu.submit

    async def submit_then_lose_the_database(request):  # type: ignore[no-untyped-def]
        report = await original(request)
        w.store.down = True  # the provider's answer cannot be recorded
        return report

    w.gpu.submit = submit_then_lose_the_database  # type: ignore[method-assign]
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    w.store.down = False
    # The run is not refused (sending it again would run it twice): it is stored, and the
    # reconciler takes it from there.
    assert result.view.execution.status is ExecutionStatus.PENDING
    assert await w.count_executions() == 1
    assert (await w.stored(result.view.execution.id)).id == result.view.execution.id


async def test_a_crash_mid_submit_shows_submit_unconfirmed_then_gives_up() -> None:
    """The claim was committed, then the process died during the provider call: the
    reconciler says SUBMIT_UNCONFIRMED once no submit could still be in flight, never
    sends it again, and fails it (nothing charged) after the unconfirmed wait."""
    clock = ManualClock()
    w = await make_world(clock)

    async def killed(*_: object, **__: object) -> None:
        raise RuntimeError("process killed during the provider call")

    w.gpu.submit = killed  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    [view] = (await w.executions.list(w.alice.id, PageRequest())).items
    execution_id = view.id
    stored = await w.stored(execution_id)
    assert (stored.submit_attempts, stored.pending_reason) == (1, None)
    clock.advance(w.settings.submit_answer_s - 1)
    await w.reconciler.run_once()  # a submit could still be in flight
    assert (await w.stored(execution_id)).pending_reason is None
    clock.advance(1)
    await w.reconciler.run_once()
    shown = (await w.executions.get(w.alice.id, execution_id)).execution
    assert shown.status is ExecutionStatus.PENDING
    assert shown.pending_reason is PendingReason.SUBMIT_UNCONFIRMED
    clock.advance(w.settings.unconfirmed_wait_s - 1)
    await w.reconciler.run_once()
    assert (await w.stored(execution_id)).status is ExecutionStatus.PENDING
    clock.advance(1)
    await w.reconciler.run_once()
    final = await w.stored(execution_id)
    assert (final.status, final.error_code) == (ExecutionStatus.FAILED, "SUBMIT_UNCONFIRMED")
    assert w.gpu.jobs == {}  # never sent again


async def test_a_resend_after_a_429_stays_rate_limited_while_in_flight() -> None:
    clock = ManualClock()
    w = await make_world(clock)
    limited = GpuProviderError(
        "HTTP 429", outcome=ProviderOutcome.NOT_SENT, status_code=429, retry_after_s=1
    )
    w.gpu.fail_next("submit", limited, times=2)
    e = (
        await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    ).view.execution
    in_flight: list[PendingReason | None] = []
    real_submit = w.gpu.submit

    async def observed(request: JobRequest) -> JobReport:
        in_flight.append((await w.stored(e.id)).pending_reason)  # as a reader sees it now
        return await real_submit(request)

    w.gpu.submit = observed  # type: ignore[method-assign]
    after: list[PendingReason | None] = []
    for _ in range(2):
        clock.advance(w.settings.resend_delay_s)
        await w.reconciler.run_once()
        after.append((await w.stored(e.id)).pending_reason)
    assert e.pending_reason is PendingReason.RATE_LIMITED
    assert in_flight == [PendingReason.RATE_LIMITED] * 2
    assert after == [PendingReason.RATE_LIMITED, None]
    assert (await w.stored(e.id)).provider_job_id
