"""The aiohttp application: middlewares, routes, OpenAPI, and the container's lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Middleware

from entrypoints.container import Container, resolve

from . import (
    openapi,
    routes_admin,
    routes_api_keys,
    routes_auth,
    routes_consumer,
    routes_developer,
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

ROUTES: list[Route] = [
    *routes_health.ROUTES,
    *routes_auth.ROUTES,
    *routes_admin.ROUTES,
    *routes_developer.ROUTES,
    *routes_marketplace.ROUTES,
    *routes_consumer.ROUTES,
    *routes_api_keys.ROUTES,
    *routes_webhooks.ROUTES,
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
        webhooks=await resolve(container.webhook_urls),
        blobs=await resolve(container.blob_store),
        file_urls=await resolve(container.file_url_signer),
    )


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the container's resources, resolve the services, run the reconciler."""
    container = app[CONTAINER]
    settings = container.settings()
    try:
        await resolve(container.init_resources)
        app[SERVICES] = await _services(container)
        app[routes_metrics.METRICS] = await resolve(container.metrics)
        app[routes_metrics.EXECUTION_STATS] = await resolve(container.execution_stats)
        if settings.reconciler_enabled:
            reconciler = await resolve(container.reconciler)
            app[RECONCILER_TASK] = asyncio.create_task(
                reconciler.run_forever(settings.reconciler_interval), name="tarsify-reconciler"
            )
        yield
    finally:
        task = app.get(RECONCILER_TASK)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await resolve(container.shutdown_resources)


def create_app(container: Container) -> web.Application:
    """The HTTP application over ``container`` (its resources open on startup)."""
    settings = container.settings()
    settings.warn_if_insecure()
    middlewares: list[Middleware] = [
        request_id_middleware,
        access_log_middleware,
        routes_metrics.http_metrics_middleware,
    ]
    if settings.cors_origin_list:
        middlewares.append(cors_middleware(settings.cors_origin_list))
    middlewares.extend((error_middleware, boundary_middleware))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app[CONTAINER] = container
    for route in ROUTES:
        app.router.add_route(route.method, route.path, authenticated(route))
    routes_files.install(app)
    openapi.install(app, ROUTES)
    routes_metrics.install(app)
    app.cleanup_ctx.append(_lifecycle)
    return app
