"""The composition root: the only module that names concrete adapter classes.

``Container(settings=Settings(...))`` (or ``build_container()``) wires everything from the
settings. Resources (the SQL engine, the RunPod client, the blob store, the downloader) are
opened by ``await container.init_resources()`` and closed by
``await container.shutdown_resources()``; the HTTP app does both in its startup and cleanup
hooks. Tests swap any provider with ``container.<name>.override(providers.Object(fake))``
and ``reset_override()`` afterwards.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Iterator
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.api_keys import CompositeVerifier
from adapters.auth.jwt import JwtVerifier
from adapters.blobs.downloader import HttpDownloader
from adapters.blobs.filesystem import FilesystemBlobStore
from adapters.blobs.memory import MemoryBlobStore
from adapters.blobs.signing import FileUrlSigner
from adapters.clock import SystemClock
from adapters.limits.limiter import LimitsRateLimiter, Strategy
from adapters.memory.feed import InProcessFeed
from adapters.memory.stats import MemoryExecutionStats
from adapters.memory.uow import MemoryHealthCheck, MemoryStore, MemoryUnitOfWork
from adapters.metrics.provider import MeteredGpuProvider
from adapters.metrics.registry import Metrics
from adapters.offload import ThreadOffload
from adapters.patterns.re2 import Re2Patterns
from adapters.runpod.client import RunPodClient
from adapters.runpod.provider import RunPodGpuProvider
from adapters.simulator.engine import SimulatorEngine
from adapters.simulator.provider import SimulatedGpuProvider
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.errors import on_storage_failure
from adapters.sql.feed import PostgresFeed
from adapters.sql.stats import SqlExecutionStats
from adapters.sql.uow import SqlHealthCheck, SqlUnitOfWork
from adapters.webhooks.destinations import DestinationGuard
from adapters.webhooks.sender import HttpWebhookSender
from entrypoints.callbacks import WebhookUrls
from entrypoints.config import FIREBASE_EXTRA_MISSING, Settings
from entrypoints.process.metered_reconciler import MeteredReconciler
from tarsify.domain.api_keys import KeyHasher
from tarsify.domain.policies import AdminPolicy
from tarsify.domain.schema_guard import use_patterns
from tarsify.ports.files import BlobStore
from tarsify.ports.limits import RateLimiter
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.ports.webhooks import ExecutionRenderer
from tarsify.services.accounts import AccountService
from tarsify.services.api_keys import ApiKeyService, ApiKeyVerifier
from tarsify.services.catalog import CatalogService
from tarsify.services.credits import CreditsService
from tarsify.services.engine.credit_listener import CreditSettings
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.listener_table import engine_listeners
from tarsify.services.engine.run_targets import RunTargets
from tarsify.services.engine.settings import EngineSettings
from tarsify.services.events import ExecutionWatcher, WatchSettings
from tarsify.services.file_upkeep import FileUpkeep
from tarsify.services.files import OutputFiles
from tarsify.services.marketplace import MarketplaceService
from tarsify.services.studio import StudioService
from tarsify.services.webhook_delivery import DeliverySettings, WebhookDeliverer
from tarsify.services.webhooks import ConsumerWebhooks

if TYPE_CHECKING:
    from adapters.auth.firebase import FirebaseVerifier

T = TypeVar("T")
log = logging.getLogger("tarsify.container")


async def open_db_engine(settings: Settings) -> AsyncIterator[AsyncEngine | None]:
    """The process's SQL engine, disposed on shutdown; None for a ``memory://`` URL."""
    if settings.database.storage_backend == "memory":
        yield None
        return
    engine = create_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        pooled=settings.database.pooled,
    )
    try:
        yield engine
    finally:
        await engine.dispose()


async def open_runpod_client(settings: Settings) -> AsyncIterator[RunPodClient | None]:
    """One long-lived RunPod client (one connection pool), closed on shutdown."""
    if settings.gpu.provider != "runpod" or settings.gpu.runpod_api_key is None:
        yield None
        return
    client = RunPodClient(
        settings.gpu.runpod_api_key.get_secret_value(), base_url=settings.gpu.runpod_base_url
    )
    try:
        yield client
    finally:
        await client.close()


