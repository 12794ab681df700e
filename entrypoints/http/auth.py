"""Who is calling: bearer token -> identity for the route's audience -> account row id."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from tarsify.domain.errors import AuthenticationRequired, InvalidToken
from tarsify.domain.models import Identity
from tarsify.ports import Audience

from .boundary import check_identity
from .routing import services

IDENTITY_KEY = web.RequestKey("identity", Identity)
# RFC 6750 b64token: what any bearer token (a JWT, a Firebase ID token) is made of.
TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


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
    found = check_identity(await services(request).verifier.verify(token, audience))
    request[IDENTITY_KEY] = found
    return found


async def developer_identity(request: web.Request) -> Identity:
    """A developer-audience identity (registered or not)."""
    return await identity(request, Audience.DEVELOPERS)


async def consumer_identity(request: web.Request) -> Identity:
    """A consumer-audience identity (registered or not)."""
    return await identity(request, Audience.CONSUMERS)


async def require_admin(request: web.Request) -> Identity:
    """A developer-audience identity listed in ADMIN_UIDS; ``NotAdmin`` otherwise."""
    found = await developer_identity(request)
    services(request).admins.require_admin(found.uid)
    return found


async def developer_id(request: web.Request) -> uuid.UUID:
    """The registered developer's row id; ``UserNotRegistered`` when not registered."""
    found = await developer_identity(request)
    return await services(request).accounts.developer_id(found)


async def consumer_id(request: web.Request) -> uuid.UUID:
    """The registered consumer's row id; ``UserNotRegistered`` when not registered."""
    found = await consumer_identity(request)
    return await services(request).accounts.consumer_id(found)
