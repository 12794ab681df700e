"""The aiohttp application: middlewares, routes, OpenAPI, and the container's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Middleware

from entrypoints import web as web_pages
from entrypoints.container import Container, resolve
from entrypoints.upkeep import purge_forever

from . import (
    openapi,
    routes_admin,
    routes_api_keys,
    routes_auth,
    routes_consumer,
    routes_consumer_webhooks,
    routes_credits,
    routes_developer,
    routes_events,
    routes_files,
    routes_health,
    routes_marketplace,
    routes_metrics,
    routes_webhooks,
)
from .auth import authenticated
from .boundary import boundary_middleware
from .middleware import (
    access_log_middleware,
    cors_middleware,
    error_middleware,
    request_id_middleware,
)
from .routing import SERVICES, Route, Services

log = logging.getLogger("tarsify.http")

CONTAINER = web.AppKey("container", Container)
RECONCILER_TASK = web.AppKey("reconciler_task", asyncio.Task[None])
PURGE_TASK = web.AppKey("purge_task", asyncio.Task[None])
DELIVERY_TASK = web.AppKey("webhook_delivery_task", asyncio.Task[None])
TASK_KEYS = {
    "tarsify-reconciler": RECONCILER_TASK,
    "tarsify-purge": PURGE_TASK,
    "tarsify-webhook-delivery": DELIVERY_TASK,
}

ROUTES: list[Route] = [
    *routes_health.ROUTES,
    *routes_auth.ROUTES,
    *routes_admin.ROUTES,
    *routes_developer.ROUTES,
    *routes_marketplace.ROUTES,
    *routes_consumer.ROUTES,
    *routes_events.ROUTES,
    *routes_consumer_webhooks.ROUTES,
    *routes_api_keys.ROUTES,
    *routes_webhooks.ROUTES,
    *routes_credits.ROUTES,
]


async def _services(container: Container) -> Services:
    marketplace = await resolve(container.marketplace_service)
    return Services(
        settings=container.settings(),
        accounts=await resolve(container.account_service),
        catalog=await resolve(container.catalog_service),
        studio=await resolve(container.studio_service),
        marketplace=marketplace,
        executions=await resolve(container.execution_service),
        api_keys=await resolve(container.api_key_service),
        verifier=await resolve(container.identity_verifier),
        admins=await resolve(container.admin_policy),
        health=await resolve(container.health_check),
        credits=await resolve(container.credits_service),
        webhooks=await resolve(container.webhook_urls),
        blobs=await resolve(container.blob_store),
        file_urls=await resolve(container.file_url_signer),
        files=await resolve(container.output_files),
        consumer_webhooks=await resolve(container.consumer_webhooks),
        watcher=await resolve(container.execution_watcher),
    )


async def start_background(container: Container) -> list[asyncio.Task[None]]:
    """The reconciler (with the file retention sweep) and the webhook delivery worker,
    as the settings ask."""
    settings = container.settings()
    tasks = []
    if settings.reconciler_enabled:
        reconciler = await resolve(container.reconciler)
        tasks.append(
            asyncio.create_task(
                reconciler.run_forever(settings.reconciler_interval), name="tarsify-reconciler"
            )
        )
        if settings.file_retention_days is not None:
            upkeep = await resolve(container.file_upkeep)
            tasks.append(
                asyncio.create_task(
                    purge_forever(upkeep, settings.file_retention_days), name="tarsify-purge"
                )
            )
    if settings.webhook_delivery_enabled:
        deliverer = await resolve(container.webhook_deliverer)
        tasks.append(
            asyncio.create_task(
                deliverer.run_forever(settings.webhook_delivery_interval),
                name="tarsify-webhook-delivery",
            )
        )
    return tasks


async def stop_background(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the background tasks and wait for them to end."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the container's resources, resolve the services, run the background work."""
    container = app[CONTAINER]
    tasks: list[asyncio.Task[None]] = []
    try:
        await resolve(container.init_resources)
        app[SERVICES] = await _services(container)
        app[routes_metrics.METRICS] = await resolve(container.metrics)
        app[routes_metrics.EXECUTION_STATS] = await resolve(container.execution_stats)
        tasks = await start_background(container)
        for task in tasks:
            app[TASK_KEYS[task.get_name()]] = task
        yield
    finally:
        await stop_background(tasks)
        await resolve(container.shutdown_resources)


def create_app(container: Container) -> web.Application:
    """The HTTP application over ``container`` (its resources open on startup)."""
    settings = container.settings()
    settings.warn_if_insecure()
    middlewares: list[Middleware] = [
        request_id_middleware,
        access_log_middleware,
    ]
    if settings.cors_origin_list:
        middlewares.append(cors_middleware(settings.cors_origin_list))
    middlewares.extend((error_middleware, boundary_middleware))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app[CONTAINER] = container
    for route in ROUTES:
        app.router.add_route(route.method, route.path, authenticated(route))
    routes_files.install(app)
    openapi.install(app, ROUTES, settings.public_url)
    web_pages.install(app, demo_sign_in=settings.demo_sign_in)
    routes_metrics.install(app)
    app.cleanup_ctx.append(_lifecycle)
    return app
