"""GPU endpoint and base model repositories."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, func, insert, select, update

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import Shape, from_row, keyset_page, labelled, to_values
from adapters.sql.query import Query
from adapters.sql.tables import base_models, runpod_endpoints
from tarsify.domain.models import (
    BaseModel,
    BaseModelWithEndpoint,
    EndpointWithCount,
    GpuEndpoint,
    Provider,
)
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

_ENDPOINT = Shape(GpuEndpoint, runpod_endpoints)
_ENDPOINT_BY_ID = Query(
    select(*_ENDPOINT.columns).where(runpod_endpoints.c.id == bindparam("p_id"))
)
_BASE = Shape(BaseModel, base_models)
_BASE_BY_ID = Query(select(*_BASE.columns).where(base_models.c.id == bindparam("p_id")))
_BASE_BY_SLUG = Query(select(*_BASE.columns).where(base_models.c.slug == bindparam("p_slug")))


class SqlEndpointRepository:
    """GPU endpoints in the ``runpod_endpoints`` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("endpoints.add")
    async def add(self, endpoint: GpuEndpoint) -> None:
        """Insert; ``AlreadyExists`` when the provider endpoint id is taken."""
        await self._db.execute_isolated(insert(runpod_endpoints).values(to_values(endpoint)))

    @guarded("endpoints.get")
    async def get(self, endpoint_id: uuid.UUID) -> GpuEndpoint | None:
        """By id."""
        row = await self._db.fetch_one(_ENDPOINT_BY_ID, {"p_id": endpoint_id})
        return None if row is None else _ENDPOINT.load(row)

    @guarded("endpoints.get_by_provider_id")
    async def get_by_provider_id(
        self, provider: Provider, provider_endpoint_id: str
    ) -> GpuEndpoint | None:
        """By the provider and its own endpoint id."""
        stmt = select(runpod_endpoints).where(
            runpod_endpoints.c.provider == provider,
            runpod_endpoints.c.runpod_endpoint_id == provider_endpoint_id,
        )
        row = (await self._db.execute(stmt)).mappings().first()
        return None if row is None else from_row(GpuEndpoint, row)

    @guarded("endpoints.update")
    async def update(self, endpoint: GpuEndpoint) -> None:
        """Store every field; ``AlreadyExists`` on a provider id clash."""
        values = to_values(endpoint)
        del values["id"]
        stmt = update(runpod_endpoints).where(runpod_endpoints.c.id == endpoint.id)
        await self._db.execute_isolated(stmt.values(values))

    @guarded("endpoints.list")
    async def list(self, page: PageRequest) -> Page[EndpointWithCount]:
        """All endpoints, newest first, with how many base models each serves."""
        counts = (
            select(base_models.c.endpoint_id, func.count().label("n"))
            .group_by(base_models.c.endpoint_id)
            .subquery()
        )
        stmt = select(runpod_endpoints, func.coalesce(counts.c.n, 0).label("base_model_count"))
        stmt = stmt.outerjoin(counts, counts.c.endpoint_id == runpod_endpoints.c.id)
        stmt = keyset_page(stmt, runpod_endpoints.c.created_at, runpod_endpoints.c.id, page)
        rows = (await self._db.execute(stmt)).mappings().all()
        items = [
            EndpointWithCount(from_row(GpuEndpoint, row), int(row["base_model_count"]))
            for row in rows
        ]
        return page_from_rows(
            items, page, lambda item: Cursor(item.endpoint.created_at, item.endpoint.id)
        )


class SqlBaseModelRepository:
    """Base models in the ``base_models`` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("base_models.add")
    async def add(self, base_model: BaseModel) -> None:
        """Insert; ``AlreadyExists`` when the slug is taken."""
        await self._db.execute_isolated(insert(base_models).values(to_values(base_model)))

    @guarded("base_models.get")
    async def get(self, base_model_id: uuid.UUID) -> BaseModel | None:
        """By id."""
        row = await self._db.fetch_one(_BASE_BY_ID, {"p_id": base_model_id})
        return None if row is None else _BASE.load(row)

    @guarded("base_models.get_by_slug")
    async def get_by_slug(self, slug: str) -> BaseModel | None:
        """By slug."""
        row = await self._db.fetch_one(_BASE_BY_SLUG, {"p_slug": slug})
        return None if row is None else _BASE.load(row)

    @guarded("base_models.update")
    async def update(self, base_model: BaseModel) -> None:
        """Store every field; ``AlreadyExists`` on a slug clash."""
        values = to_values(base_model)
        del values["id"]
        stmt = update(base_models).where(base_models.c.id == base_model.id)
        await self._db.execute_isolated(stmt.values(values))

    @guarded("base_models.list")
    async def list(
        self, page: PageRequest, *, browsable_only: bool = False
    ) -> Page[BaseModelWithEndpoint]:
        """Newest first with endpoints; optionally only active models on active endpoints."""
        stmt = select(*labelled(base_models, "b_"), *labelled(runpod_endpoints, "e_")).join(
            runpod_endpoints, runpod_endpoints.c.id == base_models.c.endpoint_id
        )
        if browsable_only:
            stmt = stmt.where(base_models.c.is_active, runpod_endpoints.c.is_active)
        stmt = keyset_page(stmt, base_models.c.created_at, base_models.c.id, page)
        rows = (await self._db.execute(stmt)).mappings().all()
        items = [
            BaseModelWithEndpoint(from_row(BaseModel, row, "b_"), from_row(GpuEndpoint, row, "e_"))
            for row in rows
        ]
        return page_from_rows(
            items, page, lambda item: Cursor(item.base_model.created_at, item.base_model.id)
        )
