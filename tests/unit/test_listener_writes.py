"""Which changes make a listener write, and a change no listener writes on is stored as
a single write (one autocommitted statement where the store can)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from adapters.memory.clock import ManualClock
from adapters.memory.feed import InProcessFeed
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus as S
from tarsify.domain.run_request import RunRequest
from tarsify.domain.webhooks import WebhookFilter, WebhookRequest
from tarsify.services.engine.changes import store_change
from tarsify.services.engine.credit_listener import CreditsListener
from tarsify.services.engine.feed_listener import FeedListener
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.webhook_listener import WebhookListener
from tests.unit.test_execution_aggregate import fresh
from tests.unit.world import make_world


def change(before: S, after: S, price: int = 0) -> tuple[Execution, Execution]:
    first = fresh(status=before, price=price)
    return first, dataclasses.replace(first, status=after)


CREDITS = CreditsListener(ManualClock())
HOOKS = WebhookListener(ManualClock())


@pytest.mark.parametrize(
    ("before", "after", "price", "writes"),
    [
        (S.RUNNING, S.COMPLETED, 5, True),
        (S.QUEUED, S.CANCELLED, 5, True),
        (S.RUNNING, S.COMPLETED, 0, False),  # nothing was held
        (S.QUEUED, S.RUNNING, 5, False),  # not the end
        (S.COMPLETED, S.COMPLETED, 5, False),  # settled already
    ],
)
def test_credits_write_when_a_priced_execution_ends(
    before: S, after: S, price: int, writes: bool
) -> None:
    assert CREDITS.writes_on(*change(before, after, price)) is writes


@pytest.mark.parametrize(
    ("before", "after", "writes"),
    [
        (S.QUEUED, S.RUNNING, True),  # started
        (S.RUNNING, S.FAILED, True),  # completed
        (S.PENDING, S.QUEUED, False),
        (S.RUNNING, S.RUNNING, False),
        (S.CANCELLED, S.CANCELLED, False),
    ],
)
def test_webhooks_write_when_an_event_happens(before: S, after: S, writes: bool) -> None:
    assert HOOKS.writes_on(*change(before, after)) is writes


def test_the_feed_never_writes() -> None:
    feed = FeedListener(InProcessFeed())
    assert not feed.writes_on(*change(S.RUNNING, S.COMPLETED, 5))


async def test_a_change_no_listener_writes_on_is_a_single_write() -> None:
    clock = ManualClock()
    listeners = Listeners([CreditsListener(clock), WebhookListener(clock)])
    w = await make_world(clock, listeners=listeners)
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    execution_id = result.view.execution.id
    opened: list[bool] = []
    factory = w.store.unit_of_work

    def spy(*, single_write: bool = False) -> Any:
        opened.append(single_write)
        return factory(single_write=single_write)

    def to(status: S) -> Any:
        def decide(execution: Execution) -> bool:
            execution.status = status
            return True

        return decide

    # Another process's listeners (they did not see the run made).
    elsewhere = Listeners([CreditsListener(clock), WebhookListener(clock)])
    await store_change(spy, elsewhere, execution_id, to(S.QUEUED))  # no event
    await store_change(spy, elsewhere, execution_id, to(S.RUNNING))  # started
    await store_change(spy, elsewhere, execution_id, to(S.COMPLETED))  # completed
    # Each change reads the execution first (a plain unit of work). The start and the
    # end make webhook events happen, but the run asked for no webhook: the first of
    # them reads that (a plain unit of work), and both are single writes.
    assert opened == [False, True, False, False, True, False, True]
    # In the process that made the run, no change needs that read.
    opened.clear()
    second = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "y"}))
    await store_change(spy, listeners, second.view.execution.id, to(S.COMPLETED))
    assert opened == [False, True]


async def test_a_change_with_a_webhook_to_tell_is_a_transaction() -> None:
    clock = ManualClock()
    listeners = Listeners([CreditsListener(clock), WebhookListener(clock)])
    w = await make_world(clock, listeners=listeners)
    asked = WebhookRequest("https://hooks.example/x", (WebhookFilter.COMPLETED,))
    result = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, webhook=asked)
    )
    execution_id = result.view.execution.id
    opened: list[bool] = []
    factory = w.store.unit_of_work

    def spy(*, single_write: bool = False) -> Any:
        opened.append(single_write)
        return factory(single_write=single_write)

    def to(status: S) -> Any:
        def decide(execution: Execution) -> bool:
            execution.status = status
            return True

        return decide

    await store_change(spy, listeners, execution_id, to(S.RUNNING))  # not asked for
    await store_change(spy, listeners, execution_id, to(S.COMPLETED))  # asked for
    assert opened == [False, False, True, False, False, False]
    async with factory() as uow:
        events = await uow.webhooks.list_events(execution_id)
    assert [str(e.event_type) for e in events] == ["execution.completed"]
