"""Registration and "who am I" for developers and consumers."""

from __future__ import annotations

from aiohttp import web

from .envelope import ok
from .params import body
from .routing import Auth, Caller, Route, services
from .schemas_auth import (
    ConsumerView,
    DeveloperView,
    RegisterRequest,
    consumer_view,
    developer_view,
)


async def register_developer(request: web.Request, caller: Caller) -> web.Response:
    """Create the developer row for this token (uid and email from the token)."""
    identity = caller.identity
    data = await body(request, RegisterRequest, empty_ok=True)
    developer = await services(request).accounts.register_developer(identity, data.name)
    return ok(developer_view(developer), status=201)


async def developer_me(request: web.Request, caller: Caller) -> web.Response:
    """The developer row of this token."""
    identity = caller.identity
    developer = await services(request).accounts.get_developer(identity)
    return ok(developer_view(developer))


async def register_consumer(request: web.Request, caller: Caller) -> web.Response:
    """Create the consumer row for this token (uid and email from the token)."""
    identity = caller.identity
    data = await body(request, RegisterRequest, empty_ok=True)
    consumer = await services(request).accounts.register_consumer(identity, data.name)
    return ok(consumer_view(consumer), status=201)


async def consumer_me(request: web.Request, caller: Caller) -> web.Response:
    """The consumer row of this token."""
    identity = caller.identity
    consumer = await services(request).accounts.get_consumer(identity)
    return ok(consumer_view(consumer))


ROUTES = [
    Route(
        "POST",
        "/api/developer/auth/register",
        register_developer,
        "Register as a developer",
        Auth.DEVELOPER,
        DeveloperView,
        RegisterRequest,
        status=201,
        tag="developer",
        errors=("ERR_1005",),
        registered=False,
    ),
    Route(
        "GET",
        "/api/developer/auth/me",
        developer_me,
        "The calling developer",
        Auth.DEVELOPER,
        DeveloperView,
        tag="developer",
        errors=("ERR_1004",),
        operation_id="getDeveloperMe",
    ),
    Route(
        "POST",
        "/api/consumer/auth/register",
        register_consumer,
        "Register as a consumer",
        Auth.CONSUMER,
        ConsumerView,
        RegisterRequest,
        status=201,
        tag="consumer",
        errors=("ERR_1005",),
        registered=False,
    ),
    Route(
        "GET",
        "/api/consumer/auth/me",
        consumer_me,
        "The calling consumer",
        Auth.CONSUMER,
        ConsumerView,
        tag="consumer",
        errors=("ERR_1004",),
        operation_id="getConsumerMe",
    ),
]
