"""Tars model repository, including the marketplace listing."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from adapters.sql.db import Db
from adapters.sql.errors import guarded
from adapters.sql.mapping import (
    Shape,
    from_row,
    keyset_page,
    keyset_params,
    keyset_template,
    to_values,
)
from adapters.sql.query import Query
from adapters.sql.tables import base_models, developers, runpod_endpoints, tars_models
from tarsify.domain.credits import effective_price
from tarsify.domain.models import (
    BaseModel,
    GpuEndpoint,
    MarketplaceListing,
    ModelCategory,
    OutputType,
    RunTarget,
    TarsModel,
)
from tarsify.domain.models import TarsModelStatus as Status
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

_TARS = Shape(TarsModel, tars_models)
_GET = Query(select(*_TARS.columns).where(tars_models.c.id == bindparam("p_id")))
_GET_BY_SLUG = Query(select(*_TARS.columns).where(tars_models.c.slug == bindparam("p_slug")))
_INSERT = insert(tars_models)

# The runnable-model rule (``RunTarget.runnable_problem``) over the three tables joined.
RUNNABLE = (
    tars_models.c.status == Status.PUBLISHED,
    base_models.c.is_active,
    runpod_endpoints.c.is_active,
)
# The same rule for a developer's test run: a DRAFT model may run too.
TESTABLE = (
    tars_models.c.status != Status.ARCHIVED,
    base_models.c.is_active,
    runpod_endpoints.c.is_active,
)
_MARKET_TARS = Shape(TarsModel, tars_models, "t_")
_RUN_ENDPOINT = Shape(GpuEndpoint, runpod_endpoints, "e_")
_MARKET_BASE = Shape(BaseModel, base_models, "b_")
# The marketplace list reads only what it shows, in MarketplaceListing's field order.
_PUBLISHED = (
    select(
        tars_models.c.id,
        tars_models.c.slug,
        tars_models.c.title,
        tars_models.c.description,
        base_models.c.category,
        base_models.c.output_type,
        base_models.c.estimated_seconds,
        developers.c.name.label("developer_name"),
        tars_models.c.published_at,
        tars_models.c.price_per_run,
        base_models.c.min_price_per_run,
    )
    .join(base_models, base_models.c.id == tars_models.c.base_model_id)
    .join(runpod_endpoints, runpod_endpoints.c.id == base_models.c.endpoint_id)
    .join(developers, developers.c.id == tars_models.c.developer_id)
    .where(
        *RUNNABLE,
        # A published model always has published_at; the keyset cannot order NULLs.
        tars_models.c.published_at.is_not(None),
    )
)


_RUN_TARGET = Query(
    select(
        *_MARKET_TARS.columns,
        *Shape(BaseModel, base_models, "b_").columns,
        *_RUN_ENDPOINT.columns,
        developers.c.name.label("developer_name"),
    )
    .join(base_models, base_models.c.id == tars_models.c.base_model_id)
    .join(runpod_endpoints, runpod_endpoints.c.id == base_models.c.endpoint_id)
    .outerjoin(developers, developers.c.id == tars_models.c.developer_id)
    .where(tars_models.c.slug == bindparam("p_slug"))
)


def _run_target(row: Sequence[Any]) -> RunTarget:
    base_at = _MARKET_TARS.width
    endpoint_at = base_at + _MARKET_BASE.width
    return RunTarget(
        _MARKET_TARS.load(row),
        _MARKET_BASE.load(row, base_at),
        _RUN_ENDPOINT.load(row, endpoint_at),
        row[endpoint_at + _RUN_ENDPOINT.width],
    )


@functools.cache
def _published_template(category: bool, after: bool, limit: int) -> Query:
    stmt = _PUBLISHED
    if category:
        stmt = stmt.where(base_models.c.category == bindparam("p_category"))
    return Query(
        keyset_template(
            stmt, tars_models.c.published_at, tars_models.c.id, after=after, limit=limit
        )
    )


def _listing(row: Sequence[Any]) -> MarketplaceListing:
    # Through the driver, enum columns arrive as their text value.
    id_, slug, title, description, category, output_type, seconds, name, published = row[:9]
    price, minimum = row[9], row[10]
    return MarketplaceListing(
        id_,
        slug,
        title,
        description,
        ModelCategory(category),
        OutputType(output_type),
        seconds,
        name,
        published,
        effective_price(price, minimum),
    )


class SqlTarsModelRepository:
    """Tars models in the ``tars_models`` table."""

    def __init__(self, db: Db) -> None:
        self._db = db

    @guarded("tars_models.add")
    async def add(self, tars_model: TarsModel) -> None:
        """Insert; ``AlreadyExists`` when the slug is taken."""
        await self._db.execute_isolated(_INSERT, to_values(tars_model))

    @guarded("tars_models.get")
    async def get(self, tars_model_id: uuid.UUID) -> TarsModel | None:
        """By id."""
        row = await self._db.fetch_one(_GET, {"p_id": tars_model_id})
        return None if row is None else _TARS.load(row)

    @guarded("tars_models.get_by_slug")
    async def get_by_slug(self, slug: str) -> TarsModel | None:
        """By slug."""
        row = await self._db.fetch_one(_GET_BY_SLUG, {"p_slug": slug})
        return None if row is None else _TARS.load(row)

    @guarded("tars_models.get_run_target")
    async def get_run_target(self, slug: str) -> RunTarget | None:
        """The model with its base model, endpoint and developer's name, in one query."""
        row = await self._db.fetch_one(_RUN_TARGET, {"p_slug": slug})
        return None if row is None else _run_target(row)

    @guarded("tars_models.update")
    async def update(self, tars_model: TarsModel) -> None:
        """Store every field; ``AlreadyExists`` on a slug clash."""
        values = to_values(tars_model)
        del values["id"]
        stmt = update(tars_models).where(tars_models.c.id == tars_model.id)
        await self._db.execute_isolated(stmt.values(values))

    @guarded("tars_models.list_for_developer")
    async def list_for_developer(
        self, developer_id: uuid.UUID, page: PageRequest
    ) -> Page[TarsModel]:
        """A developer's models of every status, newest created first."""
        stmt = select(tars_models).where(tars_models.c.developer_id == developer_id)
        stmt = keyset_page(stmt, tars_models.c.created_at, tars_models.c.id, page)
        rows = (await self._db.execute(stmt)).mappings().all()
        items = [from_row(TarsModel, row) for row in rows]
        return page_from_rows(items, page, lambda m: Cursor(m.created_at, m.id))

    @guarded("tars_models.list_published")
    async def list_published(
        self, page: PageRequest, *, category: ModelCategory | None = None
    ) -> Page[MarketplaceListing]:
        """Published models on active base models and endpoints, newest published first."""
        stmt = _published_template(category is not None, page.after is not None, page.limit + 1)
        params = keyset_params(page)
        if category is not None:
            params["p_category"] = category
        rows = await self._db.fetch(stmt, params)
        items = [_listing(row) for row in rows]
        return page_from_rows(items, page, _published_key)


def _published_key(item: MarketplaceListing) -> Cursor:
    return Cursor(item.published_at, item.id)
