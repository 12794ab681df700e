"""Admin use cases: GPU endpoints and the base models they serve."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    new_id,
)
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.schema import input_schema_problems
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tarsify.services.common import apply_changes, check_slug

ENDPOINT_FIELDS = (
    "provider_endpoint_id",
    "name",
    "source",
    "docker_image",
    "gpu_type",
    "is_active",
)
BASE_MODEL_FIELDS = (
    "endpoint_id",
    "slug",
    "name",
    "description",
    "category",
    "input_schema",
    "output_type",
    "output_format",
    "estimated_seconds",
    "is_active",
    "min_price_per_run",
)


@dataclass(slots=True, frozen=True)
class NewEndpoint:
    """What an admin gives to register a GPU endpoint."""

    provider_endpoint_id: str
    name: str
    gpu_type: str
    source: EndpointSource = EndpointSource.HUB
    docker_image: str | None = None
    is_active: bool = True


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


def _check_schema(schema: Any) -> None:
    problems = input_schema_problems(schema)
    if problems:
        raise InvalidBody("inputSchema is not a valid JSON Schema of type object", details=problems)


class CatalogService:
    """Registers, lists, changes and retires GPU endpoints and base models."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        catalog_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        # Told after each change this service commits (the run targets a process keeps).
        self._catalog_changed = catalog_changed

    async def create_endpoint(self, data: NewEndpoint) -> GpuEndpoint:
        """Register an endpoint; ``AlreadyExists`` when its provider id is registered."""
        now = self._clock.now()
        endpoint = GpuEndpoint(id=new_id(), created_at=now, updated_at=now, **_fields(data))
        async with self._uow() as uow:
            if await uow.endpoints.get_by_provider_id(data.provider_endpoint_id):
                raise AlreadyExists("An endpoint with this runpodEndpointId exists")
            await uow.endpoints.add(endpoint)
            await uow.commit()
            self._catalog_changed()
        return endpoint

    async def list_endpoints(self, page: PageRequest) -> Page[EndpointWithCount]:
        """All endpoints, newest first, with their base model counts."""
        async with self._uow() as uow:
            return await uow.endpoints.list(page)

    async def find_endpoint(self, provider_endpoint_id: str) -> GpuEndpoint | None:
        """The endpoint registered with this provider id, if any."""
        async with self._uow() as uow:
            return await uow.endpoints.get_by_provider_id(provider_endpoint_id)

    async def find_base_model(self, slug: str) -> BaseModel | None:
        """The base model with this slug, if any."""
        async with self._uow() as uow:
            return await uow.base_models.get_by_slug(slug)

    async def update_endpoint(self, endpoint_id: uuid.UUID, changes: dict[str, Any]) -> GpuEndpoint:
        """Change some fields of an endpoint."""
        async with self._uow() as uow:
            endpoint = await _endpoint(uow, endpoint_id)
            new_provider_id = changes.get("provider_endpoint_id")
            if new_provider_id and new_provider_id != endpoint.provider_endpoint_id:
                if await uow.endpoints.get_by_provider_id(new_provider_id):
                    raise AlreadyExists("An endpoint with this runpodEndpointId exists")
            apply_changes(endpoint, changes, ENDPOINT_FIELDS)
            endpoint.updated_at = self._clock.now()
            await uow.endpoints.update(endpoint)
            await uow.commit()
            self._catalog_changed()
        return endpoint

    async def deactivate_endpoint(self, endpoint_id: uuid.UUID) -> GpuEndpoint:
        """Soft delete: the endpoint stays, inactive; no new runs reach it."""
        return await self.update_endpoint(endpoint_id, {"is_active": False})

    async def create_base_model(self, data: NewBaseModel) -> BaseModelWithEndpoint:
        """Register a base model on an existing endpoint, with a valid input schema."""
        check_slug(data.slug)
        _check_schema(data.input_schema)
        now = self._clock.now()
        model = BaseModel(id=new_id(), created_at=now, updated_at=now, **_fields(data))
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
        self, base_model_id: uuid.UUID, changes: dict[str, Any]
    ) -> BaseModelWithEndpoint:
        """Change some fields of a base model, with the same checks as on create."""
        if "slug" in changes:
            check_slug(changes["slug"])
        if "input_schema" in changes:
            _check_schema(changes["input_schema"])
        async with self._uow() as uow:
            model = await _base_model(uow, base_model_id)
            if "slug" in changes and changes["slug"] != model.slug:
                if await uow.base_models.get_by_slug(changes["slug"]):
                    raise AlreadyExists("A base model with this slug exists")
            apply_changes(model, changes, BASE_MODEL_FIELDS)
            endpoint = await _endpoint(uow, model.endpoint_id, field="endpointId")
            model.updated_at = self._clock.now()
            await uow.base_models.update(model)
            await uow.commit()
            self._catalog_changed()
        return BaseModelWithEndpoint(model, endpoint)

    async def deactivate_base_model(self, base_model_id: uuid.UUID) -> BaseModelWithEndpoint:
        """Soft delete: the model stays, inactive; its Tars models can no longer run."""
        return await self.update_base_model(base_model_id, {"is_active": False})


def _fields(data: NewEndpoint | NewBaseModel) -> dict[str, Any]:
    return {name: getattr(data, name) for name in data.__slots__}


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
