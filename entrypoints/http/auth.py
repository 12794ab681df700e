"""Who is calling: bearer token -> identity for the route's audience -> account row id.

The app wraps every route's handler with ``authenticated``: the route's declared ``auth``
is enforced there, once, and the handler receives the resolved ``Caller``.
"""

from __future__ import annotations

import re

from aiohttp import web

from tarsify.domain.errors import AuthenticationRequired, InvalidToken, UserNotRegistered
from tarsify.domain.models import Identity
from tarsify.ports.identity import Audience

from .boundary import check_identity
from .routing import ANONYMOUS, Auth, Caller, Handler, Route, services

# RFC 6750 b64token: what any bearer token (a JWT, a Firebase ID token) is made of.
TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Where a valid token of each audience without an account registers.
REGISTER_ROUTES = {
    Audience.CONSUMERS: "POST /api/consumer/auth/register",
    Audience.DEVELOPERS: "POST /api/developer/auth/register",
}


def not_registered(audience: Audience) -> UserNotRegistered:
    """``ERR_1004`` naming the route that registers a user of ``audience``."""
    route = REGISTER_ROUTES[audience]
    return UserNotRegistered(
        f"User not registered: register first with {route}", details={"register": route}
    )


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>``; ``AuthenticationRequired`` otherwise.

    A token outside RFC 6750's token characters (control or undecodable bytes included)
    is an ``InvalidToken``: no verifier could accept it.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise AuthenticationRequired(
            "Missing or malformed Authorization header; expected 'Bearer <token>'"
        )
    if not TOKEN_RE.fullmatch(token):
        raise InvalidToken("Malformed token")
    return token


async def identity(request: web.Request, audience: Audience) -> Identity:
    """The verified identity of the caller on ``audience``'s routes."""
    token = bearer_token(request)
    return check_identity(await services(request).verifier.verify(token, audience))


async def resolve_caller(request: web.Request, auth: Auth, *, registered: bool) -> Caller:
    """Enforce ``auth`` on ``request`` and say who is calling.

    Admin routes need a developer-audience identity listed in ADMIN_UIDS (``NotAdmin``
    otherwise). Consumer and developer routes need an identity of their audience and,
    when ``registered``, its row (``UserNotRegistered`` naming the audience's register
    route otherwise; the id is cached).
    """
    if auth is Auth.NONE:
        return ANONYMOUS
    svc = services(request)
    audience = Audience.CONSUMERS if auth is Auth.CONSUMER else Audience.DEVELOPERS
    found = await identity(request, audience)
    if auth is Auth.ADMIN:
        svc.admins.require_admin(found.uid)
        return Caller(found)
    if not registered:
        return Caller(found)
    try:
        if auth is Auth.CONSUMER:
            return Caller(found, await svc.accounts.consumer_id(found))
        return Caller(found, await svc.accounts.developer_id(found))
    except UserNotRegistered:
        raise not_registered(audience) from None


def authenticated(route: Route) -> Handler:
    """The aiohttp handler of ``route``: its auth first, then its handler with the caller."""
    handler, auth, registered = route.handler, route.auth, route.registered
    if auth is Auth.NONE:

        async def open_route(request: web.Request) -> web.StreamResponse:
            return await handler(request, ANONYMOUS)

        return open_route

    async def guarded(request: web.Request) -> web.StreamResponse:
        return await handler(request, await resolve_caller(request, auth, registered=registered))

    return guarded
