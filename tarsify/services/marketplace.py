"""Marketplace use cases: browse published Tars models and read one with its input schema."""

from __future__ import annotations

from dataclasses import dataclass

from tarsify.domain.errors import TarsModelNotFound
from tarsify.domain.merge import processed_input_schema
from tarsify.domain.models import JsonObject, MarketplaceEntry, MarketplaceListing, ModelCategory
from tarsify.domain.pagination import Page, PageRequest
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory


@dataclass(slots=True, frozen=True)
class MarketplaceDetail:
    """A published model with the input schema consumers fill in."""

    entry: MarketplaceEntry
    input_schema: JsonObject


class MarketplaceService:
    """Read-only views of what consumers can run."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def list(
        self, page: PageRequest, category: ModelCategory | None = None
    ) -> Page[MarketplaceListing]:
        """PUBLISHED models on active base models and endpoints, newest published first."""
        async with self._uow() as uow:
            return await uow.tars_models.list_published(page, category=category)

    async def detail(self, slug: str) -> MarketplaceDetail:
        """A published model by slug; anything else answers ``TarsModelNotFound``."""
        async with self._uow() as uow:
            entry = await published_entry(uow, slug)
        schema = processed_input_schema(
            entry.base_model.input_schema, entry.tars_model.config_overrides
        )
        return MarketplaceDetail(entry, schema)


async def published_entry(uow: UnitOfWork, slug: str) -> MarketplaceEntry:
    """The marketplace entry for ``slug`` if it can run; the marketplace shows nothing
    else, so any reason it cannot run answers ``TarsModelNotFound``."""
    target = await uow.tars_models.get_run_target(slug)
    if target is None or target.runnable_problem() is not None:
        raise TarsModelNotFound()
    return target.marketplace_entry()
