"""The execution engine's tunables (made into ``EngineSettings`` and ``CreditSettings`` by
the container) and the event streams' cadence."""

from __future__ import annotations

from pydantic import Field

from entrypoints.config.common import MIB, Group
from tarsify.domain.inputs import DEFAULT_MAX_INPUT_BYTES


class EngineConfig(Group):
    """STATUS_POLL_MIN_INTERVAL, RECONCILER_*, MAX_ACTIVE_EXECUTIONS, MAX_INPUT_BYTES,
    VALIDATION_*, RUN_TARGET_CACHE_SECONDS, IDEMPOTENCY_KEY_RETENTION_HOURS,
    PLATFORM_FEE_PERCENT."""

    status_poll_min_interval: float = Field(
        default=1.0, ge=0.0, validation_alias="STATUS_POLL_MIN_INTERVAL"
    )
    reconciler_enabled: bool = Field(default=True, validation_alias="RECONCILER_ENABLED")
    reconciler_interval: float = Field(default=2.0, gt=0.0, validation_alias="RECONCILER_INTERVAL")
    max_active_executions: int = Field(
        default=10, ge=1, le=1_000_000, validation_alias="MAX_ACTIVE_EXECUTIONS"
    )
    # A run's inputs, merged with the model's configuration, as compact JSON: more is 413
    # ERR_4130 with nothing stored (large data belongs in file inputs).
    max_input_bytes: int = Field(
        default=DEFAULT_MAX_INPUT_BYTES, ge=1024, le=16 * MIB, validation_alias="MAX_INPUT_BYTES"
    )
    # Checking a run's inputs against its schema, on a thread: past this it is 422.
    validation_budget_seconds: float = Field(
        default=2.0, gt=0.0, le=60.0, validation_alias="VALIDATION_BUDGET_SECONDS"
    )
    validation_threads: int = Field(default=2, ge=1, le=64, validation_alias="VALIDATION_THREADS")
    # How long a process keeps a model's run target (model, base model, endpoint and
    # its inputs' validators): a change made in another process reaches runs here
    # within this time; unpublishing and deactivating take effect at once. 0: never kept.
    run_target_cache_seconds: float = Field(
        default=1.0, ge=0.0, le=60.0, validation_alias="RUN_TARGET_CACHE_SECONDS"
    )
    # How long an Idempotency-Key is remembered (then the same key starts a new run).
    idempotency_key_retention_hours: float = Field(
        default=24.0, gt=0.0, le=24 * 365, validation_alias="IDEMPOTENCY_KEY_RETENTION_HOURS"
    )
    platform_fee_percent: int = Field(
        default=20, ge=0, le=100, validation_alias="PLATFORM_FEE_PERCENT"
    )


class EventsConfig(Group):
    """EVENTS_HEARTBEAT_SECONDS, EVENTS_POLL_INTERVAL, MAX_STREAMS_PER_CONSUMER."""

    heartbeat_seconds: float = Field(
        default=15.0, gt=0.0, validation_alias="EVENTS_HEARTBEAT_SECONDS"
    )
    poll_interval: float = Field(default=0.25, gt=0.0, validation_alias="EVENTS_POLL_INTERVAL")
    # Open event streams per consumer and server process: each quiet stream reads its
    # execution every second, so streams are not free.
    max_streams_per_consumer: int = Field(
        default=10, ge=1, le=10_000, validation_alias="MAX_STREAMS_PER_CONSUMER"
    )
