"""The aiohttp application: middlewares, routes, OpenAPI, and the container's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware
from dependency_injector import providers

from entrypoints import web as web_pages
from entrypoints.container import Container, resolve
from entrypoints.process.upkeep import expire_uploads_forever, purge_forever

from . import (
    openapi,
    routes_api_keys,
    routes_auth,
    routes_callbacks,
    routes_catalog,
    routes_credits,
    routes_events,
    routes_executions,
    routes_files,
    routes_health,
    routes_marketplace,
    routes_metrics,
    routes_studio,
    routes_uploads,
    routes_webhooks,
)
from .auth import authenticated
from .boundary import boundary_middleware
from .middleware import (
    cors_middleware,
    error_middleware,
    request_log_middleware,
)
from .rate_limits import add_rate_headers, address_limit_middleware
from .routing import SERVICES, Route, Services
from .schemas_executions import ExecutionDocuments

log = logging.getLogger("tarsify.http")

CONTAINER = web.AppKey("container", Container)
RECONCILER_TASK = web.AppKey("reconciler_task", asyncio.Task[None])
PURGE_TASK = web.AppKey("purge_task", asyncio.Task[None])
UPLOAD_SWEEP_TASK = web.AppKey("upload_sweep_task", asyncio.Task[None])
DELIVERY_TASK = web.AppKey("webhook_delivery_task", asyncio.Task[None])
HELD_STREAMS_TASK = web.AppKey("held_streams_task", asyncio.Task[None])
# Beyond the webhook timeout, what recording a sent attempt may take while stopping.
DRAIN_MARGIN_S = 5.0
TASK_KEYS = {
    "tarsify-reconciler": RECONCILER_TASK,
    "tarsify-purge": PURGE_TASK,
    "tarsify-upload-sweep": UPLOAD_SWEEP_TASK,
    "tarsify-webhook-delivery": DELIVERY_TASK,
    "tarsify-held-streams": HELD_STREAMS_TASK,
}

# One module per resource; this order is the OpenAPI document's.
ROUTES: list[Route] = [
    *routes_health.ROUTES,
    *routes_auth.ROUTES,
    *routes_catalog.ROUTES,
    *routes_studio.ROUTES,
    *routes_marketplace.ROUTES,
    *routes_executions.ROUTES,
    *routes_events.ROUTES,
    *routes_webhooks.ROUTES,
    *routes_api_keys.ROUTES,
    *routes_callbacks.ROUTES,
    *routes_credits.ROUTES,
    *routes_uploads.ROUTES,
]


async def _services(container: Container) -> Services:
    marketplace = await resolve(container.marketplace_service)
    return Services(
        settings=container.settings(),
        accounts=await resolve(container.account_service),
        catalog=await resolve(container.catalog_service),
        studio=await resolve(container.studio_service),
        studio_runs=await resolve(container.studio_runs),
        marketplace=marketplace,
        executions=await resolve(container.execution_service),
        api_keys=await resolve(container.api_key_service),
        verifier=await resolve(container.identity_verifier),
        admins=await resolve(container.admin_policy),
        health=await resolve(container.health_check),
        credits=await resolve(container.credits_service),
        callbacks=await resolve(container.callback_urls),
        blobs=await resolve(container.blob_store),
        file_urls=await resolve(container.file_url_signer),
        files=await resolve(container.output_files),
        uploads=await resolve(container.upload_service),
        consumer_webhooks=await resolve(container.consumer_webhooks),
        watcher=await resolve(container.execution_watcher),
        run_limit=await resolve(container.run_rate_limiter),
        anon_limit=await resolve(container.anon_rate_limiter),
        trusted_proxies=container.settings().server.trusted_proxy_networks,
    )


@dataclass(slots=True)
class Background:
    """The background tasks of a process, and how to stop each: the ones in ``stops``
    finish the work under way when asked (within ``grace_s``), the others are cancelled."""

    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stops: dict[asyncio.Task[None], Callable[[], None]] = field(default_factory=dict)
    grace_s: float = 0.0


async def start_background(container: Container) -> Background:
    """The reconciler (with the file retention sweep and the sweep of expired uploads)
    and the webhook delivery worker, as the settings ask; in every process that sends
    jobs, the reader of the jobs it holds open (when a provider holds any)."""
    settings = container.settings()
    background = Background()
    pump = await resolve(container.held_stream_pump)
    if pump is not None:
        background.tasks.append(asyncio.create_task(pump.run(), name="tarsify-held-streams"))
    if settings.engine.reconciler_enabled:
        reconciler = await resolve(container.reconciler)
        background.tasks.append(
            asyncio.create_task(
                reconciler.run_forever(settings.engine.reconciler_interval),
                name="tarsify-reconciler",
            )
        )
        upkeep = await resolve(container.file_upkeep)
        background.tasks.append(
            asyncio.create_task(expire_uploads_forever(upkeep), name="tarsify-upload-sweep")
        )
        if settings.files.retention_days is not None:
            background.tasks.append(
                asyncio.create_task(
                    purge_forever(upkeep, settings.files.retention_days), name="tarsify-purge"
                )
            )
    if settings.webhooks.delivery_enabled:
        # Webhook bodies are this layer's document of the execution (see the container).
        container.execution_documents.override(
            providers.Singleton(ExecutionDocuments, container.output_files)
        )
        deliverer = await resolve(container.webhook_deliverer)
        task = asyncio.create_task(
            deliverer.run_forever(settings.webhooks.delivery_interval),
            name="tarsify-webhook-delivery",
        )
        background.tasks.append(task)
        background.stops[task] = deliverer.stop
        # A claimed attempt is sent (bounded by the timeout) and then recorded.
        background.grace_s = settings.webhooks.timeout + DRAIN_MARGIN_S
    return background


async def stop_background(background: Background) -> None:
    """Stop the background tasks and wait for them to end: the ones that can finish
    their work under way are given ``grace_s`` to, the others are cancelled."""
    for task in background.tasks:
        stop = background.stops.get(task)
        if stop is None:
            task.cancel()
        else:
            stop()
    draining = [task for task in background.tasks if task in background.stops]
    if draining:
        _, late = await asyncio.wait(draining, timeout=background.grace_s)
        for task in late:
            task.cancel()
    for task in background.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the container's resources, resolve the services, run the background work."""
    container = app[CONTAINER]
    background = Background()
    try:
        await resolve(container.init_resources)
        app[SERVICES] = await _services(container)
        app[routes_metrics.METRICS] = await resolve(container.metrics)
        app[routes_metrics.EXECUTION_STATS] = await resolve(container.execution_stats)
        background = await start_background(container)
        for task in background.tasks:
            app[TASK_KEYS[task.get_name()]] = task
        yield
    finally:
        await stop_background(background)
        await resolve(container.shutdown_resources)


def create_app(container: Container) -> web.Application:
    """The HTTP application over ``container`` (its resources open on startup)."""
    settings = container.settings()
    settings.warn_if_insecure()
    middlewares: list[Middleware] = [request_log_middleware]
    if settings.server.cors_origin_list:
        middlewares.append(cors_middleware(settings.server.cors_origin_list))
    middlewares.extend((error_middleware, boundary_middleware, address_limit_middleware))
    app = web.Application(middlewares=middlewares, client_max_size=settings.server.max_body_bytes)
    app[CONTAINER] = container
    app.on_response_prepare.append(add_rate_headers)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, authenticated(route))
    routes_files.install(app)
    routes_events.install(app, settings.events.max_streams_per_consumer)
    openapi.install(app, ROUTES, settings.server.public_url)
    web_pages.install(app, demo_sign_in=settings.auth.demo_sign_in)
    routes_metrics.install(app)
    app.cleanup_ctx.append(_lifecycle)
    return app