def open_metrics() -> Iterator[Metrics]:
    """The process's metrics; database failures are counted while it is open."""
    metrics = Metrics()
    stop_counting = on_storage_failure(metrics.count_storage_error)
    try:
        yield metrics
    finally:
        stop_counting()


async def open_rate_limit_store(settings: Settings) -> AsyncIterator[Any]:
    """The store every process's rate limits count in: Redis at REDIS_URL (closed on
    shutdown), or None (each process counts in its own memory)."""
    if settings.rate_limits.redis_url is None:
        yield None
        return
    # Imported here: the Redis client is the optional ``redis`` extra.
    from adapters.limits.limiter import close_storage, redis_storage

    storage = redis_storage(settings.rate_limits.redis_url)
    try:
        yield storage
    finally:
        await close_storage(storage)


def make_rate_limiter(
    name: str, per_minute: int, strategy: Strategy, shared: Any, metrics: Metrics
) -> RateLimiter | None:
    """A limit of ``per_minute`` requests per key, or None when it is 0 (off)."""
    if per_minute == 0:
        return None
    return LimitsRateLimiter(
        name,
        per_minute,
        strategy=strategy,
        shared=shared,
        on_store_error=metrics.count_rate_limit_store_error,
    )


def make_file_url_signer(settings: Settings) -> FileUrlSigner | None:
    """Signer of the URLs of files the service serves itself; None with S3 (presigned)."""
    if settings.files.store == "s3":
        return None
    return FileUrlSigner(settings.file_url_signing_secret, settings.server.public_url)


async def open_blob_store(
    settings: Settings, signer: FileUrlSigner | None
) -> AsyncIterator[BlobStore]:
    """The process's blob store; the S3 client (and its connections) close on shutdown."""
    if settings.files.store == "s3":
        # Imported here: aiobotocore is the optional ``s3`` extra.
        from adapters.blobs.s3 import S3Settings, open_s3_blob_store

        secret = settings.files.s3_secret_access_key
        s3 = S3Settings(
            bucket=settings.files.s3_bucket or "",
            endpoint_url=settings.files.s3_endpoint_url,
            region=settings.files.s3_region,
            access_key_id=settings.files.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
        )
        async with open_s3_blob_store(s3) as store:
            yield store
        return
    assert signer is not None  # make_file_url_signer gives one for every other store
    if settings.files.store == "memory":
        yield MemoryBlobStore(signer)
    else:
        yield FilesystemBlobStore(settings.files.filesystem_root, signer)


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


async def open_downloader(settings: Settings) -> AsyncIterator[HttpDownloader]:
    """The downloader of provider-hosted output files; its session closes on shutdown."""
    downloader = HttpDownloader(
        max_bytes=settings.files.download_max_bytes,
        timeout_s=settings.files.download_timeout,
        allow_private=settings.files.download_allow_private,
    )
    try:
        yield downloader
    finally:
        await downloader.close()


def sql_uow_factory(engine: AsyncEngine) -> UnitOfWorkFactory:
    """A factory of SQL units of work sharing the engine's session factory."""
    return partial(SqlUnitOfWork, session_factory(engine))


def memory_uow_factory(store: MemoryStore) -> UnitOfWorkFactory:
    """A factory of in-memory units of work over one store."""
    return partial(MemoryUnitOfWork, store)


def firebase_verifier(settings: Settings) -> FirebaseVerifier:
    """The Firebase verifier for the two configured projects."""
    # Imported here: firebase-admin is an optional extra (with its Google stack it costs
    # ~10 MB per process and most of an install), which only AUTH_BACKEND=firebase needs.
    try:
        from adapters.auth.firebase import FirebaseVerifier
    except ImportError as exc:
        raise RuntimeError(FIREBASE_EXTRA_MISSING) from exc

    return FirebaseVerifier(
        settings.auth.firebase_consumers_project_id or "",
        settings.auth.firebase_developers_project_id or "",
    )


def key_hasher(settings: Settings) -> KeyHasher:
    """The hasher of API keys, keyed by the settings' pepper."""
    return KeyHasher(settings.auth.api_key_pepper_bytes)


def make_webhook_urls(settings: Settings) -> WebhookUrls | None:
    """Per-execution webhook URLs when PUBLIC_BASE_URL is set; None disables webhooks."""
    if not settings.server.public_base_url:
        return None
    return WebhookUrls(settings.server.public_base_url, settings.webhook_signing_secret)


