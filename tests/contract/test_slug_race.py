"""Contract: concurrent creates of one title all get a slug of their own (real transactions)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.clock import SystemClock
from tarsify.domain.errors import SlugAlreadyExists
from tarsify.ports.storage import UnitOfWorkFactory
from tarsify.services.studio import NewTarsModel, StudioService
from tests.contract.factories import seed_catalog

CONCURRENT = 20


async def test_concurrent_creates_of_one_title_get_distinct_free_slugs(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    studio = StudioService(uow_factory, SystemClock())
    new = NewTarsModel(base_model_id=cat.base_model.id, title="Neon Portraits")
    created = await asyncio.gather(
        *(studio.create(cat.developer.id, new) for _ in range(CONCURRENT))
    )
    slugs = {c.model.slug for c in created}
    assert len(slugs) == CONCURRENT
    assert "neon-portraits" in slugs
    async with uow_factory() as uow:
        for slug in slugs:
            assert await uow.tars_models.get_by_slug(slug) is not None
    # With a slug the developer chose, a clash is still a conflict.
    chosen = NewTarsModel(base_model_id=cat.base_model.id, title="x", slug="neon-portraits")
    with pytest.raises(SlugAlreadyExists):
        await studio.create(cat.developer.id, chosen)
