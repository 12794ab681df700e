"""Consumers' webhook routes: the signing secret, its rotation, an execution's log."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.errors import NotFound
from tarsify.services.webhooks import ConsumerWebhooks

from .envelope import ok, ok_list
from .params import path_id
from .routing import Auth, Caller, Route, services
from .schemas_webhooks import WebhookDeliveryView, WebhookSecretView, delivery_view


def _webhooks(request: web.Request) -> ConsumerWebhooks:
    found = services(request).consumer_webhooks
    if found is None:  # an app built without webhook support
        raise NotFound("Webhooks are not available on this server")
    return found


async def get_webhook_secret(request: web.Request, caller: Caller) -> web.Response:
    """The consumer's signing secret, made on first read."""
    owner = caller.account_id
    return ok(WebhookSecretView(secret=await _webhooks(request).secret(owner)))


async def rotate_webhook_secret(request: web.Request, caller: Caller) -> web.Response:
    """A new signing secret replaces the old one at once."""
    owner = caller.account_id
    return ok(WebhookSecretView(secret=await _webhooks(request).rotate(owner)))


async def list_webhook_deliveries(request: web.Request, caller: Caller) -> web.Response:
    """Every attempt to deliver the execution's webhook events, oldest first."""
    owner = caller.account_id
    lines = await _webhooks(request).deliveries(owner, path_id(request))
    return ok_list([delivery_view(line) for line in lines])


_SECRET = "/api/consumer/webhooks/secret"

ROUTES = [
    Route(
        "GET",
        _SECRET,
        get_webhook_secret,
        "The webhook signing secret",
        Auth.CONSUMER,
        WebhookSecretView,
        tag="webhooks",
    ),
    Route(
        "POST",
        _SECRET + "/rotate",
        rotate_webhook_secret,
        "Replace the webhook signing secret",
        Auth.CONSUMER,
        WebhookSecretView,
        tag="webhooks",
    ),
    Route(
        "GET",
        "/api/consumer/executions/{id}/webhook-deliveries",
        list_webhook_deliveries,
        "Webhook delivery attempts of an own execution",
        Auth.CONSUMER,
        WebhookDeliveryView,
        many=True,
        paged=False,
        tag="webhooks",
        errors=("ERR_5505",),
    ),
]
