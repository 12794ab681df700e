"""The catalog's bodies and answers: GPU endpoints and base models as admins manage them,
and base models as developers browse them."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from tarsify.domain import models as m
from tarsify.domain.credits import MAX_PRICE_PER_RUN
from tarsify.domain.errors import InvalidBody
from tarsify.domain.models import EndpointSource, ModelCategory, OutputType, Provider

from .schemas import SLUG_PATTERN, RequestModel, Timestamp, View, absent

RUNPOD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# Any provider's id: a RunPod endpoint id, a fal model id (``owner/app[/path]``); the
# shape each provider accepts is the core's check (``check_provider_endpoint_id``).
PROVIDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$"


class EndpointCreate(RequestModel):
    """Register a GPU endpoint (admin). ``providerEndpointId`` is the provider's own id;
    ``runpodEndpointId`` is its older name, accepted for RunPod endpoints."""

    provider: Provider = Provider.RUNPOD
    provider_endpoint_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=PROVIDER_ID_PATTERN
    )
    runpod_endpoint_id: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=RUNPOD_ID_PATTERN
    )
    name: str = Field(min_length=1, max_length=100)
    gpu_type: str | None = Field(default=None, min_length=1, max_length=50)
    source: EndpointSource = EndpointSource.HUB
    docker_image: str | None = Field(default=None, max_length=500)
    is_active: bool = True


class EndpointUpdate(RequestModel):
    """Change some fields of a GPU endpoint (admin)."""

    provider: Provider = absent()
    provider_endpoint_id: str = absent(min_length=1, max_length=200, pattern=PROVIDER_ID_PATTERN)
    runpod_endpoint_id: str = absent(min_length=1, max_length=100, pattern=RUNPOD_ID_PATTERN)
    name: str = absent(min_length=1, max_length=100)
    gpu_type: str | None = Field(default=None, min_length=1, max_length=50)
    source: EndpointSource = absent()
    docker_image: str | None = Field(default=None, max_length=500)
    is_active: bool = absent()


def _refused(field: str, message: str) -> InvalidBody:
    return InvalidBody("Invalid request body", details=[{"field": field, "message": message}])


def endpoint_changes(changes: dict[str, Any], *, creating: bool = False) -> dict[str, Any]:
    """An endpoint body's fields by the core's names: ``runpodEndpointId`` (RunPod only)
    becomes the provider's id, which a new endpoint must be given."""
    runpod_id = changes.pop("runpod_endpoint_id", None)
    if runpod_id is not None:
        if changes.get("provider", Provider.RUNPOD) is not Provider.RUNPOD:
            raise _refused("runpodEndpointId", "only for RunPod endpoints: use providerEndpointId")
        if changes.get("provider_endpoint_id") not in (None, runpod_id):
            raise _refused("runpodEndpointId", "differs from providerEndpointId")
        changes["provider_endpoint_id"] = runpod_id
    if creating and changes.get("provider_endpoint_id") is None:
        raise _refused("providerEndpointId", "Field required (or runpodEndpointId for RunPod)")
    return changes