def make_execution_feed(settings: Settings) -> InProcessFeed | PostgresFeed:
    """How event streams hear of changes: LISTEN/NOTIFY on PostgreSQL; on SQLite (other
    processes cannot announce here) in-process announcements and polling; with
    ``memory://`` (one process) in-process announcements alone."""
    if settings.database.storage_backend == "memory":
        return InProcessFeed()
    if settings.database.url.startswith(("postgres", "postgresql")):
        # LISTEN needs a session: through a transaction pooler, a direct connection.
        listen_url = settings.database.direct_url if settings.database.pooled else None
        if settings.database.pooled and listen_url is None:
            log.warning(
                "feed.polling",
                extra={
                    "hint": "DATABASE_POOLER=transaction without DATABASE_DIRECT_URL: event "
                    "streams poll the database instead of listening"
                },
            )
            return InProcessFeed(poll_s=settings.events.poll_interval)
        return PostgresFeed(
            listen_url or settings.database.url, fallback_poll_s=settings.events.poll_interval
        )
    return InProcessFeed(poll_s=settings.events.poll_interval)


async def run_execution_feed(feed: InProcessFeed | PostgresFeed) -> AsyncIterator[None]:
    """Listen (PostgreSQL) while the container's resources are open."""
    if isinstance(feed, PostgresFeed):
        feed.start()
        try:
            yield None
        finally:
            await feed.close()
        return
    yield None


async def open_webhook_sender(
    settings: Settings, guard: DestinationGuard
) -> AsyncIterator[HttpWebhookSender]:
    """The sender of consumers' webhooks; its connections close on shutdown."""
    sender = HttpWebhookSender(guard, timeout_s=settings.webhooks.timeout)
    try:
        yield sender
    finally:
        await sender.close()


def make_delivery_settings(settings: Settings) -> DeliverySettings:
    """Retry schedule and lease of webhook attempts (the lease outlasts a send), and
    how many attempts may be in flight to one host."""
    return DeliverySettings(
        retry_delays_s=settings.webhooks.retry_delay_list,
        lease_s=max(30.0, 3 * settings.webhooks.timeout),
        per_destination=settings.webhooks.concurrency_per_host,
    )


def make_watch_settings(settings: Settings) -> WatchSettings:
    """Heartbeats of event streams."""
    # A stream with no news reads the execution as a status poll would, no more often
    # than a poll may ask the provider.
    refresh = max(settings.engine.status_poll_min_interval, 1.0)
    return WatchSettings(heartbeat_s=settings.events.heartbeat_seconds, refresh_s=refresh)


def make_credit_settings(settings: Settings) -> CreditSettings:
    """The platform fee taken from the settings."""
    return CreditSettings(platform_fee_percent=settings.engine.platform_fee_percent)


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

    simulator_engine = providers.Singleton(
        SimulatorEngine,
        queue_delay_s=settings.provided.gpu.simulator_queue_seconds,
        run_time_s=settings.provided.gpu.simulator_run_seconds,
    )
    runpod_client = providers.Resource(open_runpod_client, settings)
    gpu_provider = providers.Selector(
        # Not settings.provided.gpu.provider: ``provider`` is an attribute of the getter.
        providers.Callable(attrgetter("gpu.provider"), settings),
        simulator=providers.Singleton(SimulatedGpuProvider, simulator_engine),
        runpod=providers.Singleton(RunPodGpuProvider, runpod_client),
    )
    # What the engine calls: the chosen provider (or a test's override of gpu_provider),
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

    file_upkeep = providers.Singleton(FileUpkeep, uow_factory, output_files, blob_store, clock)

    engine_settings = providers.Singleton(make_engine_settings, settings)
    webhook_urls = providers.Singleton(make_webhook_urls, settings)
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
        webhook_urls,
        output_files,
        execution_listeners,
    )
    account_service = providers.Singleton(AccountService, uow_factory, clock)
    run_targets = providers.Singleton(
        RunTargets, uow_factory, clock, engine_settings.provided.run_target_ttl_s
    )
    catalog_service = providers.Singleton(
        CatalogService, uow_factory, clock, run_targets.provided.forget
    )
    studio_service = providers.Singleton(
        StudioService, uow_factory, clock, run_targets.provided.forget
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
