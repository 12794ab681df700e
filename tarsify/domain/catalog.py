"""The catalog: GPU endpoints and the base models they serve, and the rules of changing
them (an admin's work). ``models`` names these entities too."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict

from tarsify.domain.errors import InvalidBody
from tarsify.domain.jsonsafe import JsonObject
from tarsify.domain.schema import input_schema_problems
from tarsify.domain.slugs import check_slug


class EndpointSource(StrEnum):
    """Where a GPU endpoint's worker image comes from."""

    HUB = "HUB"
    CUSTOM = "CUSTOM"


class Provider(StrEnum):
    """The GPU provider that hosts an endpoint."""

    RUNPOD = "runpod"
    FAL = "fal"


# RunPod's endpoint ids are one segment; fal's model ids are ``owner/app[/path]``.
_PROVIDER_ID_SHAPES = {
    Provider.RUNPOD: re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*"),
    Provider.FAL: re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*){1,4}"),
}
_PROVIDER_ID_HINTS = {
    Provider.RUNPOD: "a RunPod endpoint id (letters, digits, '.', '_', '-')",
    Provider.FAL: "a fal model id such as fal-ai/fast-sdxl or fal-ai/flux/dev",
}


def check_provider_endpoint_id(provider: Provider, provider_endpoint_id: str) -> None:
    """``InvalidBody`` (field ``providerEndpointId``) when the id cannot be one of
    ``provider``'s."""
    if not _PROVIDER_ID_SHAPES[provider].fullmatch(provider_endpoint_id):
        raise InvalidBody(
            "providerEndpointId does not fit the provider",
            details=[
                {
                    "field": "providerEndpointId",
                    "message": f"expected {_PROVIDER_ID_HINTS[provider]}",
                }
            ],
        )


def job_target(provider: Provider, provider_endpoint_id: str) -> str:
    """Where a job is sent, as the engine stores it and the ``GpuProvider`` port receives
    it: a RunPod endpoint id alone (as stored before other providers existed), another
    provider's id prefixed with its name (``fal:fal-ai/fast-sdxl``)."""
    if provider is Provider.RUNPOD:
        return provider_endpoint_id
    return f"{provider.value}:{provider_endpoint_id}"


def split_job_target(target: str) -> tuple[Provider, str]:
    """The provider and its own endpoint id of a ``job_target``."""
    name, sep, rest = target.partition(":")
    if sep and name in {p.value for p in Provider}:
        return Provider(name), rest
    return Provider.RUNPOD, target


class ModelCategory(StrEnum):
    """Marketplace category of a base model."""

    IMAGE = "IMAGE"
    AUDIO = "AUDIO"
    TEXT = "TEXT"
    VIDEO = "VIDEO"
    DOCUMENT = "DOCUMENT"


class OutputType(StrEnum):
    """What a base model returns."""

    IMAGE = "IMAGE"
    AUDIO = "AUDIO"
    TEXT = "TEXT"
    FILE = "FILE"
    JSON = "JSON"


class EndpointChanges(TypedDict, total=False):
    """An admin's change of a GPU endpoint: only the keys given change."""

    provider: Provider
    provider_endpoint_id: str
    name: str
    gpu_type: str | None
    source: EndpointSource
    docker_image: str | None
    is_active: bool


@dataclass(slots=True)
class GpuEndpoint:
    """A serverless GPU endpoint at a provider (RunPod, fal).

    ``provider_endpoint_id`` is the provider's own id (RunPod's endpoint id, fal's model
    id): internal, shown to admins only. ``gpu_type`` is informative (fal names none).
    """

    id: uuid.UUID
    provider_endpoint_id: str
    name: str
    gpu_type: str | None
    created_at: datetime
    updated_at: datetime
    source: EndpointSource = EndpointSource.HUB
    docker_image: str | None = None
    is_active: bool = True
    provider: Provider = Provider.RUNPOD

    @property
    def job_target(self) -> str:
        """Where its jobs are sent (``job_target``)."""
        return job_target(self.provider, self.provider_endpoint_id)

    def change(self, changes: EndpointChanges, now: datetime) -> None:
        """Apply ``changes``; a new provider id must be free (the caller's check), and fit
        the provider (checked here)."""
        provider = changes.get("provider", self.provider)
        provider_endpoint_id = changes.get("provider_endpoint_id", self.provider_endpoint_id)
        if "provider" in changes or "provider_endpoint_id" in changes:
            check_provider_endpoint_id(provider, provider_endpoint_id)
        self.provider = provider
        self.provider_endpoint_id = changes.get("provider_endpoint_id", self.provider_endpoint_id)
        self.name = changes.get("name", self.name)
        self.gpu_type = changes.get("gpu_type", self.gpu_type)
        self.source = changes.get("source", self.source)
        self.docker_image = changes.get("docker_image", self.docker_image)
        self.is_active = changes.get("is_active", self.is_active)
        self.updated_at = now


class BaseModelChanges(TypedDict, total=False):
    """An admin's change of a base model: only the keys given change."""

    endpoint_id: uuid.UUID
    slug: str
    name: str
    description: str | None
    category: ModelCategory
    input_schema: JsonObject
    output_type: OutputType
    output_format: str
    estimated_seconds: int
    is_active: bool
    min_price_per_run: int
    streaming: bool


def check_input_schema(schema: Any) -> None:
    """``InvalidBody`` with every problem when ``schema`` cannot be an input schema."""
    problems = input_schema_problems(schema)
    if problems:
        raise InvalidBody("inputSchema is not a valid JSON Schema of type object", details=problems)


@dataclass(slots=True)
class BaseModel:
    """A platform model served by one GPU endpoint, with the JSON Schema of its inputs."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    slug: str
    name: str
    category: ModelCategory
    input_schema: JsonObject
    output_type: OutputType
    output_format: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    estimated_seconds: int = 30
    is_active: bool = True
    min_price_per_run: int = 0
    # Its worker yields chunks (a RunPod generator handler, a fal streaming app).
    streaming: bool = False

    @staticmethod
    def check_changes(changes: BaseModelChanges) -> None:
        """What any base model refuses, checked before one is read: a malformed slug, an
        input schema that cannot be one (``InvalidBody``)."""
        if "slug" in changes:
            check_slug(changes["slug"])
        if "input_schema" in changes:
            check_input_schema(changes["input_schema"])

    def change(self, changes: BaseModelChanges, now: datetime) -> None:
        """Apply ``changes`` that passed ``check_changes``; a new slug must be free and a
        new endpoint must exist (the caller's checks)."""
        self.endpoint_id = changes.get("endpoint_id", self.endpoint_id)
        self.slug = changes.get("slug", self.slug)
        self.name = changes.get("name", self.name)
        self.description = changes.get("description", self.description)
        self.category = changes.get("category", self.category)
        self.input_schema = changes.get("input_schema", self.input_schema)
        self.output_type = changes.get("output_type", self.output_type)
        self.output_format = changes.get("output_format", self.output_format)
        self.estimated_seconds = changes.get("estimated_seconds", self.estimated_seconds)
        self.is_active = changes.get("is_active", self.is_active)
        self.min_price_per_run = changes.get("min_price_per_run", self.min_price_per_run)
        self.streaming = changes.get("streaming", self.streaming)
        self.updated_at = now
