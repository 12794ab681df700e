"""Entity builders and a seeded catalog for the repository contract tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tarsify.domain.execution import Execution
from tarsify.domain.models import (
    BaseModel,
    Consumer,
    Developer,
    ExecutionStatus,
    GpuEndpoint,
    ModelCategory,
    OutputType,
    TarsModel,
    TarsModelStatus,
)
from tarsify.ports.storage import UnitOfWorkFactory

# Odd microseconds on purpose: the round trip must keep them.
T0 = datetime(2025, 3, 4, 5, 6, 7, 123457, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """An instant ``seconds`` after ``T0``."""
    return T0 + timedelta(seconds=seconds)


def _uid() -> str:
    return uuid.uuid4().hex[:10]


def developer(**kw: Any) -> Developer:
    """A developer with unique uid."""
    uid = _uid()
    fields: dict[str, Any] = dict(
        id=uuid.uuid4(), uid=f"dev-{uid}", email=f"{uid}@dev.test", name=f"Dev {uid}"
    )
    return Developer(**(fields | {"created_at": T0, "updated_at": T0} | kw))


def consumer(**kw: Any) -> Consumer:
    """A consumer with unique uid."""
    uid = _uid()
    fields: dict[str, Any] = dict(
        id=uuid.uuid4(), uid=f"con-{uid}", email=f"{uid}@c.test", name=None
    )
    return Consumer(**(fields | {"created_at": T0, "updated_at": T0} | kw))


def endpoint(**kw: Any) -> GpuEndpoint:
    """An active GPU endpoint with a unique provider id."""
    fields: dict[str, Any] = dict(
        id=uuid.uuid4(),
        provider_endpoint_id=f"rp-{_uid()}",
        name="SDXL workers",
        gpu_type="A100",
        created_at=T0,
        updated_at=T0,
    )
    return GpuEndpoint(**(fields | kw))


INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "maxLength": 2000},
        "width": {"type": "integer", "minimum": 64, "default": 1024},
        "style": {"enum": ["photo", "anime"], "description": "Stil — 写真"},
    },
}


def base_model(endpoint_id: uuid.UUID, **kw: Any) -> BaseModel:
    """An active IMAGE base model with a unique slug."""
    fields: dict[str, Any] = dict(
        id=uuid.uuid4(),
        endpoint_id=endpoint_id,
        slug=f"sdxl-{_uid()}",
        name="SDXL",
        category=ModelCategory.IMAGE,
        input_schema=INPUT_SCHEMA,
        output_type=OutputType.IMAGE,
        output_format="png",
        created_at=T0,
        updated_at=T0,
    )
    return BaseModel(**(fields | kw))


def tars_model(developer_id: uuid.UUID, base_model_id: uuid.UUID, **kw: Any) -> TarsModel:
    """A draft Tars model with a unique slug."""
    fields: dict[str, Any] = dict(
        id=uuid.uuid4(),
        developer_id=developer_id,
        base_model_id=base_model_id,
        title="Anime portraits",
        slug=f"anime-{_uid()}",
        created_at=T0,
        updated_at=T0,
    )
    return TarsModel(**(fields | kw))


def published(
    developer_id: uuid.UUID, base_model_id: uuid.UUID, when: datetime, **kw: Any
) -> TarsModel:
    """A published Tars model."""
    return tars_model(
        developer_id, base_model_id, status=TarsModelStatus.PUBLISHED, published_at=when, **kw
    )


@dataclass(slots=True)
class Catalog:
    """One committed chain: developer, consumer, endpoint, base model, Tars model."""

    developer: Developer
    consumer: Consumer
    endpoint: GpuEndpoint
    base_model: BaseModel
    tars_model: TarsModel

    def execution(self, **kw: Any) -> Execution:
        """A pending execution of this catalog's model by its consumer."""
        fields: dict[str, Any] = dict(
            id=uuid.uuid4(),
            consumer_id=self.consumer.id,
            tars_model_id=self.tars_model.id,
            endpoint_id=self.endpoint.id,
            created_at=T0,
            updated_at=T0,
            input_payload={"prompt": "a cat"},
        )
        return Execution(**(fields | kw))


async def seed_catalog(uow_factory: UnitOfWorkFactory) -> Catalog:
    """Store and commit a fresh catalog chain."""
    dev, con, ep = developer(), consumer(), endpoint()
    bm = base_model(ep.id)
    tm = published(dev.id, bm.id, T0)
    async with uow_factory() as uow:
        await uow.developers.add(dev)
        await uow.consumers.add(con)
        await uow.endpoints.add(ep)
        await uow.base_models.add(bm)
        await uow.tars_models.add(tm)
        await uow.commit()
    return Catalog(dev, con, ep, bm, tm)


async def add_executions(uow_factory: UnitOfWorkFactory, *executions: Execution) -> None:
    """Store and commit executions."""
    async with uow_factory() as uow:
        for execution in executions:
            await uow.executions.add(execution)
        await uow.commit()


ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
