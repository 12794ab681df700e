"""Request bodies: pydantic models with camelCase JSON names; unknown fields are refused.
And what every request body and answer builds on."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from tarsify.domain.credits import MAX_PRICE_PER_RUN
from tarsify.domain.models import (
    TarsModelStatus,
)
from tarsify.domain.webhooks import MAX_URL_CHARS, WebhookFilter

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    # PATCH fields default to "absent"; a documented ``default: null`` would wrongly
    # suggest that null is an accepted value for non-nullable fields.
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class RequestModel(BaseModel):
    """Base of request bodies: camelCase names only, no unknown fields, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        extra="forbid",
        strict=True,
        json_schema_extra=_drop_null_defaults,
    )

    def changes(self) -> dict[str, Any]:
        """The fields the client sent (PATCH semantics), by their Python names."""
        return {name: getattr(self, name) for name in self.model_fields_set}


def absent(**constraints: Any) -> Any:
    """A PATCH field that may be left out but, when sent, must have its declared type."""
    return Field(default=None, **constraints)


def iso_timestamp(value: datetime) -> str:
    """How responses write an instant: ISO 8601 with its UTC offset."""
    # Rows read back from SQLite may be naive; every stored instant is UTC.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.isoformat()


Timestamp = Annotated[datetime, PlainSerializer(iso_timestamp, return_type=str)]


class View(BaseModel):
    """Base of response bodies.

    Developer, consumer and marketplace views never carry the provider's endpoint id or a
    provider job id; only the admin endpoint views do.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class PageMeta(View):
    """``meta`` of list responses."""

    limit: int
    next_cursor: str | None


class ConfigOverridesBody(RequestModel):
    """A Tars model's configuration; every key optional, null allowed."""

    default_inputs: dict[str, Any] | None = None
    locked_inputs: dict[str, Any] | None = None
    hidden_fields: list[str] | None = None
    prompt_prefix: str | None = Field(default=None, max_length=10_000)
    prompt_suffix: str | None = Field(default=None, max_length=10_000)

    def to_json(self) -> dict[str, Any]:
        """The stored JSON form (camelCase keys), keeping only what was sent."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class TarsModelCreate(RequestModel):
    """Create a DRAFT Tars model on a base model (developer)."""

    base_model_id: str = Field(
        min_length=2,
        max_length=100,
        description="The base model's id (a UUID) or its slug (`sdxl-image`).",
    )
    title: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, min_length=2, max_length=200, pattern=SLUG_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    config_overrides: ConfigOverridesBody | None = None
    price_per_run: int = Field(default=0, ge=0, le=MAX_PRICE_PER_RUN)

    @field_validator("base_model_id")
    @classmethod
    def _id_or_slug(cls, value: str) -> str:
        if _uuid(value) is None and not re.fullmatch(SLUG_PATTERN, value):
            raise PydanticCustomError(
                "base_model_ref", "must be a base model's id (a UUID) or its slug"
            )
        return value

    @property
    def base_model(self) -> uuid.UUID | str:
        """The base model's id, or its slug: a value shaped like a UUID is an id."""
        return _uuid(self.base_model_id) or self.base_model_id


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class TarsModelUpdate(RequestModel):
    """Change a Tars model; ``status: PUBLISHED`` publishes it (developer)."""

    title: str = absent(min_length=1, max_length=200)
    slug: str = absent(min_length=2, max_length=200, pattern=SLUG_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)
    config_overrides: ConfigOverridesBody | None = None
    status: TarsModelStatus = absent()
    price_per_run: int = absent(ge=0, le=MAX_PRICE_PER_RUN)

    def changes(self) -> dict[str, Any]:
        """The sent fields, with ``configOverrides`` in its stored JSON form."""
        changes = super().changes()
        if "config_overrides" in changes:
            config = changes["config_overrides"]
            changes["config_overrides"] = None if config is None else config.to_json()
        return changes


class RunRequest(RequestModel):
    """Run a published Tars model (consumer); optionally be called back."""

    inputs: dict[str, Any] = Field(description="The model's inputs (its inputSchema)")
    webhook: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_URL_CHARS,
        description="An http(s) URL to POST signed events of this execution to",
    )
    webhook_events_filter: list[WebhookFilter] | None = Field(
        default=None,
        min_length=1,
        max_length=len(WebhookFilter),
        description="Which events to send: start (it runs), completed (it ended, whatever "
        "the outcome). Default: completed",
    )
