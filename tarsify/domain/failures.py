"""The catalogue of reasons an execution failed or waits, shown to consumers as codes."""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    """Why an execution ended without a result (``error.code`` in responses)."""

    JOB_FAILED = "JOB_FAILED"
    JOB_TIMED_OUT = "JOB_TIMED_OUT"
    JOB_CANCELLED = "JOB_CANCELLED"
    JOB_LOST = "JOB_LOST"
    PROVIDER_REJECTED = "PROVIDER_REJECTED"
    SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    DEADLINE_EXCEEDED_UNSENT = "DEADLINE_EXCEEDED_UNSENT"
    MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE"
    RESULT_UNRECORDABLE = "RESULT_UNRECORDABLE"
    OUTPUT_DOWNLOAD_FAILED = "OUTPUT_DOWNLOAD_FAILED"

    @property
    def code(self) -> str:
        """The code shown to consumers (two reasons may share one)."""
        return _CODES.get(self, self.value)

    @property
    def message(self) -> str:
        """The default message shown to consumers."""
        return _MESSAGES[self]


_CODES = {Failure.DEADLINE_EXCEEDED_UNSENT: Failure.DEADLINE_EXCEEDED.value}

_MESSAGES = {
    Failure.JOB_FAILED: "The model failed to process the inputs",
    Failure.JOB_TIMED_OUT: "The job ran longer than its time limit",
    Failure.JOB_CANCELLED: "The execution was cancelled",
    Failure.JOB_LOST: "The GPU provider no longer knows this job",
    Failure.PROVIDER_REJECTED: "The GPU provider refused the job",
    Failure.SUBMIT_UNCONFIRMED: "The GPU provider never confirmed the job",
    Failure.DEADLINE_EXCEEDED: "The execution did not finish before its deadline",
    Failure.DEADLINE_EXCEEDED_UNSENT: (
        "The execution could not be sent to the GPU provider before its deadline"
    ),
    Failure.MODEL_UNAVAILABLE: "The model is not available",
    Failure.RESULT_UNRECORDABLE: "The result reported by the GPU provider could not be recorded",
    Failure.OUTPUT_DOWNLOAD_FAILED: "An output file of the model could not be downloaded",
}


class PendingReason(StrEnum):
    """Why an unfinished execution waits: a PENDING one to be accepted by the provider,
    or (FILES_UNSTORED) one whose job finished for its output files to be stored."""

    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"
    FILES_UNSTORED = "FILES_UNSTORED"

    @property
    def message(self) -> str:
        """What the consumer is told while the execution waits."""
        return _PENDING_MESSAGES[self]


_PENDING_MESSAGES = {
    PendingReason.PROVIDER_UNAVAILABLE: (
        "The GPU provider could not be reached; the job will be sent again shortly"
    ),
    PendingReason.RATE_LIMITED: (
        "The GPU provider is rate limiting; the job will be sent when it allows"
    ),
    PendingReason.SUBMIT_UNCONFIRMED: (
        "The GPU provider did not confirm the job; waiting for its confirmation"
    ),
    PendingReason.FILES_UNSTORED: (
        "The job finished but its output files cannot be stored yet; "
        "they are stored as soon as the file store accepts them"
    ),
}
