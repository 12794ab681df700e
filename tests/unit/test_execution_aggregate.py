"""The Execution aggregate decides every transition of an execution."""

from __future__ import annotations

import dataclasses
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tarsify.domain.execution import Execution, Step
from tarsify.domain.failures import Failure, PendingReason
from tarsify.domain.jobs import JobReport
from tarsify.domain.jsonsafe import json_safe
from tarsify.domain.models import ExecutionStatus as S

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fresh(**changes: Any) -> Execution:
    e = Execution(
        id=uuid.uuid4(),
        consumer_id=uuid.uuid4(),
        tars_model_id=uuid.uuid4(),
        endpoint_id=uuid.uuid4(),
        created_at=T0,
        updated_at=T0,
        deadline_at=at(600),
        wake_at=at(15),
    )
    for key, value in changes.items():
        setattr(e, key, value)
    return e


def sent(job_id: str = "job-1") -> Execution:
    e = fresh()
    assert e.claim_submit(at(1), "ep-1", at(121))
    assert e.apply(JobReport(job_id, "IN_QUEUE"), at(2), submitted=True)
    return e


def test_next_step_checks_the_deadline_before_anything_else() -> None:
    assert fresh().next_step(at(0)) is Step.NOTHING  # inside the grace period
    assert fresh().next_step(at(15)) is Step.SEND
    assert sent().next_step(at(100)) is Step.POLL
    assert sent().next_step(at(600)) is Step.EXPIRE
    assert fresh().next_step(at(600)) is Step.EXPIRE
    done = sent()
    done.apply(JobReport("job-1", "COMPLETED", output=1), at(3))
    assert done.next_step(at(10_000)) is Step.NOTHING


def test_a_submit_is_claimed_once_and_remembers_its_endpoint() -> None:
    e = fresh()
    assert e.claim_submit(at(1), "ep-1", at(121))
    assert (e.submit_attempts, e.provider_endpoint_id, e.wake_at) == (1, "ep-1", at(121))
    assert not e.claim_submit(at(2), "ep-2", at(122))
    assert e.provider_endpoint_id == "ep-1"
    assert e.next_step(at(120)) is Step.NOTHING
    # Unanswered past the time any submit takes: its process died mid-call.
    assert e.next_step(at(121)) is Step.UNCONFIRMED
    assert e.mark_unconfirmed(at(121), at(241))
    assert (e.pending_reason, e.wake_at) == (PendingReason.SUBMIT_UNCONFIRMED, at(241))
    assert e.next_step(at(240)) is Step.NOTHING
    assert e.next_step(at(241)) is Step.GIVE_UP


def test_a_resend_after_a_429_stays_rate_limited_until_confirmed() -> None:
    e = fresh()
    e.claim_submit(at(1), "ep-1", at(91))
    e.release_submit(at(2), at(30), PendingReason.RATE_LIMITED)
    assert e.claim_submit(at(30), "ep-1", at(120))
    assert (e.pending_reason, e.wake_at) == (PendingReason.RATE_LIMITED, at(120))
    assert e.next_step(at(120)) is Step.UNCONFIRMED  # a RATE_LIMITED claim can die too
    assert e.apply(JobReport("job-1", "IN_QUEUE"), at(31), submitted=True)
    assert (e.pending_reason, e.wake_at) == (None, None)


def test_a_submit_not_sent_is_handed_back_with_its_reason() -> None:
    e = fresh()
    assert not e.release_submit(at(1), at(30), PendingReason.RATE_LIMITED)  # never claimed
    e.claim_submit(at(1), "ep-1", at(121))
    assert e.release_submit(at(2), at(30), PendingReason.RATE_LIMITED)
    assert (e.submit_attempts, e.pending_reason) == (0, PendingReason.RATE_LIMITED)
    assert e.next_step(at(29)) is Step.NOTHING and e.next_step(at(30)) is Step.SEND


def test_an_unconfirmed_submit_is_given_up_and_never_resent() -> None:
    e = fresh()
    assert not e.mark_unconfirmed(at(1), at(121))  # never sent: nothing is unconfirmed
    e.claim_submit(at(1), "ep-1", at(121))
    assert e.mark_unconfirmed(at(2), at(122)) and not e.mark_unconfirmed(at(3), at(123))
    assert (e.pending_reason, e.wake_at) == (PendingReason.SUBMIT_UNCONFIRMED, at(122))
    assert e.give_up_unconfirmed(at(121))
    assert (e.status, e.error_code, e.pending_reason) == (S.FAILED, "SUBMIT_UNCONFIRMED", None)
    assert not fresh().give_up_unconfirmed(at(1))  # never sent: nothing to give up on


