"""The execution engine on the SQL adapters, shared by the engine's contract tests.

``SqlWorld`` wires ExecutionService, Dispatcher and Reconciler like ``tests/unit/world.py``
but on ``SqlUnitOfWork``; ``Db`` is one migrated database (PostgreSQL, emptied before each
test, or a private copy of a migrated SQLite file), each ``store()`` a new engine, as
another process has. The database fixtures (``db``, ``pg``) are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.memory.clock import ManualClock
from adapters.memory.gpu import FakeGpuProvider
from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.pagination import PageRequest
from tarsify.domain.run_request import RunRequest
from tarsify.ports.provider import JobRequest
from tarsify.services.engine.changes import Decision
from tarsify.services.engine.dispatch import Dispatcher
from tarsify.services.engine.executions import ExecutionService
from tarsify.services.engine.reconciler import Reconciler
from tarsify.services.engine.settings import EngineSettings
from tests.contract.databases import empty_all
from tests.contract.factories import base_model, consumer, developer, endpoint, published
from tests.unit.world import CONFIG, SCHEMA, World

IMAGE = {"images": ["data:image/png;base64,iVBORw0KGgo="], "seed": 7}
BOTH = [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"]
POSTGRES = [pytest.param("postgres", marks=pytest.mark.postgres)]
EAGER = EngineSettings(poll_min_interval_s=0.0)


@dataclass
class SqlStore:
    """What ``World`` needs of a store: a factory of units of work (here SQL ones)."""

    sessions: async_sessionmaker[AsyncSession]

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)


@dataclass
class Db:
    """One migrated database; every ``store()`` is a new engine, as another process has."""

    backend: str
    url: str
    engines: list[AsyncEngine] = field(default_factory=list)

    def store(self) -> SqlStore:
        engine = create_engine(self.url)
        self.engines.append(engine)
        return SqlStore(session_factory(engine))

    async def release(self) -> None:
        """Give back every engine's connections (the server is shared)."""
        for engine in self.engines:
            await engine.dispose()


async def open_db(url: str) -> Db:
    if not url.startswith("sqlite"):
        cleaner = create_engine(url)
        await empty_all(cleaner)
        await cleaner.dispose()
    return Db("sqlite" if url.startswith("sqlite") else "postgres", url)


# --- the engine on SQL -----------------------------------------------------------------


class SqlWorld(World):
    """``World``'s services on SQL units of work.

    The catalog of ``World.build`` (endpoint, base model, a developer's published model,
    Alice and Bob) is stored in one transaction: round trips are what these tests pay for.
    """

    async def build(self) -> SqlWorld:
        now = self.clock.now()
        self.endpoint = endpoint(provider_endpoint_id="rp-endpoint-secret", gpu_type="A5000")
        self.base = base_model(self.endpoint.id, slug="sdxl", input_schema=SCHEMA)
        self.developer = developer(uid="dev-x", name="Studio X")
        self.model = published(
            self.developer.id,
            self.base.id,
            now,
            slug="art-maker",
            title="Art Maker",
            config_overrides=CONFIG,
        )
        self.alice, self.bob = consumer(uid="alice"), consumer(uid="bob")
        async with self.store.unit_of_work() as uow:
            await uow.endpoints.add(self.endpoint)
            await uow.base_models.add(self.base)
            await uow.developers.add(self.developer)
            await uow.tars_models.add(self.model)
            await uow.consumers.add(self.alice)
            await uow.consumers.add(self.bob)
            await uow.commit()
        return self

    async def add_queued(self, count: int) -> list[Execution]:
        """``count`` QUEUED executions of Alice with jobs at the fake, in one transaction."""
        now = self.clock.now()
        executions = []
        for i in range(count):
            job = await self.gpu.submit(
                JobRequest(self.endpoint.provider_endpoint_id, {"prompt": "x"}, 60_000, 60_000)
            )
            executions.append(
                Execution(
                    id=uuid.uuid4(),
                    consumer_id=self.alice.id,
                    tars_model_id=self.model.id,
                    endpoint_id=self.endpoint.id,
                    created_at=now + timedelta(microseconds=i),
                    updated_at=now,
                    status=ExecutionStatus.QUEUED,
                    provider_job_id=job.job_id,
                    input_payload={"prompt": "x"},
                    deadline_at=now + self.settings.deadline(self.base),
                    submit_attempts=1,
                )
            )
        async with self.store.unit_of_work() as uow:
            for execution in executions:
                await uow.executions.add(execution)
            await uow.commit()
        return executions

    async def statuses(self) -> Counter[ExecutionStatus]:
        """How many of Alice's executions are in each status."""
        async with self.store.unit_of_work() as uow:
            page = await uow.executions.list_for_consumer(self.alice.id, PageRequest(limit=100))
        return Counter(v.status for v in page.items)


async def sql_world(
    db: Db,
    *,
    clock: ManualClock | None = None,
    settings: EngineSettings | None = None,
    gpu: FakeGpuProvider | None = None,
    files: Any = None,
    listeners: Any = None,
) -> SqlWorld:
    """Services on SQL units of work, with a published model and two consumers."""
    world = SqlWorld(
        clock=clock or ManualClock(),
        store=db.store(),  # type: ignore[arg-type]
        gpu=gpu or FakeGpuProvider(),
        settings=settings or EngineSettings(),
        files=files,
        listeners=listeners,
    )
    return await world.build()


@dataclass
class Process:
    """The engine of another process: its own pool on the same database."""

    dispatcher: Dispatcher
    executions: ExecutionService
    reconciler: Reconciler


def other_process(w: World, db: Db, provider: Any = None) -> Process:
    store = db.store()
    dispatcher = Dispatcher(store.unit_of_work, provider or w.gpu, w.clock, w.settings)
    return Process(
        dispatcher,
        ExecutionService(store.unit_of_work, dispatcher, w.clock, w.settings),
        Reconciler(store.unit_of_work, dispatcher, w.clock, w.settings),
    )


async def start(w: World, **inputs: Any) -> Execution:
    result = await w.executions.run(RunRequest(w.alice.id, w.model.slug, {"prompt": "x", **inputs}))
    return result.view.execution


def record_terminal_writes(dispatcher: Dispatcher, writes: list[ExecutionStatus]) -> None:
    """Note every compare-and-set that moved an execution to a terminal status."""
    real = dispatcher.store

    async def spy(execution_id: uuid.UUID, decide: Decision, **kwargs: Any) -> Any:
        before: list[bool] = []

        def watched(e: Execution) -> bool:
            before.append(e.is_terminal)
            return decide(e)

        stored, changed = await real(execution_id, watched, **kwargs)
        if changed and stored.is_terminal and not before[-1]:
            writes.append(stored.status)
        return stored, changed

    dispatcher.store = spy  # type: ignore[method-assign]


async def wait_for(predicate: Callable[[], bool], limit_s: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.002)
