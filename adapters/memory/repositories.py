"""In-memory repositories; they read and stage through a ``MemoryTransaction``.

Every entity handed out is a deep copy, so callers change stored data only through
``add``/``update`` and a commit, exactly as with the SQL adapter.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tarsify.domain.credits import effective_price
from tarsify.domain.models import (
    BaseModel,
    BaseModelWithEndpoint,
    Consumer,
    Developer,
    EndpointWithCount,
    GpuEndpoint,
    MarketplaceListing,
    ModelCategory,
    Provider,
    RunTarget,
    TarsModel,
    TarsModelStatus,
)
from tarsify.domain.pagination import Cursor, Page, PageRequest, page_from_rows

if TYPE_CHECKING:
    from adapters.memory.transaction import MemoryTransaction

T = TypeVar("T")


def keyset(
    rows: Iterable[T], page: PageRequest, key: Callable[[T], tuple[datetime, uuid.UUID]]
) -> Page[T]:
    """Newest first, strictly after the cursor, ``limit + 1`` fetched like the SQL adapter."""
    selected = list(rows)
    if page.after is not None:
        bound = (page.after.at, page.after.id)
        selected = [r for r in selected if key(r) < bound]
    selected.sort(key=key, reverse=True)
    return page_from_rows(selected[: page.limit + 1], page, lambda r: Cursor(*key(r)))


class Repository:
    """Base of the memory repositories: reads and writes through the transaction."""

    table: str

    def __init__(self, tx: MemoryTransaction) -> None:
        self._tx = tx

    def _rows(self) -> list[Any]:
        self._tx.check()
        return list(self._tx.rows(self.table).values())

    def _get(self, row_id: uuid.UUID) -> Any:
        self._tx.check()
        return copy.deepcopy(self._tx.row(self.table, row_id))

    def _find(self, predicate: Callable[[Any], bool]) -> Any:
        return next((copy.deepcopy(r) for r in self._rows() if predicate(r)), None)

    async def _add(self, entity: Any) -> None:
        self._tx.put(self.table, entity, insert=True)

    async def _update(self, entity: Any) -> None:
        self._tx.check()
        if self._tx.row(self.table, entity.id) is None:
            return  # like an UPDATE matching no row
        await self._tx.lock(self.table, entity.id)
        self._tx.put(self.table, entity, insert=False)


class MemoryDeveloperRepository(Repository):
    """Developers."""

    table = "developers"

    async def add(self, developer: Developer) -> None:
        """Insert; ``AlreadyExists`` when the uid is taken."""
        await self._add(developer)

    async def get(self, developer_id: uuid.UUID) -> Developer | None:
        """By id."""
        return self._get(developer_id)  # type: ignore[no-any-return]

    async def get_by_uid(self, uid: str) -> Developer | None:
        """By the identity provider's uid."""
        return self._find(lambda d: d.uid == uid)  # type: ignore[no-any-return]


class MemoryConsumerRepository(Repository):
    """Consumers."""

    table = "consumers"

    async def add(self, consumer: Consumer) -> None:
        """Insert; ``AlreadyExists`` when the uid is taken."""
        await self._add(consumer)

    async def get(self, consumer_id: uuid.UUID) -> Consumer | None:
        """By id."""
        return self._get(consumer_id)  # type: ignore[no-any-return]

    async def get_by_uid(self, uid: str) -> Consumer | None:
        """By the identity provider's uid."""
        return self._find(lambda c: c.uid == uid)  # type: ignore[no-any-return]


class MemoryEndpointRepository(Repository):
    """GPU endpoints."""

    table = "endpoints"

    async def add(self, endpoint: GpuEndpoint) -> None:
        """Insert; ``AlreadyExists`` when the provider endpoint id is taken."""
        await self._add(endpoint)

    async def get(self, endpoint_id: uuid.UUID) -> GpuEndpoint | None:
        """By id."""
        return self._get(endpoint_id)  # type: ignore[no-any-return]

    async def get_by_provider_id(
        self, provider: Provider, provider_endpoint_id: str
    ) -> GpuEndpoint | None:
        """By the provider and its own endpoint id."""
        return self._find(  # type: ignore[no-any-return]
            lambda e: e.provider == provider and e.provider_endpoint_id == provider_endpoint_id
        )

    async def update(self, endpoint: GpuEndpoint) -> None:
        """Store every field; ``AlreadyExists`` on a provider id clash."""
        await self._update(endpoint)

    async def list(self, page: PageRequest) -> Page[EndpointWithCount]:
        """All endpoints, newest first, with their base model counts."""
        counts: dict[uuid.UUID, int] = {}
        for base_model in self._tx.rows("base_models").values():
            counts[base_model.endpoint_id] = counts.get(base_model.endpoint_id, 0) + 1
        rows = [EndpointWithCount(copy.deepcopy(e), counts.get(e.id, 0)) for e in self._rows()]
        return keyset(rows, page, lambda r: (r.endpoint.created_at, r.endpoint.id))