class BaseModelCreate(RequestModel):
    """Register a base model on an endpoint (admin)."""

    endpoint_id: uuid.UUID
    slug: str = Field(min_length=2, max_length=100, pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    category: ModelCategory
    input_schema: dict[str, Any]
    output_type: OutputType
    output_format: str = Field(min_length=1, max_length=20)
    estimated_seconds: int = Field(default=30, ge=1, le=86_400)
    is_active: bool = True
    min_price_per_run: int = Field(default=0, ge=0, le=MAX_PRICE_PER_RUN)
    streaming: bool = False


class BaseModelUpdate(RequestModel):
    """Change some fields of a base model (admin)."""

    endpoint_id: uuid.UUID = absent()
    slug: str = absent(min_length=2, max_length=100, pattern=SLUG_PATTERN)
    name: str = absent(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    category: ModelCategory = absent()
    input_schema: dict[str, Any] = absent()
    output_type: OutputType = absent()
    output_format: str = absent(min_length=1, max_length=20)
    estimated_seconds: int = absent(ge=1, le=86_400)
    is_active: bool = absent()
    min_price_per_run: int = absent(ge=0, le=MAX_PRICE_PER_RUN)
    streaming: bool = absent()


class EndpointView(View):
    """A GPU endpoint as admins see it (with the provider's endpoint id;
    ``runpodEndpointId`` repeats it for RunPod endpoints and is null for others)."""

    id: uuid.UUID
    provider: Provider
    provider_endpoint_id: str
    runpod_endpoint_id: str | None
    name: str
    source: EndpointSource
    docker_image: str | None
    gpu_type: str | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


class EndpointListItem(EndpointView):
    """An endpoint in the admin list, with how many base models use it."""

    base_model_count: int


class EndpointSummary(View):
    """The endpoint embedded in an admin base model."""

    id: uuid.UUID
    provider: Provider
    provider_endpoint_id: str
    runpod_endpoint_id: str | None
    name: str
    gpu_type: str | None
    is_active: bool


class BaseModelFields(View):
    """What every audience that sees base models may see of one."""

    id: uuid.UUID
    slug: str
    name: str
    description: str | None
    category: ModelCategory
    input_schema: dict[str, Any]
    output_type: OutputType
    output_format: str
    estimated_seconds: int
    min_price_per_run: int
    streaming: bool


class AdminBaseModelView(BaseModelFields):
    """A base model as admins see it, with its endpoint."""

    endpoint_id: uuid.UUID
    endpoint: EndpointSummary
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp


class DeveloperBaseModelView(BaseModelFields):
    """A browsable base model for developers (no endpoint identifiers)."""

    gpu_type: str | None


def _provider_fields(e: m.GpuEndpoint) -> dict[str, object]:
    runpod_id = e.provider_endpoint_id if e.provider is Provider.RUNPOD else None
    return {
        "provider": e.provider,
        "provider_endpoint_id": e.provider_endpoint_id,
        "runpod_endpoint_id": runpod_id,
    }


def _endpoint_fields(e: m.GpuEndpoint) -> dict[str, object]:
    return {
        "id": e.id,
        **_provider_fields(e),
        "name": e.name,
        "source": e.source,
        "docker_image": e.docker_image,
        "gpu_type": e.gpu_type,
        "is_active": e.is_active,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


def endpoint_view(e: m.GpuEndpoint) -> EndpointView:
    """An endpoint for admins."""
    return EndpointView.model_validate(_endpoint_fields(e))


def endpoint_item_view(row: m.EndpointWithCount) -> EndpointListItem:
    """An endpoint row of the admin list, with its base model count."""
    fields = _endpoint_fields(row.endpoint) | {"base_model_count": row.base_model_count}
    return EndpointListItem.model_validate(fields)


def _base_fields(b: m.BaseModel) -> dict[str, object]:
    return {
        "id": b.id,
        "slug": b.slug,
        "name": b.name,
        "description": b.description,
        "category": b.category,
        "input_schema": b.input_schema,
        "output_type": b.output_type,
        "output_format": b.output_format,
        "estimated_seconds": b.estimated_seconds,
        "min_price_per_run": b.min_price_per_run,
        "streaming": b.streaming,
    }


def admin_base_model_view(row: m.BaseModelWithEndpoint) -> AdminBaseModelView:
    """A base model for admins, with its endpoint."""
    b, e = row.base_model, row.endpoint
    summary = EndpointSummary.model_validate(
        {
            "id": e.id,
            **_provider_fields(e),
            "name": e.name,
            "gpu_type": e.gpu_type,
            "is_active": e.is_active,
        }
    )
    fields = _base_fields(b) | {
        "endpoint_id": b.endpoint_id,
        "endpoint": summary,
        "is_active": b.is_active,
        "created_at": b.created_at,
        "updated_at": b.updated_at,
    }
    return AdminBaseModelView.model_validate(fields)


def developer_base_model_view(row: m.BaseModelWithEndpoint) -> DeveloperBaseModelView:
    """A base model for developers: no endpoint identifiers."""
    fields = _base_fields(row.base_model) | {"gpu_type": row.endpoint.gpu_type}
    return DeveloperBaseModelView.model_validate(fields)
