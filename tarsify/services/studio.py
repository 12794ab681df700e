"""Developer use cases: Tars models (create, read, configure, publish, archive) and
their figures.

The rules are the entity's (``tarsify.domain.tars_model``); these use cases read what it
needs (its base model, whether a slug is taken), ask it, and store it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tarsify.domain.config import ConfigOverrides
from tarsify.domain.errors import AlreadyExists, BaseModelNotFound, SlugAlreadyExists
from tarsify.domain.figures import DEFAULT_DAYS, DeveloperFigures, Figures, Window
from tarsify.domain.models import BaseModel, TarsModel, TarsModelStatus, new_id
from tarsify.domain.pagination import Page, PageRequest
from tarsify.domain.policies import owned_tars_model
from tarsify.domain.schema import Violation
from tarsify.domain.slugs import random_slug, slug_candidates
from tarsify.domain.tars_model import TarsModelChanges
from tarsify.ports.clock import Clock
from tarsify.ports.repositories import TarsModelRepository
from tarsify.ports.storage import StudioFigures, UnitOfWork, UnitOfWorkFactory

# Tries of a generated slug under concurrent creates of one title (the last one with a
# random suffix, which cannot clash with the others' sequence).
SLUG_ATTEMPTS = 25


@dataclass(slots=True, frozen=True)
class NewTarsModel:
    """What a developer gives to create a Tars model (slug generated when None)."""

    base_model_id: uuid.UUID | str  # the base model's id, or its slug
    title: str
    slug: str | None = None
    description: str | None = None
    config_overrides: ConfigOverrides = field(default_factory=ConfigOverrides)
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
        figures: StudioFigures | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._figures = figures
        # Told after each change this service commits (the run targets a process keeps).
        self._catalog_changed = catalog_changed

    async def create(self, developer_id: uuid.UUID, data: NewTarsModel) -> StudioModel:
        """Create a DRAFT model on an active base model (by id or slug); slug from the title
        when absent.

        A generated slug is the next free one (``title``, ``title-2``, ...), tried again
        when a concurrent create takes it first; a chosen slug that is taken is refused.
        """
        for _ in range(SLUG_ATTEMPTS - 1):
            try:
                return await self._create_once(developer_id, data)
            except SlugAlreadyExists:
                if data.slug is not None:
                    raise
        return await self._create_once(developer_id, data, random_suffix=True)

    async def _create_once(
        self, developer_id: uuid.UUID, data: NewTarsModel, *, random_suffix: bool = False
    ) -> StudioModel:
        async with self._uow() as uow:
            base = await _base_model(uow, data.base_model_id)
            slug = data.slug
            if slug is None:
                slug = await _free_slug(uow.tars_models, data.title, random_suffix=random_suffix)
            model = TarsModel.create(
                new_id(),
                developer_id,
                base,
                self._clock.now(),
                title=data.title,
                slug=slug,
                description=data.description,
                config=data.config_overrides,
                price_per_run=data.price_per_run,
            )
            if data.slug is not None and await uow.tars_models.get_by_slug(slug):
                raise SlugAlreadyExists()
            try:
                await uow.tars_models.add(model)
                await uow.commit()
                self._catalog_changed()
            except AlreadyExists as exc:
                raise SlugAlreadyExists() from exc
            return StudioModel(model, model.problems(base))

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
            base = await uow.base_models.get(model.base_model_id)
            return StudioModel(model, model.problems(base))

    async def update(
        self, developer_id: uuid.UUID, model_id: uuid.UUID, changes: TarsModelChanges
    ) -> StudioModel:
        """Change a model (``TarsModel.edit``): moving to PUBLISHED sets ``published_at``
        and is refused with ``InvalidStatusTransition`` (details = the problems) when the
        config cannot produce a valid payload; a published model cannot be changed into
        such a config either."""
        async with self._uow() as uow:
            model = owned_tars_model(await uow.tars_models.get(model_id), developer_id)
            base = await uow.base_models.get(model.base_model_id)
            slug = model.new_slug(changes)
            taken = slug is not None and await uow.tars_models.get_by_slug(slug) is not None
            problems = model.edit(changes, base, self._clock.now(), slug_taken=taken)
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

    def _figures_port(self) -> StudioFigures:
        if self._figures is None:
            raise RuntimeError("StudioService was built without figures")
        return self._figures

    async def model_figures(
        self, developer_id: uuid.UUID, model_id: uuid.UUID, days: int = DEFAULT_DAYS
    ) -> Figures:
        """One own model's figures over the last ``days`` UTC days (every day a row)."""
        window = Window.ending(self._clock.now(), days)
        async with self._uow() as uow:
            owned_tars_model(await uow.tars_models.get(model_id), developer_id)
        figures = await self._figures_port().model_figures(model_id, window.since)
        return figures.over(window)

    async def developer_figures(
        self, developer_id: uuid.UUID, days: int = DEFAULT_DAYS
    ) -> DeveloperFigures:
        """The developer's figures over all their models, and each model's line."""
        window = Window.ending(self._clock.now(), days)
        found = await self._figures_port().developer_figures(developer_id, window.since)
        return DeveloperFigures(found.totals.over(window), found.models)


async def _base_model(uow: UnitOfWork, ref: uuid.UUID | str) -> BaseModel:
    """The base model named by its id or its slug; ``BaseModelNotFound`` otherwise."""
    if isinstance(ref, uuid.UUID):
        base = await uow.base_models.get(ref)
    else:
        base = await uow.base_models.get_by_slug(ref)
    if base is None:
        raise BaseModelNotFound(details=[{"field": "baseModelId"}])
    return base


async def _free_slug(
    models: TarsModelRepository, title: str, *, random_suffix: bool = False
) -> str:
    """The first free slug of ``title`` (``slug_candidates``), or one with a random suffix."""
    if not random_suffix:
        for candidate in slug_candidates(title):
            if await models.get_by_slug(candidate) is None:
                return candidate
    return random_slug(title)
