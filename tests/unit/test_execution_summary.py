"""The read model of a consumer's history: what a listed execution holds, and not."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from tarsify.domain.execution import Execution, ExecutionView
from tarsify.domain.execution_summary import NOT_LISTED, ExecutionSummary
from tarsify.domain.failures import PendingReason
from tarsify.domain.models import ExecutionStatus

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# Never shown to a consumer, or the engine's own: a list must not even carry them.
HIDDEN = {
    "input_payload",
    "provider_job_id",
    "provider_endpoint_id",
    "deadline_at",
    "last_polled_at",
    "wake_at",
    "idempotency_key",
    "request_hash",
    "consumer_id",
    "tars_model_id",
    "endpoint_id",
    "updated_at",
    "submit_attempts",
    "version",
    "output_repairs",
    "chunks",
}


def test_a_summary_holds_none_of_what_is_hidden() -> None:
    assert NOT_LISTED == HIDDEN


def test_each_field_but_the_model_names_is_the_execution_field_of_that_name() -> None:
    execution_fields = {f.name: f.type for f in dataclasses.fields(Execution)}
    for field in dataclasses.fields(ExecutionSummary):
        if field.name not in ("model_slug", "model_title"):
            assert field.name in execution_fields, field.name


def test_of_keeps_what_is_shown() -> None:
    execution = Execution(
        id=uuid.uuid4(),
        consumer_id=uuid.uuid4(),
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=NOW,
        updated_at=NOW,
        status=ExecutionStatus.RUNNING,
        provider_job_id="job-1",
        consumer_input={"prompt": "x"},
        input_payload={"prompt": "hidden prefix x"},
        pending_reason=PendingReason.FILES_UNSTORED,
        price=7,
    )
    summary = ExecutionSummary.of(ExecutionView(execution, "a-model", "A model"))
    assert (summary.id, summary.status, summary.price) == (execution.id, execution.status, 7)
    assert summary.consumer_input == {"prompt": "x"}
    assert summary.pending_reason is PendingReason.FILES_UNSTORED
    assert (summary.model_slug, summary.model_title) == ("a-model", "A model")
    assert not summary.is_terminal


def test_a_stored_reason_becomes_the_enum() -> None:
    values = dict.fromkeys(f.name for f in dataclasses.fields(ExecutionSummary))
    values |= {"status": ExecutionStatus.PENDING, "pending_reason": "RATE_LIMITED", "price": 0}
    summary = ExecutionSummary(**values)  # type: ignore[arg-type]
    assert summary.pending_reason is PendingReason.RATE_LIMITED
