"""Tars model repository, including the marketplace listing."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.sql.errors import execute_isolated, guarded
from adapters.sql.mapping import from_row, keyset_page, labelled, to_values
from adapters.sql.tables import base_models, developers, runpod_endpoints, tars_models
from tarsify.domain.models import BaseModel, MarketplaceEntry, ModelCategory, TarsModel
from tarsify.domain.models import TarsModelStatus as Status
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows


class SqlTarsModelRepository:
    """Tars models in the ``tars_models`` table."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @guarded("tars_models.add")
    async def add(self, tars_model: TarsModel) -> None:
        """Insert; ``AlreadyExists`` when the slug is taken."""
        await execute_isolated(self._session, insert(tars_models).values(to_values(tars_model)))

    @guarded("tars_models.get")
    async def get(self, tars_model_id: uuid.UUID) -> TarsModel | None:
        """By id."""
        stmt = select(tars_models).where(tars_models.c.id == tars_model_id)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else from_row(TarsModel, row)

    @guarded("tars_models.get_by_slug")
    async def get_by_slug(self, slug: str) -> TarsModel | None:
        """By slug."""
        stmt = select(tars_models).where(tars_models.c.slug == slug)
        row = (await self._session.execute(stmt)).mappings().first()
        return None if row is None else from_row(TarsModel, row)

    @guarded("tars_models.update")
    async def update(self, tars_model: TarsModel) -> None:
        """Store every field; ``AlreadyExists`` on a slug clash."""
        values = to_values(tars_model)
        del values["id"]
        stmt = update(tars_models).where(tars_models.c.id == tars_model.id)
        await execute_isolated(self._session, stmt.values(values))

    @guarded("tars_models.list_for_developer")
    async def list_for_developer(
        self, developer_id: uuid.UUID, page: PageRequest
    ) -> Page[TarsModel]:
        """A developer's models of every status, newest created first."""
        stmt = select(tars_models).where(tars_models.c.developer_id == developer_id)
        stmt = keyset_page(stmt, tars_models.c.created_at, tars_models.c.id, page)
        rows = (await self._session.execute(stmt)).mappings().all()
        items = [from_row(TarsModel, row) for row in rows]
        return page_from_rows(items, page, lambda m: Cursor(m.created_at, m.id))

    @guarded("tars_models.list_published")
    async def list_published(
        self, page: PageRequest, *, category: ModelCategory | None = None
    ) -> Page[MarketplaceEntry]:
        """Published models on active base models and endpoints, newest published first."""
        stmt = (
            select(
                *labelled(tars_models, "t_"),
                *labelled(base_models, "b_"),
                developers.c.name.label("developer_name"),
            )
            .join(base_models, base_models.c.id == tars_models.c.base_model_id)
            .join(runpod_endpoints, runpod_endpoints.c.id == base_models.c.endpoint_id)
            .join(developers, developers.c.id == tars_models.c.developer_id)
            .where(
                tars_models.c.status == Status.PUBLISHED,
                # A published model always has published_at; the keyset cannot order NULLs.
                tars_models.c.published_at.is_not(None),
                base_models.c.is_active,
                runpod_endpoints.c.is_active,
            )
        )
        if category is not None:
            stmt = stmt.where(base_models.c.category == category)
        stmt = keyset_page(stmt, tars_models.c.published_at, tars_models.c.id, page)
        rows = (await self._session.execute(stmt)).mappings().all()
        items = [
            MarketplaceEntry(
                from_row(TarsModel, row, "t_"),
                from_row(BaseModel, row, "b_"),
                row["developer_name"],
            )
            for row in rows
        ]
        return page_from_rows(items, page, _published_key)


def _published_key(entry: MarketplaceEntry) -> Cursor:
    published_at = entry.tars_model.published_at
    assert published_at is not None  # filtered in the query
    return Cursor(published_at, entry.tars_model.id)
