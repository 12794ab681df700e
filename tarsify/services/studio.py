"""Developer use cases: Tars models (create, read, configure, publish, archive)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tarsify.domain.config import ConfigOverrides, config_problems
from tarsify.domain.credits import check_price
from tarsify.domain.errors import (
    AlreadyExists,
    BaseModelNotActive,
    BaseModelNotFound,
    InvalidStatusTransition,
    SlugAlreadyExists,
)
from tarsify.domain.models import JsonObject, TarsModel, TarsModelStatus, new_id
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.policies import owned_tars_model
from tarsify.domain.schema import Violation
from tarsify.ports.clock import Clock
from tarsify.ports.storage import UnitOfWork, UnitOfWorkFactory
from tarsify.services.common import apply_changes, check_slug, free_slug

# Tries of a generated slug under concurrent creates of one title (the last one with a
# random suffix, which cannot clash with the others' sequence).
SLUG_ATTEMPTS = 25
TARS_FIELDS = ("title", "slug", "description", "config_overrides", "status", "price_per_run")
_DRAFT, _PUBLISHED, _ARCHIVED = (
    TarsModelStatus.DRAFT,
    TarsModelStatus.PUBLISHED,
    TarsModelStatus.ARCHIVED,
)
_STATUS_MOVES = {
    _DRAFT: {_DRAFT, _PUBLISHED, _ARCHIVED},
    _PUBLISHED: {_PUBLISHED, _DRAFT, _ARCHIVED},
    _ARCHIVED: {_ARCHIVED, _DRAFT},
}


@dataclass(slots=True, frozen=True)
class NewTarsModel:
    """What a developer gives to create a Tars model (slug generated when None)."""

    base_model_id: uuid.UUID | str  # the base model's id, or its slug
    title: str
    slug: str | None = None
    description: str | None = None
    config_overrides: JsonObject | None = None
    price_per_run: int = 0


@dataclass(slots=True, frozen=True)
class StudioModel:
    """A Tars model with what stops it from being published (empty when publishable)."""

    model: TarsModel
    problems: list[Violation]


class StudioService:
    """A developer's own Tars models; other developers' models answer not found."""

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

    async def create(self, developer_id: uuid.UUID, data: NewTarsModel) -> StudioModel:
        """Create a DRAFT model on an active base model (by id or slug); slug from the title
        when absent.

        A generated slug is the next free one (``title``, ``title-2``, ...), tried again
        when a concurrent create takes it first; a chosen slug that is taken is refused.
        """
        config = ConfigOverrides.parse(data.config_overrides)
        for _ in range(SLUG_ATTEMPTS - 1):
            try:
                return await self._create_once(developer_id, data, config)
            except SlugAlreadyExists:
                if data.slug is not None:
                    raise
        return await self._create_once(developer_id, data, config, random_suffix=True)

    async def _create_once(
        self,
        developer_id: uuid.UUID,
        data: NewTarsModel,
        config: ConfigOverrides,
        *,
        random_suffix: bool = False,
    ) -> StudioModel:
        now = self._clock.now()
        async with self._uow() as uow:
            ref = data.base_model_id
            if isinstance(ref, uuid.UUID):
                base = await uow.base_models.get(ref)
            else:
                base = await uow.base_models.get_by_slug(ref)
            if base is None:
                raise BaseModelNotFound(details=[{"field": "baseModelId"}])
            if not base.is_active:
                raise BaseModelNotActive()
            check_price(data.price_per_run, base.min_price_per_run)
            slug = await self._slug_for(uow, data.slug, data.title, random_suffix=random_suffix)
            model = TarsModel(
                id=new_id(),
                developer_id=developer_id,
                base_model_id=base.id,
                title=data.title,
                slug=slug,
                description=data.description,
                config_overrides=config.to_json(),
                created_at=now,
                updated_at=now,
                price_per_run=data.price_per_run,
            )
            try:
                await uow.tars_models.add(model)
                await uow.commit()
                self._catalog_changed()
            except AlreadyExists as exc:
                raise SlugAlreadyExists() from exc
            return StudioModel(model, config_problems(config, base.input_schema))

    async def find_by_slug(self, developer_id: uuid.UUID, slug: str) -> TarsModel | None:
        """The developer's own model with this slug, if any."""
        async with self._uow() as uow:
            model = await uow.tars_models.get_by_slug(slug)
        return model if model is not None and model.developer_id == developer_id else None

    async def list(self, developer_id: uuid.UUID, page: PageRequest) -> Page[TarsModel]:
        """The developer's models, newest first, every status."""
        async with self._uow() as uow:
            return await uow.tars_models.list_for_developer(developer_id, page)

    async def get(self, developer_id: uuid.UUID, model_id: uuid.UUID) -> StudioModel:
        """One of the developer's models with its publish problems."""
        async with self._uow() as uow:
            model = owned_tars_model(await uow.tars_models.get(model_id), developer_id)
            return StudioModel(model, await _problems(uow, model))

    async def update(
        self, developer_id: uuid.UUID, model_id: uuid.UUID, changes: dict[str, Any]
    ) -> StudioModel:
        """Change a model. Moving to PUBLISHED sets ``published_at`` and is refused with
        ``InvalidStatusTransition`` (details = the problems) when the config cannot produce
        a valid payload; a published model cannot be changed into such a config either."""
        changes = dict(changes)
        if "config_overrides" in changes:
            changes["config_overrides"] = ConfigOverrides.parse(
                changes["config_overrides"]
            ).to_json()
        if changes.get("slug") is not None:
            check_slug(changes["slug"], max_length=200)
        async with self._uow() as uow:
            model = owned_tars_model(await uow.tars_models.get(model_id), developer_id)
            before = model.status
            target = TarsModelStatus(changes.get("status", before))
            if target not in _STATUS_MOVES[before]:
                raise InvalidStatusTransition(
                    f"A {before} model cannot become {target}",
                    details=[{"field": "status", "message": f"{before} -> {target} not allowed"}],
                )
            if "slug" in changes and changes["slug"] is None:
                del changes["slug"]
            if changes.get("slug") not in (None, model.slug):
                if await uow.tars_models.get_by_slug(changes["slug"]):
                    raise SlugAlreadyExists()
            apply_changes(model, changes, TARS_FIELDS)
            if "price_per_run" in changes:
                await _check_price(uow, model)
            problems = await _problems(uow, model)
            if target is TarsModelStatus.PUBLISHED:
                await _check_publishable(uow, model, problems)
                if before is not TarsModelStatus.PUBLISHED or model.published_at is None:
                    model.published_at = self._clock.now()
            model.updated_at = self._clock.now()
            try:
                await uow.tars_models.update(model)
                await uow.commit()
            except AlreadyExists as exc:
                raise SlugAlreadyExists() from exc
        self._catalog_changed()
        return StudioModel(model, problems)

    async def archive(self, developer_id: uuid.UUID, model_id: uuid.UUID) -> StudioModel:
        """DELETE: archive the model; it leaves the marketplace, executions are kept."""
        return await self.update(developer_id, model_id, {"status": TarsModelStatus.ARCHIVED})

    async def _slug_for(
        self, uow: UnitOfWork, wanted: str | None, title: str, *, random_suffix: bool = False
    ) -> str:
        if wanted is None:
            return await free_slug(uow.tars_models, title, random_suffix=random_suffix)
        check_slug(wanted, max_length=200)
        if await uow.tars_models.get_by_slug(wanted):
            raise SlugAlreadyExists()
        return wanted


async def _check_publishable(uow: UnitOfWork, model: TarsModel, problems: list[Violation]) -> None:
    """``InvalidStatusTransition`` with every problem when ``model`` cannot be published."""
    base = await uow.base_models.get(model.base_model_id)
    if base is not None and not base.is_active:
        problems.append({"field": "baseModelId", "message": "base model is not active"})
    if problems:
        raise InvalidStatusTransition(
            "The model cannot be published: its configuration cannot produce a valid payload",
            details=problems,
        )


async def _check_price(uow: UnitOfWork, model: TarsModel) -> None:
    """A new price must be at least the base model's minimum."""
    base = await uow.base_models.get(model.base_model_id)
    check_price(model.price_per_run, 0 if base is None else base.min_price_per_run)


async def _problems(uow: UnitOfWork, model: TarsModel) -> list[Violation]:
    base = await uow.base_models.get(model.base_model_id)
    if base is None:
        return [{"field": "baseModelId", "message": "base model no longer exists"}]
    return config_problems(ConfigOverrides.parse(model.config_overrides), base.input_schema)
