"""The delivery worker: sends due webhook events, signed, and records every attempt.

Any number of processes run it on one database. An attempt is *claimed* first — the
event's attempt counter moves on and its next attempt is pushed past a lease, in one
committed transaction that skips rows another claimer holds — and only then sent, so
two processes never send the same attempt. A process that dies after claiming loses
nothing: once the lease is over, the next attempt goes out (at least once). A failed
attempt is retried after the next delay of the schedule; after the last, the event is
FAILED.

Destinations are isolated from each other: a pass starts its attempts and does not wait
for them (the next pass claims again at once), at most ``per_destination`` attempts are
in flight to one host, and a host whose attempts failed (no answer, a timeout or a 5xx)
``circuit_failures`` times in a row is left alone for ``circuit_open_s`` (then tried with
one attempt at a time until one succeeds). An event claimed for a host that is busy or
whose circuit is open is given back unattempted (``release``: its attempt is not
counted) for later, so a hanging receiver holds up only its own deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tarsify.domain.execution import ExecutionView
from tarsify.domain.models import new_id
from tarsify.domain.webhook_rules import sign
from tarsify.domain.webhooks import (
    DEFAULT_RETRY_DELAYS_S,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEvent,
    WebhookEventType,
    retry_delay,
    short_error,
)
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.ports.webhooks import ExecutionRenderer, SendResult, WebhookSender
from tarsify.services.webhooks import stored_secret

log = logging.getLogger("tarsify.webhooks")
USER_AGENT = "Tarsify-Webhooks/1.0"


MAX_CIRCUITS = 10_000  # hosts whose failures are remembered (the oldest are forgotten)
MAX_CHUNKS_SENT = 10_000  # chunks an output event carries at most


@dataclass(slots=True, frozen=True)
class DeliverySettings:
    """Retry schedule (seconds after each failed attempt), how long a claimed attempt is
    reserved for its sender, how many events one pass claims, how many attempts may be
    in flight (to one host, in all), when a host's circuit opens and for how long, and
    how soon an event given back for a busy host is due again."""

    retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S
    lease_s: float = 60.0
    batch: int = 20
    per_destination: int = 4
    max_in_flight: int = 100
    circuit_failures: int = 5
    circuit_open_s: float = 30.0
    busy_delay_s: float = 1.0


def destination(url: str) -> str:
    """The host an event goes to (``host:port``): what concurrency and circuits are per."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    return f"{(parts.hostname or '').lower()}:{port or parts.scheme}"


@dataclass(slots=True)
class _Circuit:
    """A host's failed attempts in a row, and until when it is left alone."""

    failures: int = 0
    open_until: datetime | None = None


