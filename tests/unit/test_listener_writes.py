"""What each listener plans to write about a change, and a change no listener writes on
is a whole change with nothing to follow (one autocommitted statement where the store
can)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from adapters.memory.clock import ManualClock
from adapters.memory.feed import InProcessFeed
from adapters.memory.uow import MemoryStore
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus as S
from tarsify.domain.run_request import RunRequest
from tarsify.domain.webhooks import ExecutionWebhook, WebhookFilter, WebhookRequest
from tarsify.services.engine.changes import store_change
from tarsify.services.engine.credit_listener import CreditsListener
from tarsify.services.engine.feed_listener import FeedListener
from tarsify.services.engine.listeners import Listeners
from tarsify.services.engine.webhook_listener import WebhookListener
from tests.unit.test_execution_aggregate import T0, fresh
from tests.unit.world import make_world


def change(before: S, after: S, price: int = 0) -> tuple[Execution, Execution]:
    first = fresh(status=before, price=price)
    return first, dataclasses.replace(first, status=after)


CREDITS = CreditsListener(ManualClock())
NO_READS = MemoryStore().unit_of_work


class Subscribed:
    """Reads that find, for any execution, a webhook that wants every event."""

    def __call__(self) -> Subscribed:
        return self

    async def __aenter__(self) -> Subscribed:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    @property
    def webhooks(self) -> Subscribed:
        return self

    async def get_subscription(self, execution_id: uuid.UUID) -> ExecutionWebhook:
        return ExecutionWebhook(
            execution_id, uuid.uuid4(), "https://hooks.example/x", ["start", "completed"], T0
        )


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
async def test_credits_write_when_a_priced_execution_ends(
    before: S, after: S, price: int, writes: bool
) -> None:
    planned = await CREDITS.plan_change(NO_READS, *change(before, after, price))
    assert (planned is not None) is writes


@pytest.mark.parametrize(("price", "writes"), [(5, True), (0, False)])
async def test_credits_hold_only_a_priced_run(price: int, writes: bool) -> None:
    run = RunRequest(uuid.uuid4(), "a-model", {"prompt": "x"})
    planned = await CREDITS.plan_create(fresh(price=price), None, run)  # type: ignore[arg-type]
    assert (planned is not None) is writes


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
async def test_webhooks_write_when_an_event_the_webhook_wants_happens(
    before: S, after: S, writes: bool
) -> None:
    hooks = WebhookListener(ManualClock())
    planned = await hooks.plan_change(Subscribed(), *change(before, after))  # type: ignore[arg-type]
    assert (planned is not None) is writes


async def test_the_feed_never_writes_and_announces_once_committed() -> None:
    feed = InProcessFeed()
    listener = FeedListener(feed)
    before, after = change(S.RUNNING, S.COMPLETED, 5)
    assert await listener.plan_change(NO_READS, before, after) is None
    after.version = 8
    async with feed.subscribe(after.id) as subscription:
        await listener.committed(after)
        assert await subscription.wait(0.1) == 8


class Spy:
    """A factory of units of work that notes, for each one opened, the number of
    follow-ups its compare-and-set was given (None: it made none)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.opened: list[int | None] = []

    def __call__(self) -> Any:
        uow, spy = self._store.unit_of_work(), self

        class Watched:
            async def __aenter__(self) -> Any:
                entered = await uow.__aenter__()
                spy.opened.append(None)
                update = entered.executions.update

                async def counted(execution: Execution, *, then: Any = None) -> bool:
                    spy.opened[-1] = None if then is None else len(then)
                    return await update(execution, then=then)

                entered.executions.update = counted  # type: ignore[method-assign]
                return entered

            async def __aexit__(self, *exc: Any) -> None:
                await uow.__aexit__(*exc)

        return Watched()


def to(status: S) -> Any:
    def decide(execution: Execution) -> bool:
        execution.status = status
        return True

    return decide


async def test_a_change_no_listener_writes_on_is_a_whole_change_with_nothing_to_follow() -> None:
    clock = ManualClock()
    listeners = Listeners([CreditsListener(clock), WebhookListener(clock)])
    w = await make_world(clock, listeners=listeners)
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}))
    execution_id = result.view.execution.id
    spy = Spy(w.store)
    # Another process's listeners (they did not see the run made).
    elsewhere = Listeners([CreditsListener(clock), WebhookListener(clock)])
    await store_change(spy, elsewhere, execution_id, to(S.QUEUED))  # no event
    await store_change(spy, elsewhere, execution_id, to(S.RUNNING))  # started
    await store_change(spy, elsewhere, execution_id, to(S.COMPLETED))  # completed
    # Each change reads the execution first (a unit of work with no compare-and-set).
    # The start and the end make webhook events happen, but the run asked for no
    # webhook: the first of them reads that, and neither has anything to follow.
    assert spy.opened == [None, 0, None, None, 0, None, 0]
    # In the process that made the run, no change needs that read.
    spy.opened.clear()
    second = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "y"}))
    await store_change(spy, listeners, second.view.execution.id, to(S.COMPLETED))
    assert spy.opened == [None, 0]


async def test_a_change_with_a_webhook_to_tell_has_its_event_to_follow() -> None:
    clock = ManualClock()
    listeners = Listeners([CreditsListener(clock), WebhookListener(clock)])
    w = await make_world(clock, listeners=listeners)
    asked = WebhookRequest("https://hooks.example/x", (WebhookFilter.COMPLETED,))
    result = await w.executions.run(
        RunRequest(w.alice.id, w.model.slug, {"prompt": "x"}, webhook=asked)
    )
    execution_id = result.view.execution.id
    spy = Spy(w.store)
    await store_change(spy, listeners, execution_id, to(S.RUNNING))  # not asked for
    await store_change(spy, listeners, execution_id, to(S.COMPLETED))  # asked for
    # Each: the execution, the run's webhook, the change (the event read with the
    # webhook follows the completion).
    assert spy.opened == [None, None, 0, None, None, 1]
    async with w.store.unit_of_work() as uow:
        events = await uow.webhooks.list_events(execution_id)
    assert [str(e.event_type) for e in events] == ["execution.completed"]
