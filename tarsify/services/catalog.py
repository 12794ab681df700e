"""Admin use cases: GPU endpoints and the base models they serve.

The rules of a change are the entities' (``tarsify.domain.catalog``); these use cases
check what needs the store (unique ids and slugs, the endpoint exists) and store them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from tarsify.domain.catalog import BaseModelChanges, EndpointChanges, check_provider_endpoint_id
from tarsify.domain.errors import AlreadyExists, BaseModelNotFound, InvalidBody, NotFound
from tarsify.domain.models import (
    BaseModel,
    BaseModelWithEndpoint,
    EndpointSource,
    EndpointWithCount,
    GpuEndpoint,
    JsonObject,
    ModelCategory,
    OutputType,
    Provider,
    new_id,
)
from tarsify.domain.pagination import Page, PageRequest
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory


@dataclass(slots=True, frozen=True)
class NewEndpoint:
    """What an admin gives to register a GPU endpoint."""

    provider_endpoint_id: str
    name: str
    gpu_type: str | None = None
    source: EndpointSource = EndpointSource.HUB
    docker_image: str | None = None
    is_active: bool = True
    provider: Provider = Provider.RUNPOD

    def entity(self, now: datetime) -> GpuEndpoint:
        """The endpoint to store, its provider id checked against the provider."""
        check_provider_endpoint_id(self.provider, self.provider_endpoint_id)
        return GpuEndpoint(
            id=new_id(),
            provider_endpoint_id=self.provider_endpoint_id,
            name=self.name,
            gpu_type=self.gpu_type,
            created_at=now,
            updated_at=now,
            source=self.source,
            docker_image=self.docker_image,
            is_active=self.is_active,
            provider=self.provider,
        )


@dataclass(slots=True, frozen=True)
class NewBaseModel:
    """What an admin gives to register a base model."""

    endpoint_id: uuid.UUID
    slug: str
    name: str
    category: ModelCategory
    input_schema: JsonObject
    output_type: OutputType
    output_format: str
    description: str | None = None
    estimated_seconds: int = 30
    is_active: bool = True
    min_price_per_run: int = 0
    streaming: bool = False

    def entity(self, now: datetime) -> BaseModel:
        """The base model to store, its slug and input schema checked
        (``BaseModel.check_changes``)."""
        BaseModel.check_changes({"slug": self.slug, "input_schema": self.input_schema})
        return BaseModel(
            id=new_id(),
            endpoint_id=self.endpoint_id,
            slug=self.slug,
            name=self.name,
            category=self.category,
            input_schema=self.input_schema,
            output_type=self.output_type,
            output_format=self.output_format,
            created_at=now,
            updated_at=now,
            description=self.description,
            estimated_seconds=self.estimated_seconds,
            is_active=self.is_active,
            min_price_per_run=self.min_price_per_run,
            streaming=self.streaming,
        )


class CatalogService:
    """Registers, lists, changes and retires GPU endpoints and base models.

    ``providers`` are the providers this deployment can reach (credentials configured,
    or simulated); an endpoint on another one is refused (None: every provider).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        catalog_changed: Callable[[], None] = lambda: None,
        providers: Collection[Provider] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._providers = None if providers is None else frozenset(providers)
        # Told after each change this service commits (the run targets a process keeps).
        self._catalog_changed = catalog_changed

    async def create_endpoint(self, data: NewEndpoint) -> GpuEndpoint:
        """Register an endpoint; ``AlreadyExists`` when its provider id is registered."""
        self._check_reachable(data.provider)
        endpoint = data.entity(self._clock.now())
        async with self._uow() as uow:
            if await uow.endpoints.get_by_provider_id(data.provider, data.provider_endpoint_id):
                raise AlreadyExists("An endpoint with this providerEndpointId exists")
            await uow.endpoints.add(endpoint)
            await uow.commit()
            self._catalog_changed()
        return endpoint

    async def list_endpoints(self, page: PageRequest) -> Page[EndpointWithCount]:
        """All endpoints, newest first, with their base model counts."""
        async with self._uow() as uow:
            return await uow.endpoints.list(page)

    async def find_endpoint(
        self, provider_endpoint_id: str, provider: Provider = Provider.RUNPOD
    ) -> GpuEndpoint | None:
        """The endpoint registered with this provider id, if any."""
        async with self._uow() as uow:
            return await uow.endpoints.get_by_provider_id(provider, provider_endpoint_id)

    @property
    def providers(self) -> frozenset[Provider]:
        """The providers endpoints may be created on."""
        return frozenset(Provider) if self._providers is None else self._providers

    def _check_reachable(self, provider: Provider) -> None:
        """``InvalidBody`` (field ``provider``) for a provider without credentials here."""
        if self._providers is not None and provider not in self._providers:
            raise InvalidBody(
                f"No credentials are configured for the provider {provider.value}",
                details=[
                    {
                        "field": "provider",
                        "message": f"{provider.value} is not configured on this deployment",
                    }
                ],
            )

    async def find_base_model(self, slug: str) -> BaseModel | None:
        """The base model with this slug, if any."""
        async with self._uow() as uow:
            return await uow.base_models.get_by_slug(slug)

    async def update_endpoint(
        self, endpoint_id: uuid.UUID, changes: EndpointChanges
    ) -> GpuEndpoint:
        """Change some fields of an endpoint."""
        async with self._uow() as uow:
            endpoint = await _endpoint(uow, endpoint_id)
            provider = changes.get("provider", endpoint.provider)
            if provider != endpoint.provider:
                self._check_reachable(provider)
            provider_id = changes.get("provider_endpoint_id", endpoint.provider_endpoint_id)
            if (provider, provider_id) != (endpoint.provider, endpoint.provider_endpoint_id):
                if await uow.endpoints.get_by_provider_id(provider, provider_id):
                    raise AlreadyExists("An endpoint with this providerEndpointId exists")
            endpoint.change(changes, self._clock.now())
            await uow.endpoints.update(endpoint)
            await uow.commit()
            self._catalog_changed()
        return endpoint

    async def deactivate_endpoint(self, endpoint_id: uuid.UUID) -> GpuEndpoint:
        """Soft delete: the endpoint stays, inactive; no new runs reach it."""
        return await self.update_endpoint(endpoint_id, {"is_active": False})

    async def create_base_model(self, data: NewBaseModel) -> BaseModelWithEndpoint:
        """Register a base model on an existing endpoint, with a valid input schema."""
        model = data.entity(self._clock.now())
        async with self._uow() as uow:
            endpoint = await _endpoint(uow, data.endpoint_id, field="endpointId")
            if await uow.base_models.get_by_slug(data.slug):
                raise AlreadyExists("A base model with this slug exists")
            await uow.base_models.add(model)
            await uow.commit()
            self._catalog_changed()
        return BaseModelWithEndpoint(model, endpoint)

    async def list_base_models(
        self, page: PageRequest, *, browsable_only: bool = False
    ) -> Page[BaseModelWithEndpoint]:
        """Base models with their endpoints, newest first."""
        async with self._uow() as uow:
            return await uow.base_models.list(page, browsable_only=browsable_only)

    async def get_base_model(self, base_model_id: uuid.UUID) -> BaseModelWithEndpoint:
        """One base model with its endpoint; ``BaseModelNotFound`` if unknown."""
        async with self._uow() as uow:
            model = await _base_model(uow, base_model_id)
            return BaseModelWithEndpoint(model, await _endpoint(uow, model.endpoint_id))

    async def update_base_model(
        self, base_model_id: uuid.UUID, changes: BaseModelChanges
    ) -> BaseModelWithEndpoint:
        """Change some fields of a base model, with the same checks as on create."""
        BaseModel.check_changes(changes)
        async with self._uow() as uow:
            model = await _base_model(uow, base_model_id)
            if "slug" in changes and changes["slug"] != model.slug:
                if await uow.base_models.get_by_slug(changes["slug"]):
                    raise AlreadyExists("A base model with this slug exists")
            model.change(changes, self._clock.now())
            endpoint = await _endpoint(uow, model.endpoint_id, field="endpointId")
            await uow.base_models.update(model)
            await uow.commit()
            self._catalog_changed()
        return BaseModelWithEndpoint(model, endpoint)

    async def deactivate_base_model(self, base_model_id: uuid.UUID) -> BaseModelWithEndpoint:
        """Soft delete: the model stays, inactive; its Tars models can no longer run."""
        return await self.update_base_model(base_model_id, {"is_active": False})


async def _endpoint(
    uow: UnitOfWork, endpoint_id: uuid.UUID, field: str | None = None
) -> GpuEndpoint:
    endpoint = await uow.endpoints.get(endpoint_id)
    if endpoint is None:
        details = [{"field": field, "message": "no such endpoint"}] if field else None
        raise NotFound("Endpoint not found", details=details)
    return endpoint


async def _base_model(uow: UnitOfWork, base_model_id: uuid.UUID) -> BaseModel:
    model = await uow.base_models.get(base_model_id)
    if model is None:
        raise BaseModelNotFound()
    return model
