"""Consumer API key routes: create (the key is shown once), list, revoke.

They accept a consumer token or a key, like every consumer route.
"""

from __future__ import annotations

from aiohttp import web

from .envelope import ok, ok_page
from .params import LIST_PARAMS, body, page_request, path_id
from .routing import Auth, Caller, Route, services
from .schemas_api_keys import (
    ApiKeyCreate,
    ApiKeyView,
    CreatedApiKeyView,
    RevokedApiKeyView,
    api_key_view,
    created_api_key_view,
    revoked_api_key_view,
)


async def create_api_key(request: web.Request, caller: Caller) -> web.Response:
    """A new key for the caller; 201 with the key, shown this once."""
    owner = caller.account_id
    data = await body(request, ApiKeyCreate)
    created = await services(request).api_keys.create(owner, data.name)
    return ok(created_api_key_view(created), status=201)


async def list_api_keys(request: web.Request, caller: Caller) -> web.Response:
    """The caller's keys that still work, newest first."""
    owner = caller.account_id
    page_req = page_request(request)
    page = await services(request).api_keys.list(owner, page_req)
    return ok_page(page, [api_key_view(k) for k in page.items], page_req.limit)


async def revoke_api_key(request: web.Request, caller: Caller) -> web.Response:
    """Revoke one of the caller's keys; it stops working at once."""
    owner = caller.account_id
    revoked = await services(request).api_keys.revoke(owner, path_id(request))
    return ok(revoked_api_key_view(revoked))


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