def test_reports_move_forward_only_and_ignore_other_jobs() -> None:
    e = sent()
    assert e.status is S.QUEUED and e.pending_reason is None and e.wake_at is None
    assert e.apply(JobReport("job-1", "IN_PROGRESS", delay_time_ms=1500), at(5))
    assert (e.status, e.started_at, e.queue_time_ms) == (S.RUNNING, at(5), 1500)
    assert not e.apply(JobReport("job-1", "IN_QUEUE"), at(6))  # late report: no regression
    assert not e.apply(JobReport("job-2", "COMPLETED", output=1), at(7))  # another job
    assert not e.apply(JobReport("job-1", "SOMETHING_NEW"), at(8))  # unknown status
    assert e.status is S.RUNNING
    assert e.apply(JobReport("job-1", "FAILED", error="boom"), at(9))
    assert (e.status, e.error_code, e.error_message) == (S.FAILED, "JOB_FAILED", "boom")
    assert not e.apply(JobReport("job-1", "COMPLETED", output=1), at(10))  # final is final
    assert not e.cancel(at(11)) and e.status is S.FAILED


def test_the_submit_answer_with_an_unknown_status_still_means_queued() -> None:
    e = fresh()
    e.claim_submit(at(1), "ep-1", at(121))
    assert e.apply(JobReport("job-9", "WHATEVER"), at(2), submitted=True)
    assert (e.status, e.provider_job_id) == (S.QUEUED, "job-9")


def test_a_cancel_during_the_submit_keeps_the_job_id_to_stop_it() -> None:
    e = fresh()
    e.claim_submit(at(1), "ep-1", at(121))
    assert e.cancel(at(2))
    assert e.apply(JobReport("job-1", "IN_QUEUE"), at(3), submitted=True)
    assert (e.status, e.provider_job_id) == (S.CANCELLED, "job-1")


def test_record_cancel_keeps_a_result_that_came_first() -> None:
    e = sent()
    assert e.record_cancel(JobReport("job-1", "COMPLETED", output={"x": 1}), at(5))
    assert (e.status, e.output_payload) == (S.COMPLETED, {"x": 1})
    other = sent()
    assert other.record_cancel(JobReport("job-1", "CANCELLED"), at(5))
    assert (other.status, other.error_code) == (S.CANCELLED, "JOB_CANCELLED")


def test_expiry_codes() -> None:
    polled = sent()
    assert polled.expire(at(600))
    assert (polled.status, polled.error_code) == (S.TIMED_OUT, "DEADLINE_EXCEEDED")
    unsent = fresh()
    assert unsent.expire(at(600))
    assert (unsent.status, unsent.error_code) == (S.TIMED_OUT, "DEADLINE_EXCEEDED")
    assert unsent.error_message == Failure.DEADLINE_EXCEEDED_UNSENT.message
    unconfirmed = fresh()
    unconfirmed.claim_submit(at(1), "ep-1", at(900))
    assert unconfirmed.expire(at(600))
    assert (unconfirmed.status, unconfirmed.error_code) == (S.FAILED, "SUBMIT_UNCONFIRMED")


def test_whatever_a_worker_returns_is_stored_as_strict_json() -> None:
    e = sent()
    poison = {"text": "a\x00b", "lone": "x\ud800y", "n": [math.nan, math.inf, 1.5], 3: "key"}
    assert e.apply(JobReport("job-1", "COMPLETED", output=poison), at(5))
    assert e.output_payload == {
        "text": "a\ufffdb",
        "lone": "x\ufffdy",
        "n": [None, None, 1.5],
        "3": "key",
    }
    assert e.output_repairs == 5
    clean = sent()
    clean.apply(JobReport("job-1", "COMPLETED", output={"ok": [1, "two"]}), at(5))
    assert clean.output_repairs == 0


def test_worker_error_messages_are_made_safe_and_capped() -> None:
    e = sent()
    e.apply(JobReport("job-1", "FAILED", error="bad\x00" + "x" * 5000), at(5))
    assert e.error_message is not None and "\x00" not in e.error_message
    assert len(e.error_message) == 1000


def test_terminal_statuses_leave_no_pending_reason_or_wake_time() -> None:
    e = fresh()
    e.claim_submit(at(1), "ep-1", at(121))
    e.mark_unconfirmed(at(2), at(122))
    e.apply(JobReport("job-1", "COMPLETED", output=1), at(3))
    assert (e.status, e.pending_reason, e.wake_at) == (S.COMPLETED, None, None)


