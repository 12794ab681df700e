"""What every resource's request bodies and answers build on (``schemas_<resource>.py``
holds each resource's own): camelCase JSON names, unknown request fields refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

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
