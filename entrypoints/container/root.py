"""The container: every long-lived object of a process, wired from the settings by the
factories of the sibling modules (one per concern)."""

from __future__ import annotations

import inspect
from operator import attrgetter
from typing import Any

from dependency_injector import containers, providers

from adapters.auth.api_keys import CompositeVerifier
from adapters.auth.jwt import JwtVerifier
from adapters.clock import SystemClock
from adapters.memory.stats import MemoryExecutionStats, MemoryStudioFigures
from adapters.memory.uow import MemoryHealthCheck, MemoryStore
from adapters.metrics.provider import MeteredGpuProvider
from adapters.patterns.re2 import Re2Patterns
from adapters.providers.simulator.engine import SimulatorEngine
from adapters.sql.stats import SqlExecutionStats, SqlStudioFigures
from adapters.sql.uow import SqlHealthCheck
from adapters.webhooks.destinations import DestinationGuard
from entrypoints.config import Settings
from entrypoints.container.auth import firebase_verifier, key_hasher
from entrypoints.container.engine import (
    make_credit_settings,
    make_engine_settings,
    make_held_stream_pump,
    make_watch_settings,
    open_offload,
)
from entrypoints.container.files import (
    make_file_url_signer,
    make_upload_settings,
    open_blob_store,
    open_downloader,
)
from entrypoints.container.gpu import (
    open_fal_client,
    open_fal_provider,
    open_runpod_client,
    real_providers,
    simulated_providers,
)
from entrypoints.container.limits import make_rate_limiter, open_rate_limit_store
from entrypoints.container.storage import (
    make_execution_feed,
    memory_uow_factory,
    open_db_engine,
    open_metrics,
    run_execution_feed,
    sql_uow_factory,
)
from entrypoints.container.webhooks import (
    make_callback_urls,
    make_delivery_settings,
    open_webhook_sender,
)
from entrypoints.process.metered_reconciler import MeteredReconciler
from tarsify.domain.policies import AdminPolicy
from tarsify.domain.schema_guard import use_patterns
from tarsify.ports.webhooks import ExecutionRenderer
from tarsify.services.accounts import AccountService
from tarsify.services.api_keys import ApiKeyService, ApiKeyVerifier
from tarsify.services.catalog import CatalogService
from tarsify.services.credits import CreditsService
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.listener_table import engine_listeners
from tarsify.services.engine.run_targets import RunTargets
from tarsify.services.events import ExecutionWatcher
from tarsify.services.file_upkeep import FileUpkeep
from tarsify.services.files import OutputFiles
from tarsify.services.input_files import InputFiles
from tarsify.services.marketplace import MarketplaceService
from tarsify.services.studio import StudioService
from tarsify.services.studio_runs import StudioRuns
from tarsify.services.uploads import UploadService
from tarsify.services.webhook_delivery import WebhookDeliverer
from tarsify.services.webhooks import ConsumerWebhooks