def test_pending_reason_from_storage_text_becomes_the_enum() -> None:
    e = fresh(pending_reason=None)
    stored = Execution(**{**{f: getattr(e, f) for f in e.__dataclass_fields__},
                          "pending_reason": "RATE_LIMITED"})  # fmt: skip
    assert stored.pending_reason is PendingReason.RATE_LIMITED


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_json_safe_output_always_encodes_as_strict_utf8_json(value: Any) -> None:
    import json

    safe = json_safe(value)
    text = json.dumps(safe, allow_nan=False, ensure_ascii=False)
    assert "\x00" not in text
    text.encode("utf-8")  # no lone surrogates
    assert json_safe(safe) == safe  # idempotent


@pytest.mark.parametrize("value", [None, True, 0, 2**80, 1.5, "plain", [1, {"a": "b"}]])
def test_json_safe_leaves_clean_values_alone(value: Any) -> None:
    assert json_safe(value) == value


# --- each guard and each answer on its own ---------------------------------------------


def test_a_new_execution_starts_at_version_one_unpaid_unrepaired_and_unsent() -> None:
    e = fresh()
    assert (e.version, e.price, e.output_repairs, e.submit_attempts) == (1, 0, 0, 0)
    assert (e.status, e.pending_reason, e.provider_job_id) == (S.PENDING, None, None)


@pytest.mark.parametrize("decide", ["release", "mark_unconfirmed"])
def test_a_claimed_submit_is_handed_back_or_marked_only_while_pending_and_unnamed(
    decide: str,
) -> None:
    def act(e: Execution) -> bool:
        if decide == "release":
            return e.release_submit(at(5), at(30), PendingReason.RATE_LIMITED)
        return e.mark_unconfirmed(at(5), at(125))

    named = fresh()  # PENDING, but the provider named its job (a webhook adopted it)
    named.claim_submit(at(1), "ep-1", at(91))
    named.provider_job_id = "job-1"
    cancelled = fresh()  # the consumer cancelled during the submit: no job named yet
    cancelled.claim_submit(at(1), "ep-1", at(91))
    assert cancelled.cancel(at(2))
    for e in (named, cancelled):
        before = dataclasses.replace(e)
        assert act(e) is False
        assert e == before  # nothing changed
    pending = fresh()
    pending.claim_submit(at(1), "ep-1", at(91))
    assert act(pending) is True


def test_a_status_report_is_not_a_submit_answer() -> None:
    """An unknown status means "queued" only in the submit's own answer."""
    e = fresh()
    e.claim_submit(at(1), "ep-1", at(91))
    assert e.apply(JobReport("job-1", "SOMETHING_NEW"), at(2)) is True  # the job is named
    assert (e.status, e.provider_job_id, e.wake_at) == (S.PENDING, "job-1", None)
    assert e.apply(JobReport("job-1", "SOMETHING_NEW"), at(3)) is False  # nothing new


def test_started_at_is_set_when_running_only_and_kept() -> None:
    e = fresh()
    e.claim_submit(at(1), "ep-1", at(91))
    e.apply(JobReport("job-1", "IN_QUEUE", delay_time_ms=5), at(2), submitted=True)
    assert (e.status, e.started_at, e.queue_time_ms) == (S.QUEUED, None, None)
    e.apply(JobReport("job-1", "IN_PROGRESS", delay_time_ms=900), at(3))
    assert (e.started_at, e.queue_time_ms) == (at(3), 900)
    e.status = S.QUEUED  # a replayed older state: RUNNING again must keep the first start
    e.apply(JobReport("job-1", "IN_PROGRESS", delay_time_ms=1), at(4))
    assert (e.started_at, e.queue_time_ms) == (at(3), 900)


def test_replacing_the_output_of_a_completed_execution_only() -> None:
    e = sent()
    assert e.apply(JobReport("job-1", "COMPLETED", output={"image": "data:..."}), at(3))
    version_fields = dataclasses.replace(e)
    assert e.replace_output({"image": "data:..."}, at(4)) is False  # the same output
    assert e == version_fields
    assert e.replace_output({"image": "https://files/0.png"}, at(5)) is True
    assert (e.output_payload, e.updated_at) == ({"image": "https://files/0.png"}, at(5))
    failed = sent()
    assert failed.apply(JobReport("job-1", "FAILED", error="x"), at(3))
    assert failed.replace_output({"image": "y"}, at(4)) is False
    assert failed.output_payload is None
