"""The Tars model entity: a developer's branded wrapper around a base model, and every
rule of its life (slug, price, configuration, publication). ``models`` names it too.

Each move checks everything first and changes nothing when refused; services load the
model and its base model, ask it, and store it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from tarsify.domain.catalog import BaseModel
from tarsify.domain.config import ConfigOverrides, config_problems
from tarsify.domain.credits import check_price
from tarsify.domain.errors import BaseModelNotActive, InvalidStatusTransition, SlugAlreadyExists
from tarsify.domain.jsonsafe import JsonObject
from tarsify.domain.schema import Violation
from tarsify.domain.slugs import check_slug

MAX_SLUG_CHARS = 200


class TarsModelStatus(StrEnum):
    """Lifecycle of a Tars model."""

    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


_DRAFT, _PUBLISHED, _ARCHIVED = (
    TarsModelStatus.DRAFT,
    TarsModelStatus.PUBLISHED,
    TarsModelStatus.ARCHIVED,
)
# The statuses a model may take from each one (staying is always allowed).
STATUS_MOVES = {
    _DRAFT: frozenset({_DRAFT, _PUBLISHED, _ARCHIVED}),
    _PUBLISHED: frozenset({_PUBLISHED, _DRAFT, _ARCHIVED}),
    _ARCHIVED: frozenset({_ARCHIVED, _DRAFT}),
}


class TarsModelChanges(TypedDict, total=False):
    """A developer's change of a Tars model: only the keys given change."""

    title: str
    slug: str
    description: str | None
    config_overrides: ConfigOverrides
    status: TarsModelStatus
    price_per_run: int


@dataclass(slots=True)
class TarsModel:
    """A developer's branded wrapper around a base model.

    ``config_overrides`` is kept as the JSON object of api-contract.md (camelCase keys);
    ``config`` reads it.
    """

    id: uuid.UUID
    developer_id: uuid.UUID
    base_model_id: uuid.UUID
    title: str
    slug: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    config_overrides: JsonObject | None = None
    status: TarsModelStatus = TarsModelStatus.DRAFT
    published_at: datetime | None = None
    price_per_run: int = 0

    @classmethod
    def create(
        cls,
        id: uuid.UUID,
        developer_id: uuid.UUID,
        base: BaseModel,
        now: datetime,
        *,
        title: str,
        slug: str,
        description: str | None = None,
        config: ConfigOverrides | None = None,
        price_per_run: int = 0,
    ) -> TarsModel:
        """A DRAFT model on ``base``. Refused on an inactive base model
        (``BaseModelNotActive``), then below its minimum price or with a malformed slug
        (``InvalidBody``). Whether the slug is free is the caller's question."""
        if not base.is_active:
            raise BaseModelNotActive()
        check_price(price_per_run, base.min_price_per_run)
        check_slug(slug, max_length=MAX_SLUG_CHARS)
        return cls(
            id=id,
            developer_id=developer_id,
            base_model_id=base.id,
            title=title,
            slug=slug,
            description=description,
            config_overrides=(config or ConfigOverrides()).to_json(),
            created_at=now,
            updated_at=now,
            price_per_run=price_per_run,
        )

    @property
    def config(self) -> ConfigOverrides:
        """The developer's configuration."""
        return ConfigOverrides.parse(self.config_overrides)

    def problems(self, base: BaseModel | None) -> list[Violation]:
        """What stops the configuration from producing a valid payload for ``base`` (None:
        the base model no longer exists); empty when the model can be published."""
        return _problems(self.config, base)

    def new_slug(self, changes: TarsModelChanges) -> str | None:
        """The slug ``changes`` gives the model when it differs from its own."""
        slug = changes.get("slug")
        return None if slug == self.slug else slug

    def edit(
        self,
        changes: TarsModelChanges,
        base: BaseModel | None,
        now: datetime,
        *,
        slug_taken: bool = False,
    ) -> list[Violation]:
        """Apply a developer's change; the publish problems of the result (``problems``).

        Refused, with nothing changed, in this order: a malformed slug (``InvalidBody``),
        a status this one cannot move to (``InvalidStatusTransition``), a new slug another
        model has (``slug_taken``: ``SlugAlreadyExists``), a new price below the base
        model's minimum (``InvalidBody``), and a result that is PUBLISHED while it cannot
        be published (``InvalidStatusTransition`` with every problem). Publishing sets
        ``published_at``; staying published keeps it.
        """
        if "slug" in changes:
            check_slug(changes["slug"], max_length=MAX_SLUG_CHARS)
        target = changes.get("status", self.status)
        if target not in STATUS_MOVES[self.status]:
            raise InvalidStatusTransition(
                f"A {self.status} model cannot become {target}",
                details=[{"field": "status", "message": f"{self.status} -> {target} not allowed"}],
            )
        if slug_taken and self.new_slug(changes) is not None:
            raise SlugAlreadyExists()
        if "price_per_run" in changes:
            minimum = 0 if base is None else base.min_price_per_run
            check_price(changes["price_per_run"], minimum)
        new_config = changes.get("config_overrides")
        config = self.config if new_config is None else new_config
        problems = _problems(config, base)
        if target is _PUBLISHED:
            _check_publishable(problems, base)
            if self.status is not _PUBLISHED or self.published_at is None:
                self.published_at = now
        if "config_overrides" in changes:
            self.config_overrides = config.to_json()
        self.title = changes.get("title", self.title)
        self.slug = changes.get("slug", self.slug)
        self.description = changes.get("description", self.description)
        self.price_per_run = changes.get("price_per_run", self.price_per_run)
        self.status = target
        self.updated_at = now
        return problems


def _problems(config: ConfigOverrides, base: BaseModel | None) -> list[Violation]:
    if base is None:
        return [{"field": "baseModelId", "message": "base model no longer exists"}]
    return config_problems(config, base.input_schema)


def _check_publishable(problems: list[Violation], base: BaseModel | None) -> None:
    """``InvalidStatusTransition`` with every problem when the model cannot be published."""
    blocking = list(problems)
    if base is not None and not base.is_active:
        blocking.append({"field": "baseModelId", "message": "base model is not active"})
    if blocking:
        raise InvalidStatusTransition(
            "The model cannot be published: its configuration cannot produce a valid payload",
            details=blocking,
        )
