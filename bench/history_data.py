"""Bulk-load a large execution history into a migrated PostgreSQL database."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.engine import make_url

from adapters.sql.db import session_factory
from adapters.sql.engine import create_engine
from adapters.sql.uow import SqlUnitOfWork
from tarsify.domain.models import (
    BaseModel,
    Consumer,
    Developer,
    GpuEndpoint,
    ModelCategory,
    OutputType,
    TarsModel,
    TarsModelStatus,
)
from tarsify.domain.pagination import Cursor

START = datetime(2024, 1, 1, tzinfo=UTC)
COLUMNS = [
    "id",
    "consumer_id",
    "tars_model_id",
    "endpoint_id",
    "status",
    "input_payload",
    "created_at",
    "updated_at",
    "submit_attempts",
    "version",
]


@dataclass(slots=True)
class History:
    """What was loaded: the consumers and, per consumer, its rows' keys newest first."""

    consumer_ids: list[uuid.UUID]
    keys: dict[uuid.UUID, list[tuple[datetime, uuid.UUID]]] = field(default_factory=dict)

    def cursor(self, consumer_id: uuid.UUID, depth: int) -> Cursor:
        """The cursor after the ``depth``-th newest execution of a consumer."""
        at, ident = self.keys[consumer_id][depth]
        return Cursor(at, ident)


async def _catalog(url: str, consumers: int) -> tuple[list[Consumer], TarsModel, GpuEndpoint]:
    now = START
    developer = Developer(uuid.uuid4(), "bench-dev", "dev@bench.test", "Bench", now, now)
    endpoint = GpuEndpoint(uuid.uuid4(), "bench-endpoint", "bench", "A100", now, now)
    base = BaseModel(
        uuid.uuid4(), endpoint.id, "bench-base", "Bench", ModelCategory.IMAGE,
        {"type": "object"}, OutputType.IMAGE, "png", now, now,
    )  # fmt: skip
    model = TarsModel(
        uuid.uuid4(), developer.id, base.id, "Bench model", "bench-model", now, now,
        status=TarsModelStatus.PUBLISHED, published_at=now,
    )  # fmt: skip
    people = [
        Consumer(uuid.uuid4(), f"bench-{i}", f"c{i}@bench.test", None, now, now)
        for i in range(consumers)
    ]
    engine = create_engine(url)
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            await uow.developers.add(developer)
            await uow.endpoints.add(endpoint)
            await uow.base_models.add(base)
            await uow.tars_models.add(model)
            for person in people:
                await uow.consumers.add(person)
            await uow.commit()
    finally:
        await engine.dispose()
    return people, model, endpoint


async def load_history(url: str, rows: int, consumers: int = 4, seed: int = 7) -> History:
    """Insert ``rows`` executions spread over ``consumers`` with COPY, then ANALYZE."""
    people, model, endpoint = await _catalog(url, consumers)
    history = History([p.id for p in people], {p.id: [] for p in people})
    rng = random.Random(seed)
    payload = json.dumps({"prompt": "a lighthouse at dusk", "width": 1024})
    records = []
    for i in range(rows):
        consumer_id = rng.choice(history.consumer_ids)
        # Several executions share a second, as under real load.
        created = START + timedelta(seconds=i // 3)
        ident = uuid.uuid4()
        status = "COMPLETED" if rng.random() < 0.97 else "RUNNING"
        records.append(
            (ident, consumer_id, model.id, endpoint.id, status, payload, created, created, 1, 2)
        )
        history.keys[consumer_id].append((created, ident))
    for keys in history.keys.values():
        keys.sort(reverse=True)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table("executions", records=records, columns=COLUMNS)
        await connection.execute("ANALYZE executions")
    finally:
        await connection.close()
    return history
