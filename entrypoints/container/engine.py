"""Engine wiring: the core's settings values taken from the settings, and the threads
that check run inputs."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.offload import ThreadOffload
from entrypoints.config import Settings
from tarsify.ports.provider import GpuProvider, HeldStreamProvider
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.engine.credit_listener import CreditSettings
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.held_streams import HeldStreamPump
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.events import WatchSettings


def make_engine_settings(settings: Settings) -> EngineSettings:
    """Engine tunables taken from the settings."""
    return EngineSettings(
        poll_min_interval_s=settings.engine.status_poll_min_interval,
        idempotency_retention_s=settings.engine.idempotency_key_retention_hours * 3600,
        max_active_executions=settings.engine.max_active_executions,
        run_target_ttl_s=settings.engine.run_target_cache_seconds,
        max_input_bytes=settings.engine.max_input_bytes,
        validation_budget_s=settings.engine.validation_budget_seconds,
    )


def make_credit_settings(settings: Settings) -> CreditSettings:
    """The platform fee taken from the settings."""
    return CreditSettings(platform_fee_percent=settings.engine.platform_fee_percent)


def make_watch_settings(settings: Settings) -> WatchSettings:
    """Heartbeats of event streams."""
    # A stream with no news reads the execution as a status poll would, no more often
    # than a poll may ask the provider.
    refresh = max(settings.engine.status_poll_min_interval, 1.0)
    return WatchSettings(heartbeat_s=settings.events.heartbeat_seconds, refresh_s=refresh)


def open_offload(settings: Settings) -> Iterator[ThreadOffload]:
    """The threads that check run inputs away from the event loop; stopped on shutdown."""
    # The budget stops a check; the rest of the limit is for waiting for a thread.
    offload = ThreadOffload(
        settings.engine.validation_threads, 2 * settings.engine.validation_budget_seconds
    )
    try:
        yield offload
    finally:
        offload.close()


def make_held_stream_pump(
    uow: UnitOfWorkFactory, provider: GpuProvider, executions: ExecutionService
) -> HeldStreamPump | None:
    """What reads the jobs this process holds open, when a provider holds any."""
    if not isinstance(provider, HeldStreamProvider):
        return None
    return HeldStreamPump(uow, provider, executions.read_stream)