class Container(containers.DeclarativeContainer):
    """Every long-lived object of a process, built from ``settings``."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    metrics = providers.Resource(open_metrics)

    db_engine = providers.Resource(open_db_engine, settings)
    rate_limit_store = providers.Resource(open_rate_limit_store, settings)
    # Runs per consumer: a moving window (exact); open routes per address: a fixed
    # window (one counter per request on the hot read paths). adapters/limits says why.
    run_rate_limiter = providers.Singleton(
        make_rate_limiter,
        "run",
        settings.provided.rate_limits.run_per_minute,
        "moving",
        rate_limit_store,
        metrics,
    )
    anon_rate_limiter = providers.Singleton(
        make_rate_limiter,
        "anon",
        settings.provided.rate_limits.anon_per_minute,
        "fixed",
        rate_limit_store,
        metrics,
    )
    memory_store = providers.Singleton(MemoryStore)
    uow_factory = providers.Selector(
        settings.provided.database.storage_backend,
        memory=providers.Singleton(memory_uow_factory, memory_store),
        sql=providers.Singleton(sql_uow_factory, db_engine),
    )
    health_check = providers.Selector(
        settings.provided.database.storage_backend,
        memory=providers.Singleton(MemoryHealthCheck, memory_store),
        sql=providers.Singleton(SqlHealthCheck, db_engine),
    )
    execution_stats = providers.Selector(
        settings.provided.database.storage_backend,
        memory=providers.Singleton(MemoryExecutionStats, memory_store),
        sql=providers.Singleton(SqlExecutionStats, db_engine),
    )
    studio_figures = providers.Selector(
        settings.provided.database.storage_backend,
        memory=providers.Singleton(MemoryStudioFigures, memory_store),
        sql=providers.Singleton(SqlStudioFigures, db_engine),
    )

    simulator_engine = providers.Singleton(
        SimulatorEngine,
        queue_delay_s=settings.provided.gpu.simulator_queue_seconds,
        run_time_s=settings.provided.gpu.simulator_run_seconds,
    )
    runpod_client = providers.Resource(open_runpod_client, settings)
    fal_client = providers.Resource(open_fal_client, settings)
    # The fal adapter holds streams open: a resource, so shutdown drops them.
    fal_provider = providers.Resource(open_fal_provider, fal_client)
    real_gpu_providers = providers.Singleton(real_providers, runpod_client, fal_provider)
    # Each endpoint's provider picks its adapter: every one the simulator, or each real
    # provider with credentials (``runpod`` is the older name of ``real``).
    gpu_provider = providers.Selector(
        # Not settings.provided.gpu.provider: ``provider`` is an attribute of the getter.
        providers.Callable(attrgetter("gpu.provider"), settings),
        simulator=providers.Singleton(simulated_providers, simulator_engine),
        real=real_gpu_providers,
        runpod=real_gpu_providers,
    )
    # What the engine calls: the chosen providers (or a test's override of gpu_provider),
    # counted and timed.
    metered_gpu_provider = providers.Singleton(MeteredGpuProvider, gpu_provider, metrics)

    # Bearer credentials: the identity provider's tokens, and consumers' API keys.
    token_verifier = providers.Selector(
        settings.provided.auth.backend,
        jwt=providers.Singleton(JwtVerifier, settings.provided.auth.jwt_secret),
        firebase=providers.Singleton(firebase_verifier, settings),
    )
    api_key_service = providers.Singleton(
        ApiKeyService, uow_factory, clock, providers.Singleton(key_hasher, settings)
    )
    identity_verifier = providers.Singleton(
        CompositeVerifier, token_verifier, providers.Singleton(ApiKeyVerifier, api_key_service)
    )
    admin_policy = providers.Singleton(AdminPolicy, settings.provided.auth.admin_uid_list)

    file_url_signer = providers.Singleton(make_file_url_signer, settings)
    blob_store = providers.Resource(open_blob_store, settings, file_url_signer)
    downloader = providers.Resource(open_downloader, settings)
    output_files = providers.Singleton(
        OutputFiles, blob_store, downloader, settings.provided.files.url_ttl
    )

    upload_service = providers.Singleton(
        UploadService,
        uow_factory,
        blob_store,
        clock,
        providers.Singleton(make_upload_settings, settings),
    )
    input_files = providers.Singleton(InputFiles, uow_factory, blob_store, clock)
    file_upkeep = providers.Singleton(
        FileUpkeep, uow_factory, output_files, blob_store, clock, upload_service
    )

    engine_settings = providers.Singleton(make_engine_settings, settings)
    callback_urls = providers.Singleton(make_callback_urls, settings)
    # Event streams: each change is announced, in its transaction, on the feed.
    execution_feed = providers.Singleton(make_execution_feed, settings)
    execution_feed_listening = providers.Resource(run_execution_feed, execution_feed)
    webhook_destinations = providers.Singleton(
        DestinationGuard, allow_private=settings.provided.webhooks.allow_private
    )
    # Listeners write, in the transaction of each change, what follows from it (the
    # table is the engine's: tarsify/services/engine/listener_table.py).
    execution_listeners = providers.Singleton(
        engine_listeners,
        clock,
        execution_feed,
        providers.Singleton(make_credit_settings, settings),
    )
    dispatcher = providers.Singleton(
        Dispatcher,
        uow_factory,
        metered_gpu_provider,
        clock,
        engine_settings,
        callback_urls,
        output_files,
        execution_listeners,
        input_files,
    )
    account_service = providers.Singleton(AccountService, uow_factory, clock)
    run_targets = providers.Singleton(
        RunTargets, uow_factory, clock, engine_settings.provided.run_target_ttl_s
    )
    catalog_service = providers.Singleton(
        CatalogService,
        uow_factory,
        clock,
        run_targets.provided.forget,
        providers.Callable(lambda s: s.gpu.reachable_providers(), settings),
    )
    studio_service = providers.Singleton(
        StudioService, uow_factory, clock, run_targets.provided.forget, studio_figures
    )
    marketplace_service = providers.Singleton(MarketplaceService, uow_factory)
    credits_service = providers.Singleton(CreditsService, uow_factory, clock)
    offload = providers.Resource(open_offload, settings)
    execution_service = providers.Singleton(
        ExecutionService,
        uow_factory,
        dispatcher,
        clock,
        engine_settings,
        execution_listeners,
        run_targets,
        offload,
        input_files,
    )
    studio_runs = providers.Singleton(StudioRuns, uow_factory, execution_service)
    held_stream_pump = providers.Singleton(
        make_held_stream_pump, uow_factory, metered_gpu_provider, execution_service
    )
    reconciler = providers.Singleton(
        MeteredReconciler, uow_factory, dispatcher, clock, engine_settings, metrics=metrics
    )
    consumer_webhooks = providers.Singleton(
        ConsumerWebhooks, uow_factory, clock, webhook_destinations
    )
    webhook_sender = providers.Resource(open_webhook_sender, settings, webhook_destinations)
    # Webhook bodies are the execution's document exactly as GET answers it: that
    # representation is the HTTP layer's, which provides it before the delivery worker
    # starts (``entrypoints.http.app.start_background``).
    execution_documents: providers.Dependency[ExecutionRenderer] = providers.Dependency()
    webhook_deliverer = providers.Singleton(
        WebhookDeliverer,
        uow_factory,
        clock,
        webhook_sender,
        execution_documents,
        providers.Singleton(make_delivery_settings, settings),
    )
    execution_watcher = providers.Singleton(
        ExecutionWatcher,
        execution_service,
        execution_feed,
        providers.Singleton(make_watch_settings, settings),
    )


def build_container(settings: Settings | None = None) -> Container:
    """A container for ``settings`` (read from the environment when None).

    Every input schema pattern of the process is matched by RE2 (linear time) from now on.
    """
    use_patterns(Re2Patterns())
    return Container(settings=settings if settings is not None else Settings())


async def resolve(provider: Any) -> Any:
    """The provider's object, awaiting it when an async resource is on its path."""
    value = provider()
    return await value if inspect.isawaitable(value) else value
