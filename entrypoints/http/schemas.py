"""Request bodies: pydantic models with camelCase JSON names; unknown fields are refused.
And what every request body and answer builds on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

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
