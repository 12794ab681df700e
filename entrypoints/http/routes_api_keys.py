"""Consumer API key routes: create (the key is shown once), list, revoke.

They accept a consumer token or a key, like every consumer route.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from aiohttp import web
from pydantic import StringConstraints

from tarsify.domain.api_keys import NAME_MAX_CHARS, ApiKey

from .envelope import ok, ok_page
from .params import LIST_PARAMS, body, page_request, path_id
from .routing import Auth, Caller, Route, services
from .schemas import RequestModel, Timestamp, View


class ApiKeyCreate(RequestModel):
    """Create an API key (consumer): a name to recognise it by."""

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_CHARS)
    ]


class ApiKeyView(View):
    """An API key as listed: never the key, only its first characters (``prefix``)."""

    id: uuid.UUID
    name: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None


class CreatedApiKeyView(ApiKeyView):
    """A new API key, with the secret ``key``: this is the only answer that shows it."""

    key: str


class RevokedApiKeyView(ApiKeyView):
    """An API key that has just been revoked."""

    revoked_at: Timestamp


def _fields(api_key: ApiKey) -> dict[str, Any]:
    """What every view of a key shows."""
    return {
        "id": api_key.id,
        "name": api_key.name,
        "prefix": api_key.prefix,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
    }


async def create_api_key(request: web.Request, caller: Caller) -> web.Response:
    """A new key for the caller; 201 with the key, shown this once."""
    owner = caller.account_id
    data = await body(request, ApiKeyCreate)
    created = await services(request).api_keys.create(owner, data.name)
    view = CreatedApiKeyView(**_fields(created.api_key), key=created.secret)
    return ok(view, status=201)


async def list_api_keys(request: web.Request, caller: Caller) -> web.Response:
    """The caller's keys that still work, newest first."""
    owner = caller.account_id
    page_req = page_request(request)
    page = await services(request).api_keys.list(owner, page_req)
    items = [ApiKeyView(**_fields(k)) for k in page.items]
    return ok_page(page, items, page_req.limit)


async def revoke_api_key(request: web.Request, caller: Caller) -> web.Response:
    """Revoke one of the caller's keys; it stops working at once."""
    owner = caller.account_id
    revoked = await services(request).api_keys.revoke(owner, path_id(request))
    view = RevokedApiKeyView(**_fields(revoked) | {"revoked_at": revoked.revoked_at})
    return ok(view)


_KEYS = "/api/consumer/api-keys"

ROUTES = [
    Route(
        "POST",
        _KEYS,
        create_api_key,
        "Create an API key",
        Auth.CONSUMER,
        CreatedApiKeyView,
        ApiKeyCreate,
        status=201,
        tag="consumer",
        errors=("ERR_3004",),
    ),
    Route(
        "GET",
        _KEYS,
        list_api_keys,
        "List own API keys",
        Auth.CONSUMER,
        ApiKeyView,
        many=True,
        params=LIST_PARAMS,
        tag="consumer",
    ),
    Route(
        "DELETE",
        _KEYS + "/{id}",
        revoke_api_key,
        "Revoke an own API key",
        Auth.CONSUMER,
        RevokedApiKeyView,
        tag="consumer",
        errors=("ERR_3001",),
    ),
]
