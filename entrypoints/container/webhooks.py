"""Webhook wiring: provider callback URLs, the sender and delivery schedule of consumers'
webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.webhooks.destinations import DestinationGuard
from adapters.webhooks.sender import HttpWebhookSender
from entrypoints.callbacks import CallbackUrls
from entrypoints.config import Settings
from tarsify.services.webhook_delivery import DeliverySettings


def make_callback_urls(settings: Settings) -> CallbackUrls | None:
    """Per-execution provider callback URLs when PUBLIC_BASE_URL is set; None disables
    provider callbacks."""
    if not settings.server.public_base_url:
        return None
    return CallbackUrls(settings.server.public_base_url, settings.webhook_signing_secret)


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
