"""The table of what happens in the transaction of every change of an execution.

In order: the credits (a hold when a run is stored, its capture or release at the end),
the webhook outbox (the run's webhook, an event per change it asked for), the event feed
(every change announced to its watchers). The composition root only calls
``engine_listeners`` with the ports and settings they need.
"""

from __future__ import annotations

from tarsify.ports.clock import Clock
from tarsify.ports.feed import ExecutionFeed
from tarsify.services.engine.credit_listener import CreditSettings, CreditsListener
from tarsify.services.engine.feed_listener import FeedListener
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.webhook_listener import WebhookListener


def engine_listeners(
    clock: Clock, feed: ExecutionFeed, credits: CreditSettings | None = None
) -> Listeners:
    """The listeners of every change, in the order they are called."""
    return Listeners([CreditsListener(clock, credits), WebhookListener(clock), FeedListener(feed)])