class WebhookDeliverer:
    """Claims due events, sends them and records the outcome."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        sender: WebhookSender,
        renderer: ExecutionRenderer,
        settings: DeliverySettings | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._sender = sender
        self._render = renderer
        self._settings = settings or DeliverySettings()
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: Counter[str] = Counter()
        self._circuits: OrderedDict[str, _Circuit] = OrderedDict()

    async def run_once(self) -> int:
        """One pass, waiting for the attempts it started; returns how many events it
        claimed (those given back for a busy or failing host included)."""
        claimed, started = await self._pass()
        if started:
            await asyncio.wait(started)
        return claimed

    async def run_forever(self, interval_s: float) -> None:
        """Pass after pass, until ``stop``; a full batch is followed at once by the next.
        A pass does not wait for its attempts: each ends (and is recorded) on its own."""
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                claimed, _ = await self._pass()
            except asyncio.CancelledError:
                raise
            except Exception:  # a pass that failed (database down) is retried later
                log.exception("webhooks.pass_failed")
                claimed = 0
            if claimed < self._settings.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), interval_s)
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def stop(self) -> None:
        """End ``run_forever`` once the attempts under way are over: every attempt it
        claimed is sent and recorded, so a stopping process sends nothing twice."""
        self._stopping.set()

    @property
    def in_flight(self) -> int:
        """Attempts being made now."""
        return len(self._tasks)

    async def _pass(self) -> tuple[int, list[asyncio.Task[None]]]:
        """Claim due events (as many as there is room for) and start an attempt of each
        whose host may take one; give the others back."""
        room = min(self._settings.batch, self._settings.max_in_flight - len(self._tasks))
        if room <= 0:
            return 0, []
        now = self._clock.now()
        lease_until = now + timedelta(seconds=self._settings.lease_s)
        async with self._uow() as uow:
            events = await uow.webhooks.claim_due(now, lease_until, room)
            await uow.commit()
        started: list[asyncio.Task[None]] = []
        later: list[tuple[WebhookEvent, datetime]] = []
        for event in events:
            host = destination(event.url)
            held_until = self._held_until(host, now)
            if held_until is not None:
                later.append((event, held_until))
                continue
            self._busy[host] += 1
            task = asyncio.create_task(self._attempt_to(host, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started.append(task)
        if later:
            await self._give_back(later)
        return len(events), started

    def _held_until(self, host: str, now: datetime) -> datetime | None:
        """Until when ``host`` takes no new attempt (None: it takes one now)."""
        settings = self._settings
        circuit = self._circuits.get(host)
        limit = settings.per_destination
        if circuit is not None and circuit.failures >= settings.circuit_failures:
            if circuit.open_until is not None and circuit.open_until > now:
                return circuit.open_until
            limit = 1  # half open: one attempt decides
        if self._busy[host] >= limit:
            return now + timedelta(seconds=settings.busy_delay_s)
        return None

    async def _give_back(self, events: list[tuple[WebhookEvent, datetime]]) -> None:
        try:
            async with self._uow() as uow:
                for event, due_at in events:
                    await uow.webhooks.release(event, due_at)
                await uow.commit()
        except Exception:  # their leases end: they are claimed again then
            log.exception("webhooks.release_failed")

    async def _attempt_to(self, host: str, event: WebhookEvent) -> None:
        try:
            result = await self._attempt(event)
        finally:
            self._busy[host] -= 1
            if self._busy[host] <= 0:
                del self._busy[host]
        if result is not None:
            self._note(host, result)

    def _note(self, host: str, result: SendResult) -> None:
        """Count the host's failures in a row; open its circuit when there are enough."""
        if result.status is not None and result.status < 500:
            self._circuits.pop(host, None)  # it answers: healthy, whatever it said
            return
        circuit = self._circuits.pop(host, None) or _Circuit()
        self._circuits[host] = circuit
        while len(self._circuits) > MAX_CIRCUITS:
            self._circuits.popitem(last=False)
        circuit.failures += 1
        if circuit.failures >= self._settings.circuit_failures:
            circuit.open_until = self._clock.now() + timedelta(
                seconds=self._settings.circuit_open_s
            )
            log.warning("webhooks.circuit_open", extra={"host": host})

    async def _attempt(self, event: WebhookEvent) -> SendResult | None:
        """Send the event and record the outcome; the result when the host was tried."""
        try:
            body, secret = await self._prepare(event)
        except Exception as exc:
            # The attempt is claimed: it counts, and it is recorded as failed.
            log.exception("webhooks.prepare_failed", extra={"event_id": str(event.id)})
            result = SendResult(None, f"could not prepare the request: {type(exc).__name__}", 0)
            tried = False
        else:
            tried = True
            timestamp = int(self._clock.now().timestamp())
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": event.webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret, event.webhook_id, timestamp, body),
            }
            result = await self._sender.send(event.url, headers, body)
        try:
            await self._record(event, result)
        except Exception:
            # Unrecorded, the attempt is made again once its lease is over.
            log.exception("webhooks.record_failed", extra={"event_id": str(event.id)})
        return result if tried else None

    async def _prepare(self, event: WebhookEvent) -> tuple[bytes, str]:
        """The body (the execution as its consumer reads it now; for ``output`` while it
        runs, with the output so far: the list of its chunks) and the signing secret."""
        async with self._uow() as uow:
            view = await uow.executions.get_view(event.execution_id)
            if view is None:
                raise LookupError("the execution no longer exists")
            e = view.execution
            if event.event_type is WebhookEventType.OUTPUT and e.chunks and not e.is_terminal:
                chunks = await uow.chunks.after(e.id, 0, MAX_CHUNKS_SENT)
                so_far = dataclasses.replace(e, output_payload=[c.value for c in chunks])
                view = ExecutionView(so_far, view.model_slug, view.model_title)
        data = await self._render(view)
        secret = await stored_secret(self._uow, self._clock, event.consumer_id)
        head = json.dumps({"type": event.event_type.value, "timestamp": _iso(event)})
        return head[:-1].encode() + b',"data":' + data + b"}", secret

    async def _record(self, event: WebhookEvent, result: SendResult) -> None:
        now = self._clock.now()
        next_at = None
        if result.delivered:
            status = DeliveryStatus.DELIVERED
        else:
            delay = retry_delay(event.attempts, self._settings.retry_delays_s)
            status = DeliveryStatus.FAILED if delay is None else DeliveryStatus.RETRYING
            next_at = None if delay is None else now + timedelta(seconds=delay)
        error = None if result.error is None else short_error(result.error)
        delivery = WebhookDelivery(
            new_id(),
            event.id,
            event.execution_id,
            event.attempts,
            status,
            result.status,
            error,
            result.duration_ms,
            now,
            next_at,
        )
        event.status, event.next_attempt_at, event.updated_at = status, next_at, now
        async with self._uow() as uow:
            await uow.webhooks.record(event, delivery)
            await uow.commit()
        log.info(
            "webhooks.attempt",
            extra={
                "event_id": str(event.id),
                "webhook_id": event.webhook_id,
                "attempt": event.attempts,
                "status": status.value,
                "response_status": result.status,
            },
        )


def _iso(event: WebhookEvent) -> str:
    at = event.created_at
    # Rows read back from SQLite are naive; every stored instant is UTC.
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).isoformat()