class MemoryBaseModelRepository(Repository):
    """Base models."""

    table = "base_models"

    async def add(self, base_model: BaseModel) -> None:
        """Insert; ``AlreadyExists`` when the slug is taken."""
        await self._add(base_model)

    async def get(self, base_model_id: uuid.UUID) -> BaseModel | None:
        """By id."""
        return self._get(base_model_id)  # type: ignore[no-any-return]

    async def get_by_slug(self, slug: str) -> BaseModel | None:
        """By slug."""
        return self._find(lambda b: b.slug == slug)  # type: ignore[no-any-return]

    async def update(self, base_model: BaseModel) -> None:
        """Store every field; ``AlreadyExists`` on a slug clash."""
        await self._update(base_model)

    async def list(
        self, page: PageRequest, *, browsable_only: bool = False
    ) -> Page[BaseModelWithEndpoint]:
        """Newest first with endpoints; optionally only active models on active endpoints."""
        rows = []
        for base_model in self._rows():
            endpoint = self._tx.row("endpoints", base_model.endpoint_id)
            if browsable_only and not (base_model.is_active and endpoint.is_active):
                continue
            rows.append(BaseModelWithEndpoint(copy.deepcopy(base_model), copy.deepcopy(endpoint)))
        return keyset(rows, page, lambda r: (r.base_model.created_at, r.base_model.id))


class MemoryTarsModelRepository(Repository):
    """Tars models."""

    table = "tars_models"

    async def add(self, tars_model: TarsModel) -> None:
        """Insert; ``AlreadyExists`` when the slug is taken."""
        await self._add(tars_model)

    async def get(self, tars_model_id: uuid.UUID) -> TarsModel | None:
        """By id."""
        return self._get(tars_model_id)  # type: ignore[no-any-return]

    async def get_by_slug(self, slug: str) -> TarsModel | None:
        """By slug."""
        return self._find(lambda t: t.slug == slug)  # type: ignore[no-any-return]

    async def get_run_target(self, slug: str) -> RunTarget | None:
        """The model with its base model, endpoint and developer's name."""
        model = self._find(lambda t: t.slug == slug)
        if model is None:
            return None
        base = self._tx.row("base_models", model.base_model_id)
        endpoint = self._tx.row("endpoints", base.endpoint_id)
        developer = self._tx.row("developers", model.developer_id)
        return RunTarget(
            model,
            copy.deepcopy(base),
            copy.deepcopy(endpoint),
            developer.name if developer is not None else None,
        )

    async def update(self, tars_model: TarsModel) -> None:
        """Store every field; ``AlreadyExists`` on a slug clash."""
        await self._update(tars_model)

    async def list_for_developer(
        self, developer_id: uuid.UUID, page: PageRequest
    ) -> Page[TarsModel]:
        """A developer's models of every status, newest created first."""
        rows = [copy.deepcopy(t) for t in self._rows() if t.developer_id == developer_id]
        return keyset(rows, page, lambda t: (t.created_at, t.id))

    async def list_published(
        self, page: PageRequest, *, category: ModelCategory | None = None
    ) -> Page[MarketplaceListing]:
        """Published models on active base models and endpoints, newest published first."""
        rows = []
        for tars_model in self._rows():
            if tars_model.status != TarsModelStatus.PUBLISHED or tars_model.published_at is None:
                continue
            base_model = self._tx.row("base_models", tars_model.base_model_id)
            endpoint = self._tx.row("endpoints", base_model.endpoint_id)
            if not (base_model.is_active and endpoint.is_active):
                continue
            if category is not None and base_model.category != category:
                continue
            developer = self._tx.row("developers", tars_model.developer_id)
            rows.append(
                MarketplaceListing(
                    tars_model.id,
                    tars_model.slug,
                    tars_model.title,
                    tars_model.description,
                    base_model.category,
                    base_model.output_type,
                    base_model.estimated_seconds,
                    developer.name,
                    tars_model.published_at,
                    effective_price(tars_model.price_per_run, base_model.min_price_per_run),
                )
            )
        return keyset(rows, page, _published_key)


def _published_key(item: MarketplaceListing) -> tuple[datetime, uuid.UUID]:
    return item.published_at, item.id
