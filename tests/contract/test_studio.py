"""Contract: Tars model repository and the marketplace listing."""

from __future__ import annotations

import uuid

import pytest

from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.models import MarketplaceListing, ModelCategory, TarsModelStatus
from tarsify.domain.pagination import Cursor, PageRequest
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import (
    at,
    base_model,
    developer,
    endpoint,
    published,
    seed_catalog,
    tars_model,
)

OVERRIDES = {
    "defaultInputs": {"width": 512, "style": None},
    "lockedInputs": {"steps": 30, "sampler": {"name": "euler", "eta": 0.5}},
    "hiddenFields": ["seed"],
    "promptPrefix": "anime, ",
    "promptSuffix": " — 高品質 ✨",
}


async def test_tars_model_round_trip_update_and_publish(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    draft = tars_model(cat.developer.id, cat.base_model.id, config_overrides=OVERRIDES)
    bare = tars_model(cat.developer.id, cat.base_model.id, description="plain")
    async with uow_factory() as uow:
        await uow.tars_models.add(draft)
        await uow.tars_models.add(bare)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.tars_models.get(draft.id) == draft
        assert await uow.tars_models.get_by_slug(draft.slug) == draft
        assert await uow.tars_models.get(bare.id) == bare
        assert await uow.tars_models.get(uuid.uuid4()) is None
        assert await uow.tars_models.get_by_slug("missing") is None
        draft.status, draft.published_at, draft.updated_at = (
            TarsModelStatus.PUBLISHED,
            at(100),
            at(100),
        )
        draft.config_overrides, draft.title, draft.slug = None, "Renamed", "renamed"
        await uow.tars_models.update(draft)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.tars_models.get_by_slug("renamed") == draft


async def test_tars_model_slug_is_unique(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    other = tars_model(cat.developer.id, cat.base_model.id)
    async with uow_factory() as uow:
        await uow.tars_models.add(other)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.tars_models.add(
                tars_model(cat.developer.id, cat.base_model.id, slug=cat.tars_model.slug)
            )
        other.slug = cat.tars_model.slug
        with pytest.raises(AlreadyExists):
            await uow.tars_models.update(other)


async def test_tars_model_needs_existing_developer_and_base_model(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    async with uow_factory() as uow:
        with pytest.raises(StorageError):
            await uow.tars_models.add(tars_model(uuid.uuid4(), cat.base_model.id))
    async with uow_factory() as uow:
        with pytest.raises(StorageError):
            await uow.tars_models.add(tars_model(cat.developer.id, uuid.uuid4()))


async def test_list_for_developer_shows_own_models_of_every_status(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)
    stranger = developer()
    mine = [
        tars_model(cat.developer.id, cat.base_model.id, created_at=at(10 + i), status=status)
        for i, status in enumerate(TarsModelStatus)
    ]
    async with uow_factory() as uow:
        await uow.developers.add(stranger)
        await uow.tars_models.add(tars_model(stranger.id, cat.base_model.id, created_at=at(99)))
        for model in mine:
            await uow.tars_models.add(model)
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.tars_models.list_for_developer(cat.developer.id, PageRequest(limit=3))
        assert first.next_cursor is not None
        second = await uow.tars_models.list_for_developer(
            cat.developer.id, PageRequest(limit=3, after=Cursor.decode(first.next_cursor))
        )
        empty = await uow.tars_models.list_for_developer(uuid.uuid4(), PageRequest())
    expected = [*reversed(mine), cat.tars_model]
    assert first.items + second.items == expected
    assert second.next_cursor is None
    assert empty.items == [] and empty.next_cursor is None


async def test_marketplace_lists_only_live_published_models(
    uow_factory: UnitOfWorkFactory,
) -> None:
    cat = await seed_catalog(uow_factory)  # published at T0, IMAGE
    dev = cat.developer
    dead_ep = endpoint(is_active=False)
    audio = base_model(cat.endpoint.id, category=ModelCategory.AUDIO)
    retired = base_model(cat.endpoint.id, is_active=False)
    on_dead = base_model(dead_ep.id)
    # Published order differs from creation order: the list follows published_at.
    newest = published(dev.id, audio.id, at(50), created_at=at(-100))
    middle = published(dev.id, cat.base_model.id, at(20), created_at=at(100))
    hidden = [
        tars_model(dev.id, cat.base_model.id),
        tars_model(dev.id, cat.base_model.id, status=TarsModelStatus.ARCHIVED, published_at=at(1)),
        published(dev.id, retired.id, at(30)),
        published(dev.id, on_dead.id, at(40)),
    ]
    async with uow_factory() as uow:
        await uow.endpoints.add(dead_ep)
        for bm in (audio, retired, on_dead):
            await uow.base_models.add(bm)
        for model in (newest, middle, *hidden):
            await uow.tars_models.add(model)
        await uow.commit()
    async with uow_factory() as uow:
        page = await uow.tars_models.list_published(PageRequest())
        images = await uow.tars_models.list_published(PageRequest(), category=ModelCategory.IMAGE)
        videos = await uow.tars_models.list_published(PageRequest(), category=ModelCategory.VIDEO)
    assert [e.id for e in page.items] == [newest.id, middle.id, cat.tars_model.id]
    assert page.items[0] == MarketplaceListing(
        newest.id,
        newest.slug,
        newest.title,
        newest.description,
        audio.category,
        audio.output_type,
        audio.estimated_seconds,
        dev.name,
        newest.published_at,
    )
    assert {e.developer_name for e in page.items} == {dev.name}
    assert [e.id for e in images.items] == [middle.id, cat.tars_model.id]
    assert videos.items == [] and videos.next_cursor is None


async def test_marketplace_pages_by_published_at(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    models = [
        published(cat.developer.id, cat.base_model.id, at(i // 2), created_at=at(-i))
        for i in range(1, 10)
    ]
    async with uow_factory() as uow:
        for model in models:
            await uow.tars_models.add(model)
        await uow.commit()
    seen: list[uuid.UUID] = []
    cursor = None
    async with uow_factory() as uow:
        for _ in range(10):
            page = await uow.tars_models.list_published(PageRequest(limit=4, after=cursor))
            seen += [e.id for e in page.items]
            if page.next_cursor is None:
                break
            cursor = Cursor.decode(page.next_cursor)
    everything = [*models, cat.tars_model]
    everything.sort(key=lambda m: (m.published_at, m.id), reverse=True)
    assert seen == [m.id for m in everything]
